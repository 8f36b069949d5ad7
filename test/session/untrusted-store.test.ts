/**
 * The session store is outside the trust boundary (issue 15 §1, §2; CONTRACT "Behaviour the routes
 * share"): someone who can write to Redis but does not know the secret cannot change who is signed
 * in, with which claims, for how long, or with whose tokens; and an abandoned sign-in leaves
 * nothing that outlives it. Driven through auth() in a real app, with real Redis.
 */
import { jest } from '@jest/globals';
import { requiresClaim } from '../../src/index.js';
import { LOGIN_DEFAULTS } from '../../src/config/defaults.js';
import { startHostileIssuer } from '../support/hostile-issuer.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { accessTokenRoute, sessionIdOf, testPrefix, waitFor } from '../login/setup.js';
import { recordingLogger, type RecordingLogger } from '../support/redis.js';

const prefix = testPrefix('untrusted-store');
const COOKIE = 'oidc.sid';
const EMAIL = 'victim@example.com';

const logger: RecordingLogger = recordingLogger();
const app = useLoginApp({
  file: 'untrusted-store',
  prefix,
  issuer: async () => {
    const started = await startHostileIssuer();
    // Every user gets an email and a name; the token endpoint answers as the current `issuer.sub`.
    started.onToken = async (ctx) => {
      const answer = await ctx.valid();
      if (ctx.request.form.grant_type !== 'authorization_code') return { body: answer };
      const idToken = await ctx.idToken({ email: EMAIL, name: `Name of ${started.sub}` }, { accessToken: answer.access_token as string });
      return { body: { ...answer, id_token: idToken } };
    };
    return started;
  },
  auth: { clientSecret: 'hostile-client-secret', logger, session: { redis: 'redis://127.0.0.1:6379', prefix, absoluteDuration: 3600 } },
  routes: (web) => {
    web.get('/me', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
    });
    web.get('/admin', requiresClaim.equals('role', 'admin'), (_req, res) => {
      res.json({ admin: true });
    });
    web.get('/token', accessTokenRoute);
  },
});

afterEach(() => {
  jest.restoreAllMocks();
});

async function signIn(browser: Browser, sub: string, returnTo = '/me'): Promise<void> {
  app.issuer.sub = sub;
  const login = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent(returnTo)}`);
  const back = await browser.get(login.location!);
  const done = await browser.get(back.location!);
  expect(done.status).toBe(302);
}

function keyOf(browser: Browser): string {
  return `${prefix}sess:${sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value)}`;
}

async function me(browser: Browser): Promise<{ signedIn: boolean; sub: string | null }> {
  return JSON.parse((await browser.get(`${app.url}/me`)).text) as { signedIn: boolean; sub: string | null };
}

type Record_ = { cookie: unknown; oidc: { login?: unknown; pending?: unknown } };

/**
 * Rewrites the stored record (keeping its TTL), the way someone with write access to Redis would.
 * `edit` gets the signed-in part: an object when the store shows its fields, whatever else it is
 * otherwise (then the attacker can only replace it).
 */
async function tamper(key: string, edit: (login: unknown) => unknown): Promise<void> {
  const text = await app.redis.get(key);
  expect(text).not.toBeNull();
  const record = JSON.parse(text!) as Record_;
  record.oidc.login = edit(record.oidc.login);
  const ttl = await app.redis.pttl(key);
  await app.redis.set(key, JSON.stringify(record), 'PX', ttl);
}

/** Warnings logged from now on. */
function warningsFrom(start: number): RecordingLogger['lines'] {
  return logger.lines.slice(start).filter((line) => line.level === 'warn');
}

/** The one warning an untrusted record gives: it names no sub, claim, token or session id. */
function expectOneContentFreeWarning(start: number, secrets: string[]): void {
  const warnings = warningsFrom(start);
  expect(warnings).toHaveLength(1);
  const text = JSON.stringify(warnings[0]);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

/** The record's login, parsed for the forged old-format replacement an attacker can still write. */
function forgedLogin(login: unknown, changes: Record<string, unknown>): Record<string, unknown> {
  if (typeof login === 'object' && login !== null) {
    const plain = login as Record<string, unknown>;
    return { ...plain, ...changes, claims: { ...(plain.claims as object), ...(changes.claims as object | undefined) } };
  }
  // Sealed as a whole: nothing inside is readable; the best an attacker can do is write a login of
  // the old shape around the sealed value.
  return { sub: 'attacker', claims: { sub: 'attacker' }, tokens: login, createdAt: Date.now(), ...changes };
}

describe('issue 15 §1: a session record edited or copied in the store', () => {
  it('keeps the email, the name and the sub unreadable in Redis', async () => {
    const browser = new Browser();
    await signIn(browser, 'reader-user');
    expect(await me(browser)).toEqual({ signedIn: true, sub: 'reader-user' });
    const text = (await app.redis.get(keyOf(browser)))!;
    expect(text).not.toContain(EMAIL);
    expect(text).not.toContain('Name of reader-user');
    expect(text).not.toContain('reader-user');
  });

  it('signs out a record whose claims were edited (role: admin), with one warning that shows none of it', async () => {
    const browser = new Browser();
    await signIn(browser, 'claims-user');
    expect((await browser.get(`${app.url}/admin`)).status).toBe(403);
    const start = logger.lines.length;
    const key = keyOf(browser);
    await tamper(key, (login) => forgedLogin(login, { claims: { role: 'admin' } }));
    // The local cache drops the key on Redis's invalidation message: poll for its effect.
    await waitFor(async () => !(await me(browser)).signedIn, 5000, 'the edited record to read as signed out');
    expect((await browser.get(`${app.url}/admin`)).status).not.toBe(200);
    expect(await me(browser)).toEqual({ signedIn: false, sub: null });
    expectOneContentFreeWarning(start, ['claims-user', EMAIL, 'admin', sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value)]);
  });

  it('signs out a record whose sign-in time was reset to escape the absolute lifetime', async () => {
    const browser = new Browser();
    await signIn(browser, 'lifetime-user');
    const control = new Browser();
    await signIn(control, 'lifetime-control');
    const later = Date.now() + 2 * 3600 * 1000; // past absoluteDuration (3600 s)
    const start = logger.lines.length;
    await tamper(keyOf(browser), (login) => forgedLogin(login, { createdAt: later - 60_000 }));
    const realNow = Date.now.bind(Date);
    const shift = later - realNow();
    jest.spyOn(Date, 'now').mockImplementation(() => realNow() + shift);
    // The clock moved past the lifetime: the untouched session ended...
    expect((await me(control)).signedIn).toBe(false);
    // ...and so did the one whose record says it began a minute ago.
    expect((await me(browser)).signedIn).toBe(false);
    expect(warningsFrom(start).length).toBeLessThanOrEqual(1);
  });

  it("does not hand out another user's access token pasted into one's own record", async () => {
    const victim = new Browser();
    await signIn(victim, 'victim-user');
    const victimToken = (JSON.parse((await victim.get(`${app.url}/token`)).text) as { token: string }).token;
    expect(victimToken).toMatch(/^at-/);
    const victimLogin = (JSON.parse((await app.redis.get(keyOf(victim)))!) as Record_).oidc.login;

    const attacker = new Browser();
    await signIn(attacker, 'attacker-user');
    const start = logger.lines.length;
    // The victim's sealed tokens (or the whole sealed sign-in) in the attacker's record.
    await tamper(keyOf(attacker), (login) =>
      typeof login === 'object' && login !== null
        ? { ...(login as object), tokens: (victimLogin as { tokens: unknown }).tokens }
        : victimLogin,
    );
    await waitFor(async () => !(await me(attacker)).signedIn, 5000, 'the pasted record to read as signed out');
    const answer = await attacker.get(`${app.url}/token`);
    expect(answer.text).not.toContain(victimToken);
    expect(answer.status).not.toBe(200);
    expectOneContentFreeWarning(start, [victimToken, 'victim-user', 'attacker-user', EMAIL]);
  });

  it("signs out a browser whose record was replaced by a copy of another session's record", async () => {
    const victim = new Browser();
    await signIn(victim, 'copied-user');
    const attacker = new Browser();
    await signIn(attacker, 'copier-user');
    const start = logger.lines.length;
    await app.redis.set(keyOf(attacker), (await app.redis.get(keyOf(victim)))!, 'EX', 600);
    await waitFor(async () => (await me(attacker)).sub !== 'copier-user', 5000, 'the copy to be read');
    expect(await me(attacker)).toEqual({ signedIn: false, sub: null });
    expect(await me(victim)).toEqual({ signedIn: true, sub: 'copied-user' });
    expectOneContentFreeWarning(start, ['copied-user', 'copier-user', EMAIL]);
  });
});

describe('issue 15 §2: abandoned sign-ins', () => {
  const pendingTtl = LOGIN_DEFAULTS.pendingLoginTtlSeconds;

  it('gives the record of a /login never completed no longer than the pending-login lifetime', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/login?returnTo=/me`);
    expect(hop.status).toBe(302);
    const key = keyOf(browser);
    const ttl = await app.redis.ttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(pendingTtl);
    // The cookie does not outlive it either.
    expect(hop.headers.get('set-cookie')).toMatch(/Expires=/i);
    const expires = Date.parse(/Expires=([^;]+)/i.exec(hop.headers.get('set-cookie')!)![1]!);
    expect(expires).toBeLessThanOrEqual(Date.now() + pendingTtl * 1000 + 1000);
  });

  it('keeps that bound with a long returnTo, and for the second tab of the same browser', async () => {
    const browser = new Browser();
    await browser.get(`${app.url}/login?returnTo=${encodeURIComponent(`/me?x=${'a'.repeat(2000)}`)}`);
    await browser.get(`${app.url}/login?returnTo=/me`);
    const ttl = await app.redis.ttl(keyOf(browser));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(pendingTtl);
  });

  it('gives a signed-in session starting another sign-in its full lifetime', async () => {
    const browser = new Browser();
    await signIn(browser, 'step-up-user');
    await browser.get(`${app.url}/login?returnTo=/me`);
    expect(await app.redis.ttl(keyOf(browser))).toBeGreaterThan(pendingTtl);
    expect((await me(browser)).signedIn).toBe(true);
  });

  it('completes two sign-ins started in two tabs, in either order, after both were started', async () => {
    for (const order of [
      [0, 1],
      [1, 0],
    ]) {
      const browser = new Browser();
      app.issuer.sub = 'two-tabs-user';
      const first = await browser.get(`${app.url}/login?returnTo=/me?tab=0`);
      const second = await browser.get(`${app.url}/login?returnTo=/me?tab=1`);
      const backs = [await browser.get(first.location!), await browser.get(second.location!)];
      for (const tab of order) {
        const done = await browser.get(backs[tab]!.location!);
        expect(done.status).toBe(302);
        expect(done.location).toBe(`${app.url}/me?tab=${tab}`);
      }
      expect(await me(browser)).toEqual({ signedIn: true, sub: 'two-tabs-user' });
    }
  });

  it('keeps at most the newest pending logins of one session', async () => {
    const browser = new Browser();
    const starts = [];
    for (let i = 0; i < LOGIN_DEFAULTS.maxPendingLogins + 3; i++) starts.push(await browser.get(`${app.url}/login?returnTo=/me?n=${i}`));
    const record = JSON.parse((await app.redis.get(keyOf(browser)))!) as Record_;
    expect((record.oidc.pending as unknown[]).length).toBe(LOGIN_DEFAULTS.maxPendingLogins);
    // The oldest was dropped; the newest still completes.
    const oldest = await browser.get((await browser.get(starts[0]!.location!)).location!);
    expect(oldest.status).toBe(400);
    const newest = await browser.get((await browser.get(starts.at(-1)!.location!)).location!);
    expect(newest.status).toBe(302);
  });
});
