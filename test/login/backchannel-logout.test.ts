/**
 * OpenID Connect Back-Channel Logout 1.0 §2.5-§2.8: the receiver ends exactly the sessions a
 * valid logout token names, refuses everything else with 400 invalid_request, and refuses replays.
 */
import { createHash } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import type { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import { auth, requiresAuth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { recordingLogger } from '../support/redis.js';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { expectLoginRedirect, startLoginApp, type LoginApp } from './setup.js';

const CLIENT_SECRET = 'hostile-client-secret';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
let app: LoginApp;
let issuer: HostileIssuer;
let oidc: AuthRouter;
let redis: Redis;
let jtiCounter = 0;

/** An app at the scripted issuer with a protected `/profile`. */
function startProfileApp(session?: AuthOptions['session']): Promise<LoginApp> {
  return startLoginApp({
    issuer,
    prefix,
    auth: { clientSecret: CLIENT_SECRET, ...(session ? { session } : {}) },
    app: (router) =>
      express()
        .use(router)
        .get('/profile', requiresAuth(), (req, res) => {
          res.json({ sub: req.oidc.user?.sub });
        }),
  });
}

const handle = useLoginApp({
  file: 'backchannel',
  auth: { clientSecret: CLIENT_SECRET },
  routes: (routes) => {
    routes.get('/profile', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    });
  },
});
const prefix = handle.prefix;

beforeAll(() => {
  redis = handle.redis;
  issuer = handle.issuer;
  app = handle.app;
  oidc = app.oidc;
});

async function signInAs(sub: string, sid: string): Promise<Browser> {
  issuer.sub = sub;
  issuer.sid = sid;
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login`);
  const back = await browser.get(login.location!);
  expect((await browser.get(back.location!)).status).toBe(302);
  return browser;
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function logoutClaims(extra: Record<string, unknown> = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer.issuer,
    aud: issuer.clientId,
    iat: now,
    exp: now + 120,
    jti: `jti-${++jtiCounter}-${Date.now()}`,
    events: { [EVENT]: {} },
    ...extra,
  };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete claims[k];
  return claims;
}

async function post(form: Record<string, string>): Promise<{ status: number; body: unknown; cacheControl: string | null }> {
  const res = await fetch(`${app.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, cacheControl: res.headers.get('cache-control') };
}

async function signedIn(browser: Browser): Promise<boolean> {
  return (await browser.get(`${app.url}/profile`)).status === 200;
}

describe('valid logout tokens', () => {
  it('ends exactly the session with the sid', async () => {
    const a1 = await signInAs('user-a', 'sid-a1');
    const a2 = await signInAs('user-a', 'sid-a2');
    const b = await signInAs('user-b', 'sid-b');
    const answer = await post({ logout_token: await issuer.sign(logoutClaims({ sid: 'sid-a1', sub: 'user-a' }), { typ: 'logout+jwt' }) });
    expect(answer.status).toBe(200);
    expect(answer.cacheControl).toContain('no-store');
    expectLoginRedirect(await a1.get(`${app.url}/profile`), '/profile');
    expect(await signedIn(a2)).toBe(true);
    expect(await signedIn(b)).toBe(true);
  });

  it('ends every session of the sub when there is no sid', async () => {
    const c1 = await signInAs('user-c', 'sid-c1');
    const c2 = await signInAs('user-c', 'sid-c2');
    const d = await signInAs('user-d', 'sid-d');
    expect((await oidc.sessions.listBySub('user-c')).length).toBe(2);
    const answer = await post({ logout_token: await issuer.sign(logoutClaims({ sub: 'user-c' })) });
    expect(answer.status).toBe(200);
    expect(await signedIn(c1)).toBe(false);
    expect(await signedIn(c2)).toBe(false);
    expect(await signedIn(d)).toBe(true);
    expect(await oidc.sessions.listBySub('user-c')).toEqual([]);
  });

  it('answers 200 for a user with no sessions here', async () => {
    expect((await post({ logout_token: await issuer.sign(logoutClaims({ sub: 'nobody' })) })).status).toBe(200);
  });

  it('accepts an iat within the bound (5 minutes, plus clockTolerance)', async () => {
    const token = await issuer.sign(logoutClaims({ sub: 'user-g', iat: nowS() - 280, exp: nowS() + 60 }));
    expect((await post({ logout_token: token })).status).toBe(200);
  });

  it('remembers the jti until the token expires, however far off its exp', async () => {
    const claims = logoutClaims({ sub: 'user-h', exp: nowS() + 3600 });
    expect((await post({ logout_token: await issuer.sign(claims) })).status).toBe(200);
    const key = `${prefix}bcl-jti:${createHash('sha256')
      .update(`${issuer.issuer}\0${String(claims.jti)}`, 'utf8')
      .digest('base64url')}`;
    // Until exp plus clockTolerance (60 s): the token stays refused as a replay as long as it is valid.
    expect(await redis.pttl(key)).toBeGreaterThan((3600 + 60 - 30) * 1000);
  });

  it('refuses a replayed logout token (same jti)', async () => {
    const token = await issuer.sign(logoutClaims({ sub: 'user-e' }));
    expect((await post({ logout_token: token })).status).toBe(200);
    const replay = await post({ logout_token: token });
    expect(replay.status).toBe(400);
    expect(replay.body).toEqual({ error: 'invalid_request', error_description: 'The logout token was already used.' });
  });
});

describe('invalid logout requests (§2.6)', () => {
  const cases: [string, () => Promise<Record<string, string>>][] = [
    ['no logout_token', async () => ({})],
    ['an empty logout_token', async () => ({ logout_token: '' })],
    ['a token that is not a JWT', async () => ({ logout_token: 'not-a-jwt' })],
    [
      'a bad signature',
      async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x' }), { key: await issuer.newKey(issuer.currentKey.kid) }) }),
    ],
    ['another issuer', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', iss: 'https://evil.example' })) })],
    ['another audience', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', aud: 'other-client' })) })],
    ['no iat', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', iat: undefined })) })],
    ['an expired token', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', iat: 1000, exp: 2000 })) })],
    // §2.4: exp is REQUIRED.
    ['no exp', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', exp: undefined })) })],
    // Older than LOGIN_DEFAULTS.logoutTokenMaxAgeSeconds (300) plus clockTolerance (60), though not expired.
    [
      'an iat older than the bound',
      async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', iat: nowS() - 361, exp: nowS() + 120 })) }),
    ],
    [
      'an iat in the future',
      async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', iat: nowS() + 600, exp: nowS() + 720 })) }),
    ],
    ['no jti', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', jti: undefined })) })],
    ['no events claim', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', events: undefined })) })],
    ['another event', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', events: { 'urn:other': {} } })) })],
    ['a nonce', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', nonce: 'n' })) })],
    ['neither sub nor sid', async () => ({ logout_token: await issuer.sign(logoutClaims()) })],
    ['a non-string sid', async () => ({ logout_token: await issuer.sign(logoutClaims({ sid: 42 })) })],
    ['an ID token instead', async () => ({ logout_token: await issuer.sign(logoutClaims({ sub: 'x', events: undefined, nonce: 'n' })) })],
  ];

  it.each(cases)('answers 400 invalid_request for %s, ending no session', async (_name, form) => {
    const victim = await signInAs('victim', 'sid-victim');
    const answer = await post(await form());
    expect(answer.status).toBe(400);
    expect(answer.cacheControl).toContain('no-store');
    expect(answer.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    expect(await signedIn(victim)).toBe(true);
  });

  it('does not let a refused token reach the replay list (its jti stays usable)', async () => {
    const claims = logoutClaims({ sub: 'user-f', aud: 'other-client' });
    expect((await post({ logout_token: await issuer.sign(claims) })).status).toBe(400);
    const good = await issuer.sign({ ...claims, aud: issuer.clientId });
    expect((await post({ logout_token: good })).status).toBe(200);
  });
});

describe('sessions admin API', () => {
  it('destroyAllForSub ends every session of a user', async () => {
    const g1 = await signInAs('user-g', 'sid-g1');
    const g2 = await signInAs('user-g', 'sid-g2');
    expect(await oidc.sessions.destroyAllForSub('user-g')).toBe(2);
    expect(await signedIn(g1)).toBe(false);
    expect(await signedIn(g2)).toBe(false);
  });

  it('destroy ends one session by id', async () => {
    const h = await signInAs('user-h', 'sid-h');
    const [id] = await oidc.sessions.listBySub('user-h');
    await oidc.sessions.destroy(id!);
    expect(await signedIn(h)).toBe(false);
  });

  it('logout removes the session from the index', async () => {
    const i = await signInAs('user-i', 'sid-i');
    expect((await oidc.sessions.listBySub('user-i')).length).toBe(1);
    await i.get(`${app.url}/logout`);
    expect(await oidc.sessions.listBySub('user-i')).toEqual([]);
  });
});

describe('without Redis (session.allowMemoryStore, one process)', () => {
  let memApp: LoginApp;
  let memOidc: AuthRouter;
  beforeAll(async () => {
    memApp = await startProfileApp({ allowMemoryStore: true });
    memOidc = memApp.oidc;
  });
  afterAll(async () => {
    await memApp.close();
  });

  const postTo = async (form: Record<string, string>) => {
    const res = await fetch(`${memApp.url}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
  };
  const signInHere = async (sub: string, sid: string) => {
    issuer.sub = sub;
    issuer.sid = sid;
    const browser = new Browser();
    const login = await browser.get(`${memApp.url}/login`);
    const back = await browser.get(login.location!);
    expect((await browser.get(back.location!)).status).toBe(302);
    return browser;
  };

  it('ends the named session, keeps the others, and refuses a replay', async () => {
    const m1 = await signInHere('mem-user', 'mem-sid-1');
    const m2 = await signInHere('mem-user', 'mem-sid-2');
    const token = await issuer.sign(logoutClaims({ sid: 'mem-sid-1', sub: 'mem-user' }));
    expect((await postTo({ logout_token: token })).status).toBe(200);
    expectLoginRedirect(await m1.get(`${memApp.url}/profile`), '/profile');
    expect((await m2.get(`${memApp.url}/profile`)).status).toBe(200);
    expect(await postTo({ logout_token: token })).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'The logout token was already used.' },
    });
    expect(await memOidc.sessions.listBySub('mem-user')).toHaveLength(1);
  });

  it('answers 400 invalid_request for garbage', async () => {
    const answer = await postTo({ logout_token: 'garbage' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request' });
  });
});

describe('onLogoutToken (apps that keep sessions elsewhere)', () => {
  const seen: Record<string, unknown>[] = [];
  let fail = false;
  let hookApp: LoginApp;

  beforeAll(async () => {
    // The app's own express-session (one process): the hook does the app's own bookkeeping.
    hookApp = await startLoginApp({
      issuer,
      prefix,
      auth: {
        clientSecret: CLIENT_SECRET,
        useExistingSession: true,
        session: { allowMemoryStore: true },
        onLogoutToken: (claims) => {
          if (fail) throw new Error('the app could not end its sessions');
          seen.push(claims);
        },
      },
      app: (router) =>
        express()
          .use(session({ secret: 'elsewhere-secret', resave: false, saveUninitialized: false }))
          .use(router),
    });
  });
  afterAll(async () => {
    await hookApp.close();
  });

  const postHere = async (token: string) => {
    const res = await fetch(`${hookApp.url}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
  };

  it('is called with the claims of each valid, unused logout token', async () => {
    const claims = logoutClaims({ sub: 'elsewhere-user', sid: 'elsewhere-sid' });
    expect((await postHere(await issuer.sign(claims))).status).toBe(200);
    expect(seen).toEqual([expect.objectContaining({ sub: 'elsewhere-user', sid: 'elsewhere-sid', jti: claims.jti, iss: issuer.issuer })]);
    // A replay and an invalid token never reach it.
    expect((await postHere(await issuer.sign(claims))).status).toBe(400);
    expect((await postHere(await issuer.sign(logoutClaims({ sub: 'x', exp: undefined })))).status).toBe(400);
    expect(seen).toHaveLength(1);
  });

  it('answers the issuer 400 when it throws', async () => {
    fail = true;
    try {
      const answer = await postHere(await issuer.sign(logoutClaims({ sub: 'elsewhere-user' })));
      expect(answer).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'The logout request failed.' } });
    } finally {
      fail = false;
    }
  });
});

describe('backchannelLogout.allowMissingExp (logout tokens of draft-06 issuers, such as Glewlwyd 2.7)', () => {
  let lenientApp: LoginApp;
  const log = recordingLogger();

  beforeAll(async () => {
    lenientApp = await startLoginApp({
      issuer,
      prefix,
      auth: { clientSecret: CLIENT_SECRET, logger: log, backchannelLogout: { allowMissingExp: true } },
      app: (router) =>
        express()
          .use(router)
          .get('/profile', requiresAuth(), (req, res) => {
            res.json({ sub: req.oidc.user?.sub });
          }),
    });
  });
  afterAll(async () => {
    await lenientApp.close();
  });

  const postLenient = async (token: string) => {
    const res = await fetch(`${lenientApp.url}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    });
    return { status: res.status, body: (await res.json().catch(() => undefined)) as unknown };
  };
  const signInLenient = async (sub: string, sid: string) => {
    issuer.sub = sub;
    issuer.sid = sid;
    const browser = new Browser();
    const login = await browser.get(`${lenientApp.url}/login`);
    const back = await browser.get(login.location!);
    expect((await browser.get(back.location!)).status).toBe(302);
    return browser;
  };
  const jtiKey = (jti: unknown) =>
    `${prefix}bcl-jti:${createHash('sha256')
      .update(`${issuer.issuer}\0${String(jti)}`, 'utf8')
      .digest('base64url')}`;

  it('is off by default: a token without exp is refused with a short reason, ending no session', async () => {
    const victim = await signInAs('no-exp-user', 'no-exp-sid');
    const answer = await post({ logout_token: await issuer.sign(logoutClaims({ sub: 'no-exp-user', sid: 'no-exp-sid', exp: undefined })) });
    expect(answer).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'The logout token has no exp.' },
      cacheControl: expect.stringContaining('no-store'),
    });
    expect(await signedIn(victim)).toBe(true);
  });

  it('says at start-up that logout tokens without exp are accepted', () => {
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: expect.stringContaining('backchannelLogout.allowMissingExp') }),
    );
  });

  it('accepts a token without exp whose iat is recent, and ends the session it names', async () => {
    const browser = await signInLenient('lenient-user', 'lenient-sid');
    const other = await signInLenient('lenient-user', 'lenient-sid-2');
    expect((await browser.get(`${lenientApp.url}/profile`)).status).toBe(200);
    const answer = await postLenient(await issuer.sign(logoutClaims({ sub: 'lenient-user', sid: 'lenient-sid', exp: undefined })));
    expect(answer.status).toBe(200);
    expectLoginRedirect(await browser.get(`${lenientApp.url}/profile`), '/profile');
    expect((await other.get(`${lenientApp.url}/profile`)).status).toBe(200);
  });

  it('remembers its jti until iat + 5 minutes + clockTolerance, and refuses its replay', async () => {
    const claims = logoutClaims({ sub: 'lenient-replay', exp: undefined, iat: nowS() - 100 });
    const token = await issuer.sign(claims);
    expect((await postLenient(token)).status).toBe(200);
    // iat + 300 s + 60 s (clockTolerance), from now: about 260 s.
    const ttl = await redis.pttl(jtiKey(claims.jti));
    expect(ttl).toBeGreaterThan(250_000);
    expect(ttl).toBeLessThanOrEqual(261_000);
    expect(await postLenient(token)).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: 'The logout token was already used.' },
    });
  });

  it('refuses a token without exp whose iat is older than the bound, or in the future', async () => {
    const victim = await signInLenient('lenient-victim', 'lenient-victim-sid');
    for (const iat of [nowS() - 361, nowS() + 600]) {
      const answer = await postLenient(await issuer.sign(logoutClaims({ sub: 'lenient-victim', exp: undefined, iat })));
      expect(answer).toEqual({ status: 400, body: { error: 'invalid_request', error_description: expect.any(String) } });
    }
    expect((await victim.get(`${lenientApp.url}/profile`)).status).toBe(200);
  });

  it('still checks an exp that is there (an expired token is refused)', async () => {
    const answer = await postLenient(await issuer.sign(logoutClaims({ sub: 'lenient-victim', iat: nowS() - 100, exp: nowS() - 90 })));
    expect(answer).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'The logout token is not valid.' } });
  });

  it("is checked at start-up: a non-boolean, an unknown key, true/false, and express-openid-connect's hooks", () => {
    const options = (backchannelLogout: unknown): AuthOptions =>
      ({
        issuerBaseURL: issuer.issuer,
        baseURL: app.url,
        clientID: 'c',
        clientSecret: CLIENT_SECRET,
        secret: 'x'.repeat(32),
        session: { allowMemoryStore: true },
        backchannelLogout,
      }) as AuthOptions;
    expect(() => auth(options({ allowMissingExp: 'yes' }))).toThrow('Option "backchannelLogout.allowMissingExp" must be true or false.');
    expect(() => auth(options({ allowMissingEx: true }))).toThrow(
      'Option "backchannelLogout.allowMissingEx" is not a known option. Did you mean "backchannelLogout.allowMissingExp"?',
    );
    expect(() => auth(options(false))).toThrow(/"backchannelLogout".*routes\.backchannelLogout: false/);
    expect(() => auth(options({ onLogoutToken: () => undefined }))).toThrow(
      'Option "backchannelLogout.onLogoutToken" is not supported: use the top-level "onLogoutToken".',
    );
  });
});
