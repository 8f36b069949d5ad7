/**
 * Response hygiene over a whole session of the example app (embedded IdP, real Redis):
 * `Cache-Control: no-store` on /login, /callback, /logout and every token-bearing answer,
 * `Referrer-Policy: no-referrer` on every /callback answer, and no secret in any log line: the
 * `logger` given to auth() and requireBearer() and the process's own stdout and stderr are
 * captured through sign-in, refresh, logout, back-channel logout and failures, then searched for
 * every token, code, code_verifier, state, nonce, client secret, session secret and cookie value.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startServer, type RunningServer } from '../../example-app/listen.js';
import { createSealer } from '../../src/session/seal.js';
import {
  CookieJar,
  request,
  signIn,
  startLogin,
  authorizeAtIdp,
  follow,
  formAction,
  hiddenInputs,
  type Page,
} from '../example-app/helpers/browserless.js';
import { recordingLogger } from '../example-app/helpers/app.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { deletePrefix, eventually, REDIS_URL, sessionIdOf } from './helpers.js';
import { openLogin } from '../session/stored-login.js';

const prefix = `test:reliability:hygiene:${randomBytes(4).toString('hex')}:`;
const SESSION_SECRET = randomBytes(32).toString('base64url');
const CLIENT_SECRET = `client-${randomBytes(16).toString('hex')}`;
/** AAD of sealed pending logins (src/login/transactions.ts). */
const TX_AAD = 'oidc-guard pending login';
const logger = recordingLogger();
/** Access token lifetime at the embedded IdP: each /profile after it ran out refreshes. */
const TTL = 2;
const printed: string[] = [];
let running: RunningServer;
let redis: Redis;
let restore: () => void;
/** Every secret value seen during the run. */
const secrets = new Set<string>();
/** The session's access token as last collected (older ones expired: the IdP's live TTL seconds). */
let latestAccessToken: string | undefined;
const pages: Page[] = [];

beforeAll(async () => {
  // Capture what the process itself prints, next to the logger.
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed.push(String(chunk));
    return out(chunk as never, ...(rest as []));
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    printed.push(String(chunk));
    return err(chunk as never, ...(rest as []));
  }) as typeof process.stderr.write;
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  running = await startServer(
    { PORT: '0', HOST: '127.0.0.1', REDIS_URL, SESSION_SECRET, CLIENT_SECRET },
    { sessionPrefix: prefix, logger, idpAccessTokenTtlSeconds: TTL },
  );
  await eventually(
    () => fetch(`${running.url}/healthz`),
    (res) => res.status === 200,
    15_000,
    'Redis',
  );
  secrets.add(SESSION_SECRET);
  secrets.add(CLIENT_SECRET);
});

afterAll(async () => {
  restore();
  await running.close({ drainMs: 0 });
  await deletePrefix(redis, prefix);
  await redis.quit();
});

const sealer = createSealer([SESSION_SECRET], 'express-oidc-guard session v1');

/** Adds the session's tokens (unsealed from Redis), pending logins and cookie to `secrets`. */
async function collect(jar: CookieJar): Promise<void> {
  const cookie = jar.get(running.url, 'oidc.sid');
  if (!cookie) return;
  secrets.add(cookie);
  secrets.add(decodeURIComponent(cookie));
  const raw = await redis.get(`${prefix}sess:${sessionIdOf(cookie)}`);
  if (!raw) return;
  const oidc = (JSON.parse(raw) as { oidc?: { login?: string; pending?: { sealed: string }[] } }).oidc;
  const tokens = oidc?.login
    ? (openLogin(oidc.login, sessionIdOf(cookie), SESSION_SECRET).tokens as unknown as Record<string, string>)
    : undefined;
  latestAccessToken = tokens?.access_token ?? latestAccessToken;
  for (const name of ['access_token', 'refresh_token', 'id_token'] as const) {
    const value = tokens?.[name];
    if (value) {
      secrets.add(value);
      if (value.split('.').length === 3) secrets.add(value.split('.')[2]!); // a signature alone
    }
  }
  for (const record of oidc?.pending ?? []) {
    const pending = sealer.unseal<Record<string, string>>(record.sealed, TX_AAD);
    for (const name of ['state', 'nonce', 'codeVerifier'] as const) if (pending?.[name]) secrets.add(pending[name]!);
  }
}

async function get(jar: CookieJar, path: string, headers?: Record<string, string>): Promise<Page> {
  const page = await request(jar, `${running.url}${path}`, headers ? { headers } : {});
  pages.push(page);
  return page;
}

describe('a whole session, with failures', () => {
  it('sends no-store and no-referrer where they belong', async () => {
    // Sign in (keeping the authorization request's state, nonce and the code).
    const jar = new CookieJar();
    const authorize = await startLogin(jar, running.url, '/profile');
    await collect(jar);
    for (const name of ['state', 'nonce', 'code_challenge']) secrets.add(authorize.searchParams.get(name)!);
    const back = await authorizeAtIdp(jar, authorize, `${running.url}/callback`);
    secrets.add(back.searchParams.get('code')!);
    const callback = await get(jar, `${back.pathname}${back.search}`);
    expect(callback.status).toBe(302);
    await collect(jar);

    // Refreshes (each view after the TTL-second token expired), page views, the API.
    for (let i = 0; i < 3; i += 1) {
      await pastExpiryOfTokensFromNow(TTL);
      expect((await get(jar, '/profile')).status).toBe(200);
      await collect(jar);
    }
    const accessToken = latestAccessToken!;
    const api = await fetch(`${running.url}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(api.status).toBe(200);
    expect(api.headers.get('cache-control')).toBe('no-store');

    // Failures: replayed and forged callbacks, a bad token, a bad back-channel logout.
    const replay = await get(jar, `${back.pathname}${back.search}`);
    expect(replay.status).toBe(400);
    expect(
      (await get(new CookieJar(), `/callback?code=${back.searchParams.get('code')}&state=${authorize.searchParams.get('state')}`)).status,
    ).toBe(400);
    expect((await get(jar, '/callback?error=access_denied&state=nope')).status).toBe(400);
    const bad = await fetch(`${running.url}/api/me`, { headers: { authorization: `Bearer ${accessToken.slice(0, -4)}AAAA` } });
    expect(bad.status).toBe(401);
    const forgedLogout = await fetch(`${running.url}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: accessToken }),
    });
    expect(forgedLogout.status).toBe(400);
    expect(forgedLogout.headers.get('cache-control')).toContain('no-store');

    // Logout here and at the IdP; then a second session ended by back-channel logout.
    const logout = await get(jar, '/logout');
    expect(logout.status).toBe(302);
    const jar2 = new CookieJar();
    expect((await signIn(jar2, running.url, { returnTo: '/profile' })).callback.status).toBe(302);
    await collect(jar2);
    const out = await get(jar2, '/logout');
    const confirm = await follow(jar2, await request(jar2, out.location!), (url) => url.startsWith(running.url));
    const action = formAction(confirm, /\/session\/end\/confirm$/);
    if (action) {
      await follow(jar2, await request(jar2, action, { form: { ...hiddenInputs(confirm), logout: 'yes' } }), (url) =>
        url.startsWith(running.url),
      );
    }
    // A third session, ended only by the IdP's back-channel logout (RP-initiated at the IdP).
    const jar3 = new CookieJar();
    expect((await signIn(jar3, running.url, { returnTo: '/profile' })).callback.status).toBe(302);
    await collect(jar3);
    const key3 = `${prefix}sess:${sessionIdOf(jar3.get(running.url, 'oidc.sid'))}`;
    // Signed out at the IdP directly: only the back channel tells the app.
    const confirm3 = await follow(jar3, await request(jar3, `${running.example.issuer}/session/end`));
    const action3 = formAction(confirm3, /\/session\/end\/confirm$/);
    expect(action3).toBeDefined();
    await follow(jar3, await request(jar3, action3!, { form: { ...hiddenInputs(confirm3), logout: 'yes' } }), (url) =>
      url.startsWith(running.url),
    );
    await eventually(
      () => redis.exists(key3),
      (n) => n === 0,
      10_000,
      'back-channel logout to end the session',
    );

    for (const page of pages) {
      const path = new URL(page.url).pathname;
      if (['/login', '/callback', '/logout', '/profile'].includes(path)) {
        expect({ path, cacheControl: page.headers.get('cache-control') }).toEqual({
          path,
          cacheControl: expect.stringContaining('no-store'),
        });
      }
      if (path === '/callback')
        expect({ path, status: page.status, referrer: page.headers.get('referrer-policy') }).toEqual({
          path,
          status: page.status,
          referrer: 'no-referrer',
        });
    }
    expect(pages.filter((page) => new URL(page.url).pathname === '/callback').length).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('logs and prints none of the secrets it handled', () => {
    expect(secrets.size).toBeGreaterThan(10);
    const lines = [...logger.lines, ...printed.join('').split('\n')];
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const secret of secrets) {
      if (secret.length < 8) continue;
      const hit = lines.find((line) => line.includes(secret));
      expect({ secret: `${secret.slice(0, 6)}…`, hit }).toEqual({ secret: `${secret.slice(0, 6)}…`, hit: undefined });
    }
  });
});
