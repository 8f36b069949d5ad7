/**
 * Graceful shutdown of `npm start` (example-app/server.ts + listen.ts) on SIGTERM: the listening
 * socket closes at once (new connections are refused), a request in flight finishes with its
 * answer, refresh locks are released, Redis is closed, and the process exits 0 within a bound,
 * also when a request never finishes (it is cut at the drain deadline).
 *
 * The slow request is a /profile whose refresh grant the scripted issuer holds back.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { CookieJar, request, type Page } from '../example-app/helpers/browserless.js';
import {
  connectionRefused,
  eventually,
  exitCode,
  freePort,
  killApps,
  REDIS_URL,
  sessionIdOf,
  spawnApp,
  type AppProcess,
} from './helpers.js';
import { openLogin } from '../session/stored-login.js';

const SESSION_SECRET = randomBytes(32).toString('base64url');
/** server.ts's own hard limit is 10 s; the drain deadline 8 s. */
const EXIT_BOUND_MS = 12_000;
let issuer: HostileIssuer;
let redis: Redis;
/** Set while refresh grants are held back: resolves `arrived`, waits for `release`. */
let hold: { arrived(): void; release: Promise<void> } | undefined;

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  issuer = await startHostileIssuer({ clientId: 'example-app' });
  issuer.onToken = async (ctx) => {
    // Code grants give access tokens that expire at once, so the first /profile refreshes first;
    // refreshed ones live a while (the refresh margin is capped by the token lifetime).
    const body = { ...(await ctx.valid()), expires_in: ctx.request.form.grant_type === 'refresh_token' ? 3600 : 0 };
    if (ctx.request.form.grant_type === 'refresh_token' && hold) {
      const held = hold;
      held.arrived();
      await held.release;
    }
    return { body };
  };
});

afterEach(async () => {
  await killApps();
});

afterAll(async () => {
  await issuer.close();
  await redis.quit();
});

async function startApp(): Promise<{ app: AppProcess; port: number }> {
  const port = await freePort();
  const app = spawnApp({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER_BASE_URL: issuer.issuer,
    CLIENT_ID: 'example-app',
    CLIENT_SECRET: 'example-app-secret',
    REDIS_URL,
    SESSION_SECRET,
  });
  await app.listening();
  await eventually(
    () => fetch(`${app.url}/healthz`),
    (res) => res.status === 200,
    15_000,
    'Redis',
  );
  return { app, port };
}

async function signIn(base: string): Promise<{ jar: CookieJar; sessionId: string }> {
  const jar = new CookieJar();
  const login = await request(jar, `${base}/login?returnTo=/profile`);
  expect(login.status).toBe(302);
  const back = await request(jar, login.location!);
  const callback = await request(jar, back.location!);
  expect(callback.status).toBe(302);
  return { jar, sessionId: sessionIdOf(jar.get(base, 'oidc.sid')) };
}

/** Starts a /profile whose refresh the issuer holds; resolves once the refresh reached the issuer. */
async function slowProfile(jar: CookieJar, base: string): Promise<{ page: Promise<Page | Error>; release(): void }> {
  let release!: () => void;
  let arrived!: () => void;
  const reached = new Promise<void>((resolve) => (arrived = resolve));
  hold = { arrived, release: new Promise<void>((resolve) => (release = resolve)) };
  const page = request(jar, `${base}/profile`).catch((err: Error) => err);
  await reached;
  return {
    page,
    release: () => {
      hold = undefined;
      release();
    },
  };
}

describe('SIGTERM (example-app/server.ts)', () => {
  it('refuses new connections at once, lets the request in flight finish with 200, saves its refresh, and exits 0', async () => {
    const { app, port } = await startApp();
    const { jar, sessionId } = await signIn(app.url);
    const before = JSON.parse((await redis.get(`oidc:sess:${sessionId}`))!) as { oidc: { login: string } };

    const slow = await slowProfile(jar, app.url);
    const lockKey = `oidc:refresh:{${sessionId}}:lock`;
    expect(await redis.exists(lockKey)).toBe(1); // the refresh holds the session's lock
    const stoppedAt = Date.now();
    app.child.kill('SIGTERM');
    await eventually(
      () => connectionRefused(port),
      (refused) => refused,
      5000,
      'new connections to be refused',
    );
    expect(app.child.exitCode).toBeNull(); // still draining

    slow.release();
    const page = await slow.page;
    expect(page).not.toBeInstanceOf(Error);
    expect((page as Page).status).toBe(200);
    expect((page as Page).body).toContain('id="sub"');

    expect(await exitCode(app, EXIT_BOUND_MS)).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(EXIT_BOUND_MS);
    // The refreshed tokens reached the session; the lock is gone.
    const after = JSON.parse((await redis.get(`oidc:sess:${sessionId}`))!) as { oidc: { login: string } };
    expect(openLogin(after.oidc.login, sessionId, SESSION_SECRET).tokens).not.toEqual(
      openLogin(before.oidc.login, sessionId, SESSION_SECRET).tokens,
    );
    expect(await redis.exists(lockKey)).toBe(0);
    expect(app.stderr()).not.toMatch(/took too long|error while shutting down/);
  }, 60_000);

  it('with an issuer that never answers the refresh: the request ends (a 5xx page at the HTTP timeout, or cut at the drain deadline), the lock is released, and it exits 0 within the bound', async () => {
    const { app } = await startApp();
    const { jar, sessionId } = await signIn(app.url);
    const slow = await slowProfile(jar, app.url);
    const lockKey = `oidc:refresh:{${sessionId}}:lock`;
    expect(await redis.exists(lockKey)).toBe(1);
    try {
      const stoppedAt = Date.now();
      app.child.kill('SIGTERM');
      expect(await exitCode(app, EXIT_BOUND_MS)).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(EXIT_BOUND_MS);
      // The held request got a short error page (the 5 s HTTP timeout is within the 8 s drain)
      // or was cut, never a sign-out; its lock did not outlive the process.
      const page = await slow.page;
      if (!(page instanceof Error)) {
        expect(page.status).toBeGreaterThanOrEqual(500);
        expect(page.location ?? '').not.toMatch(/\/login/);
      }
      expect(await redis.exists(lockKey)).toBe(0);
    } finally {
      slow.release();
    }
  }, 60_000);
});
