/**
 * Property-based hostile input (fast-check) against the real auth() with a scripted issuer and a
 * real Redis: random and mutated /callback queries, forged cookies, returnTo values, and corrupted
 * session records written straight into Redis. For every input: no 5xx, no sign-in from forged
 * input, and no error reaching the app's final error handler (Express' default one never runs).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import fc from 'fast-check';
import { requiresAuth } from '../../src/index.js';
import { createSealer } from '../../src/session/seal.js';
import { useLoginApp } from '../support/login-app.js';
import { Browser } from '../support/browser.js';
import type { LoginApp } from '../login/setup.js';
import type { Redis } from 'ioredis';
import { sealSignedIn } from '../../src/login/session-data.js';

const OTHER_SECRET = 'another-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const RUNS = 120;
/** Errors that reached the app's last error handler: must stay empty. */
const escaped: unknown[] = [];
const handle = useLoginApp({
  file: 'reliability-hostile',
  auth: { clientSecret: 'hostile-client-secret', httpTimeout: 2000 },
  routes: (server) => {
    server.get('/', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated() });
    });
    server.get('/profile', requiresAuth({ accessToken: true }), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    });
    server.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
      escaped.push(err);
      res.status(599).end();
    });
  },
});
const prefix = handle.prefix;
let app: LoginApp;
let redis: Redis;

beforeAll(() => {
  redis = handle.redis;
  app = handle.app;
});

afterEach(() => {
  expect(escaped).toEqual([]);
});

async function signedIn(browser: Browser): Promise<boolean> {
  const hop = await browser.get(`${app.url}/`, { accept: 'application/json' });
  expect(hop.status).toBe(200);
  return (JSON.parse(hop.text) as { signedIn: boolean }).signedIn;
}

/** A browser with one sign-in in flight: the real state, code and iss of the issuer's answer. */
async function pendingLogin(): Promise<{ browser: Browser; state: string; code: string; iss: string }> {
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login`);
  expect(login.status).toBe(302);
  const back = new URL((await browser.get(login.location!)).location!);
  return { browser, state: back.searchParams.get('state')!, code: back.searchParams.get('code')!, iss: back.searchParams.get('iss')! };
}

async function signInFully(returnTo?: string): Promise<{ browser: Browser; landed: string }> {
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  expect(login.status).toBe(302);
  const back = await browser.get(login.location!);
  const callback = await browser.get(back.location!);
  expect(callback.status).toBe(302);
  return { browser, landed: callback.location! };
}

/** One value of a parameter: the real one, a mutation of it, random text, huge, or absent. */
function valueOf(real: string): fc.Arbitrary<string[] | undefined> {
  const mutated = fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([at, insert]) => {
    const i = at % (real.length + 1);
    return real.slice(0, i) + insert + real.slice(i + 1);
  });
  const one = fc.oneof(
    fc.constant(real),
    mutated,
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.constant(real.slice(0, Math.max(1, real.length - 1))),
    fc.constant('x'.repeat(6000)),
  );
  return fc.oneof(
    { weight: 4, arbitrary: one.map((v) => [v]) },
    { weight: 1, arbitrary: fc.tuple(one, one).map(([a, b]) => [a, b]) }, // duplicated parameter
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

describe('/callback with random and mutated queries (RFC 6749 §4.1.2, §10.12; RFC 9207)', () => {
  it('never answers 5xx, and signs in only with the real state and code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          mutate: fc.record({ state: fc.boolean(), code: fc.boolean(), iss: fc.boolean() }),
          extra: fc.option(
            fc.tuple(
              fc.constantFrom('error', 'error_description', 'session_state', 'response', 'oidc_resubmit', 'foo'),
              fc.string({ maxLength: 30 }),
            ),
          ),
          seed: fc.integer(),
        }),
        async ({ mutate, extra, seed }) => {
          const { browser, state, code, iss } = await pendingLogin();
          const pick = (real: string, on: boolean): string[] | undefined =>
            on ? fc.sample(valueOf(real), { numRuns: 1, seed })[0] : [real];
          const params = new URLSearchParams();
          const chosen = { state: pick(state, mutate.state), code: pick(code, mutate.code), iss: pick(iss, mutate.iss) };
          for (const [name, values] of Object.entries(chosen)) for (const v of values ?? []) params.append(name, v);
          if (extra) params.append(extra[0], extra[1]);
          const hop = await browser.get(`${app.url}/callback?${params}`);
          expect(hop.status).toBeLessThan(500);
          expect(hop.headers.get('referrer-policy')).toBe(hop.status === 431 ? null : 'no-referrer');
          const genuine = chosen.state?.length === 1 && chosen.state[0] === state && chosen.code?.length === 1 && chosen.code[0] === code;
          if (await signedIn(browser)) expect(genuine).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  }, 120_000);
});

describe('forged session cookies', () => {
  it('never answers 5xx and never signs in with anything but the exact cookie', async () => {
    const { browser } = await signInFully();
    const real = browser.cookies(app.url).get('oidc.sid')!.value;
    const id = /^s%3A([^.]+)\./.exec(real)![1]!;
    const signWith = (secret: string, value: string) =>
      `s:${value}.${createHmac('sha256', secret).update(value).digest('base64').replace(/=+$/, '')}`;
    const forged = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.nat({ max: real.length - 1 }).map((n) => real.slice(0, n)), // truncated
      fc.constant(encodeURIComponent(signWith(OTHER_SECRET, decodeURIComponent(id)))), // another secret
      fc.string({ minLength: 1, maxLength: 40 }).map((s) => encodeURIComponent(signWith(OTHER_SECRET, s))),
      fc.string({ maxLength: 40 }).map((s) => `s%3A${encodeURIComponent(s)}.${randomBytes(32).toString('base64url')}`),
      fc.nat({ max: real.length - 1 }).map((n) => real.slice(0, n) + (real[n] === 'A' ? 'B' : 'A') + real.slice(n + 1)), // one character changed
    );
    await fc.assert(
      fc.asyncProperty(forged, fc.constantFrom('/', '/profile', '/login', '/logout', '/callback?state=a&code=b'), async (value, path) => {
        // What a client can send at all: cookie-octets (RFC 6265 §4.1.1), no ';'.
        const cookie = `oidc.sid=${value.replace(/[^\x21-\x7e]|;/g, '')}`;
        const res = await fetch(`${app.url}${path}`, { headers: { cookie, accept: 'application/json' }, redirect: 'manual' });
        expect(res.status).toBeLessThan(500);
        if (path === '/') expect(((await res.json()) as { signedIn: boolean }).signedIn).toBe(cookie === `oidc.sid=${real}`);
        else if (path === '/profile') expect(res.status).toBe(cookie === `oidc.sid=${real}` ? 200 : 401);
      }),
      { numRuns: RUNS },
    );
    expect(await signedIn(browser)).toBe(true); // the real session was never harmed
  }, 120_000);
});

describe('returnTo (RFC 9700 §4.11: no open redirector)', () => {
  it('lands on a same-origin path whatever returnTo held', async () => {
    const evil = fc.constantFrom(
      '//evil.example',
      '/\\evil.example',
      'https://evil.example/',
      'javascript:alert(1)',
      '/%2F%2Fevil.example',
      '/\t/evil.example',
      '\\/evil.example',
      '/a\r\nSet-Cookie: x=y',
      `${'/'.repeat(3)}evil.example`,
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 60 }), fc.webUrl(), fc.webPath(), evil), async (returnTo) => {
        const { landed } = await signInFully(returnTo);
        const url = new URL(landed, app.url);
        expect(url.origin).toBe(new URL(app.url).origin);
        expect(landed.startsWith(`${app.url}/`)).toBe(true);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

describe('corrupted session records in Redis', () => {
  it('reads garbage, foreign or truncated ciphertext and wrong shapes as signed out: no 5xx, no sign-in', async () => {
    const { browser } = await signInFully();
    const id = /^s%3A([^.]+)\./.exec(browser.cookies(app.url).get('oidc.sid')!.value)![1]!;
    const key = `${prefix}sess:${decodeURIComponent(id)}`;
    const original = (await redis.get(key))!;
    const record = JSON.parse(original) as { cookie: unknown; oidc: { login: string } };
    const foreign = createSealer([OTHER_SECRET], 'express-oidc-guard session v1');
    const tokens = { access_token: 'a', token_type: 'Bearer', id_token: 'x.y.z', refresh_token: 'r' };
    const sealedElsewhere = sealSignedIn(
      foreign,
      { sub: 'x', claims: { sub: 'x' }, tokens, createdAt: Date.now() },
      decodeURIComponent(id),
    );
    const withLogin = (login: unknown) => JSON.stringify({ ...record, oidc: { login } });
    const corrupt = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constant(original.slice(0, Math.floor(original.length / 2))),
      fc.constant(withLogin(sealedElsewhere)),
      fc.constant(withLogin({ sub: 'x', claims: { sub: 'x' }, tokens: record.oidc.login, createdAt: Date.now() })),
      fc.nat({ max: record.oidc.login.length - 1 }).map((n) => withLogin(record.oidc.login.slice(0, n))),
      fc.anything().map((value) => withLogin(value)),
      fc
        .record(
          { sub: fc.anything(), sid: fc.anything(), tokens: fc.anything(), createdAt: fc.anything(), claims: fc.anything() },
          { requiredKeys: [] },
        )
        .map(withLogin),
      fc.anything().map((value) => JSON.stringify({ ...record, oidc: value })),
      fc.record({ login: fc.anything(), claims: fc.anything() }, { requiredKeys: [] }).map((oidc) => JSON.stringify({ ...record, oidc })),
      // Pending sign-ins of any shape (no signed-in record beside them).
      fc.anything().map((pending) => JSON.stringify({ ...record, oidc: { pending } })),
      fc
        .array(fc.record({ id: fc.anything(), sealed: fc.anything(), expiresAt: fc.anything() }, { requiredKeys: [] }))
        .map((pending) => JSON.stringify({ ...record, oidc: { pending } })),
      fc.anything().map((value) => JSON.stringify(value) ?? 'null'),
    );
    await fc.assert(
      fc.asyncProperty(corrupt, fc.constantFrom('/', '/profile', '/login', '/logout', '/callback?state=a&code=b'), async (value, path) => {
        await redis.set(key, value, 'EX', 60);
        const res = await fetch(`${app.url}${path}`, {
          headers: { cookie: `oidc.sid=${browser.cookies(app.url).get('oidc.sid')!.value}`, accept: 'application/json' },
          redirect: 'manual',
        });
        expect({ value, path, status: res.status }).toEqual({ value, path, status: expect.any(Number) });
        expect(res.status).toBeLessThan(500);
        if (path === '/') expect(((await res.json()) as { signedIn: boolean }).signedIn).toBe(false);
        if (path === '/profile') expect(res.status).toBe(401);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
