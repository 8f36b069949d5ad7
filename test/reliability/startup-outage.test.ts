/**
 * The example app started while a dependency is down (docs/reliability.md, "Outages"): it starts
 * anyway, answers 503 where it needs the missing part, keeps serving the rest, and recovers by
 * itself once the part comes up, without a restart. Real processes: `npm start` as a child, a
 * redis-server of its own, the development IdP started later on the port the app was given.
 */
import { randomBytes } from 'node:crypto';
import { startDevIdp, type DevIdp } from '../../example-app/idp.js';
import { CookieJar, request, signIn } from '../example-app/helpers/browserless.js';
import { tokensFromIdp } from '../example-app/helpers/tokens.js';
import { eventually, exitCode, freePort, killApps, REDIS_URL, spawnApp, startRedisServer } from './helpers.js';

const CLIENT_SECRET = `client-secret-${randomBytes(12).toString('hex')}`;
const SESSION_SECRET = randomBytes(32).toString('base64url');
/** A request that waits on nothing answers within this; a 503 must not hang. */
const BOUND_MS = 10_000;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await killApps();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function timed(
  url: string,
  jar = new CookieJar(),
): Promise<{ status: number; ms: number; body: string; location: string | undefined }> {
  const started = Date.now();
  const page = await request(jar, url);
  return { status: page.status, ms: Date.now() - started, body: page.body, location: page.location };
}

/** Lines on stderr that say something crashed (an unhandled 'error' event or rejection, a stack). */
function crashLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /Unhandled|uncaught|ERR_UNHANDLED|^\s+at .+:\d+:\d+\)?$|^Error:/i.test(line));
}

describe('Redis down when the app starts', () => {
  it('starts, answers /healthz and /login 503 within a bound, serves /api/*, and recovers when Redis comes up', async () => {
    const [appPort, redisPort] = [await freePort(), await freePort()];
    const app = spawnApp({
      PORT: String(appPort),
      HOST: '127.0.0.1',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      SESSION_SECRET,
      CLIENT_SECRET,
    });
    await app.listening();
    const issuer = /^embedded development IdP: (\S+)$/m.exec(app.stdout())![1]!;

    for (const path of ['/healthz', '/login', '/login?returnTo=/profile', '/logout']) {
      const answer = await timed(`${app.url}${path}`);
      expect({ path, status: answer.status }).toEqual({ path, status: 503 });
      expect(answer.ms).toBeLessThan(BOUND_MS);
      expect(answer.body).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    // A visitor without a cookie needs no store read: /profile sends them to sign in. The public
    // page and the API need no session.
    expect((await timed(`${app.url}/profile`)).status).toBe(302);
    expect((await timed(`${app.url}/`)).status).toBe(200);
    const { access_token: token } = await tokensFromIdp({
      issuer,
      clientID: 'example-app',
      clientSecret: CLIENT_SECRET,
      redirectUri: `${app.url}/callback`,
    });
    expect((await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(`${app.url}/api/me`)).status).toBe(401);

    const redis = await startRedisServer(redisPort);
    cleanups.push(() => redis.stop());
    await eventually(
      () => fetch(`${app.url}/healthz`),
      (res) => res.status === 200,
      20_000,
      '/healthz to answer 200',
    );
    const jar = new CookieJar();
    const { callback } = await signIn(jar, app.url, { returnTo: '/profile' });
    expect(callback.status).toBe(302);
    expect((await request(jar, `${app.url}/profile`)).status).toBe(200);

    expect(app.child.exitCode).toBeNull(); // never crashed
    expect(crashLines(app.stderr())).toEqual([]);
    app.child.kill('SIGTERM');
    expect(await exitCode(app)).toBe(0);
  }, 90_000);
});

describe('the issuer down when the app starts', () => {
  it('starts, answers /login 503 until the issuer is reachable, then signs in, without a restart', async () => {
    const [appPort, issuerPort] = [await freePort(), await freePort()];
    const base = `http://localhost:${appPort}`;
    const app = spawnApp({
      PORT: String(appPort),
      HOST: '127.0.0.1',
      ISSUER_BASE_URL: `http://127.0.0.1:${issuerPort}`,
      CLIENT_ID: 'example-app',
      CLIENT_SECRET,
      REDIS_URL,
      SESSION_SECRET,
    });
    await app.listening();

    for (let i = 0; i < 3; i += 1) {
      const login = await timed(`${base}/login?returnTo=/profile`);
      expect(login.status).toBe(503);
      expect(login.ms).toBeLessThan(BOUND_MS);
    }
    expect((await timed(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // The API cannot discover the issuer's keys either: 503 (retry later), not a 401 or a 500.
    expect((await fetch(`${base}/api/me`, { headers: { authorization: 'Bearer a.b.c' } })).status).toBe(503);
    expect((await fetch(`${base}/api/me`)).status).toBe(401);

    const idp: DevIdp = await startDevIdp({
      host: '127.0.0.1',
      port: issuerPort,
      baseURL: base,
      clientID: 'example-app',
      clientSecret: CLIENT_SECRET,
      audience: `${base}/api`,
    });
    cleanups.push(() => idp.close());
    // Discovery retries with backoff (at most 30 s between attempts).
    const login = await eventually(
      () => timed(`${base}/login?returnTo=/profile`),
      (answer) => answer.status === 302,
      45_000,
      '/login to redirect',
    );
    expect(login.location).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${issuerPort}/`));
    const jar = new CookieJar();
    const { callback } = await signIn(jar, base, { returnTo: '/profile' });
    expect(callback.status).toBe(302);
    const profile = await request(jar, `${base}/profile`);
    expect(profile.status).toBe(200);
    expect(profile.body).toMatch(/called server-side with your access token: 200/);

    expect(crashLines(app.stderr())).toEqual([]);
    app.child.kill('SIGTERM');
    expect(await exitCode(app)).toBe(0);
  }, 120_000);
});
