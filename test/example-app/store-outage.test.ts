/**
 * The session store goes away and comes back (docs/CONTRACT.md, "Behaviour the routes share"):
 * the app reaches the real Redis through a TCP relay the test can cut and restore, or a Redis of
 * its own that the test pauses (connections stay open, nothing answers).
 */
import { CookieJar, request, signIn } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { tokensFromIdp } from './helpers/tokens.js';
import { eventually, freePort, RedisRelay, startRedisServer } from '../reliability/helpers.js';

const relay = new RedisRelay();
let t: TestApp;
let accessToken: string;

beforeAll(async () => {
  await relay.open();
  t = await startTestApp('outage', { REDIS_URL: `redis://127.0.0.1:${relay.port}` });
  accessToken = (
    await tokensFromIdp({
      issuer: t.server.example.issuer,
      clientID: t.server.config.clientID,
      clientSecret: t.server.config.clientSecret,
      redirectUri: `${t.base}/callback`,
    })
  ).access_token;
});

afterAll(async () => {
  await relay.cut();
  await t.close();
});

describe('when the session store does not answer', () => {
  it('answers 503 on /healthz, /login, /callback, /logout and /profile within a few seconds, /api/* keeps working, and recovers without a restart', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, t.base, { returnTo: '/profile' })).callback.status).toBe(302);

    await relay.cut();

    const health = await eventually(
      () => fetch(`${t.base}/healthz`),
      (res) => res.status === 503,
    );
    expect(await health.json()).toEqual({ status: expect.not.stringMatching(/^ok$/) });

    for (const path of ['/login', '/callback?code=x&state=y', '/logout', '/profile']) {
      const started = Date.now();
      const page = await request(jar, `${t.base}${path}`);
      expect({ path, status: page.status }).toEqual({ path, status: 503 });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(page.body).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }

    // The API needs no session.
    const me = await fetch(`${t.base}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect((await fetch(`${t.base}/api/me`)).status).toBe(401);
    // The public page still renders (signed out).
    expect((await request(new CookieJar(), `${t.base}/`)).status).toBe(200);

    await relay.open();

    await eventually(
      () => fetch(`${t.base}/healthz`),
      (res) => res.status === 200,
    );
    const login = await eventually(
      () => request(new CookieJar(), `${t.base}/login`),
      (page) => page.status === 302,
    );
    expect(login.location).toMatch(new RegExp(`^${t.server.example.issuer}/auth\\?`));
    // The session survived the outage (it lives in Redis).
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
  });
});

describe('when the session store stops answering but keeps its connections open', () => {
  it('answers 503 on /profile within a few seconds though the session was held in memory, and recovers', async () => {
    const port = await freePort();
    const redis = await startRedisServer(port);
    const app = await startTestApp('stall', { REDIS_URL: `redis://127.0.0.1:${port}` });
    try {
      const jar = new CookieJar();
      expect((await signIn(jar, app.base, { returnTo: '/profile' })).callback.status).toBe(302);
      // Read once, then served from the local cache (session.localCache, on by default).
      for (let i = 0; i < 3; i++) expect((await request(jar, `${app.base}/profile`)).status).toBe(200);

      redis.pause();
      const stalledAt = Date.now();
      const page = await eventually(
        () => request(jar, `${app.base}/profile`),
        (answer) => answer.status === 503,
        15_000,
        '503 from /profile',
      );
      expect(Date.now() - stalledAt).toBeLessThan(10_000);
      expect(page.body).not.toMatch(/\n\s+at .+:\d+:\d+/);

      redis.resume();
      await eventually(
        () => request(jar, `${app.base}/profile`),
        (answer) => answer.status === 200,
        15_000,
        '/profile back',
      );
    } finally {
      redis.resume();
      await app.close();
      await redis.stop();
    }
  }, 45_000);
});
