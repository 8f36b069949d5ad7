/**
 * Two example-app processes behind one public BASE_URL (as behind a load balancer), sharing one
 * Redis and one SESSION_SECRET, signing in at a development IdP run by the test: a session started
 * on one is signed in on the other, and after its access token expired, concurrent /profile
 * requests spread over both make exactly one refresh grant at the issuer (RFC 6749 §6 with
 * rotating refresh tokens, RFC 9700 §4.14.2).
 */
import { randomBytes } from 'node:crypto';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { startDevIdp, type DevIdp } from '../../example-app/idp.js';
import { CookieJar, request, signIn } from '../example-app/helpers/browserless.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { eventually, exitCode, freePort, killApps, REDIS_URL, spawnApp, type AppProcess } from './helpers.js';

const CLIENT_SECRET = `secret-${randomBytes(12).toString('hex')}`;
/** Access token lifetime at the IdP, in seconds. */
const TTL = 4;
let idp: DevIdp;
let apps: AppProcess[];
let base: string;
let ports: number[];
const grants = { authorization_code: 0, refresh_token: 0, errors: [] as string[] };

beforeAll(async () => {
  ports = [await freePort(), await freePort()];
  base = `http://localhost:${ports[0]}`;
  // Short access tokens: the refresh margin is capped at half their lifetime (less half a second),
  // so a token is due 2.5 s (rounded down to whole seconds) after issue and expired after TTL.
  idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    baseURL: base,
    clientID: 'example-app',
    clientSecret: CLIENT_SECRET,
    audience: `${base}/api`,
    accessTokenTtlSeconds: TTL,
  });
  idp.provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const type = ctx.oidc.params?.grant_type;
    if (type === 'authorization_code' || type === 'refresh_token') grants[type] += 1;
  });
  idp.provider.on('grant.error', (_ctx: KoaContextWithOIDC, err: { error?: string }) => {
    grants.errors.push(err.error ?? 'unknown');
  });
  const shared = {
    HOST: '127.0.0.1',
    BASE_URL: base,
    ISSUER_BASE_URL: idp.issuer,
    CLIENT_ID: 'example-app',
    CLIENT_SECRET,
    REDIS_URL,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
  };
  apps = ports.map((port) => spawnApp({ ...shared, PORT: String(port) }));
  await Promise.all(apps.map((app) => app.listening()));
  for (const port of ports) {
    await eventually(
      () => fetch(`http://localhost:${port}/healthz`),
      (res) => res.status === 200,
      15_000,
      `app on ${port}`,
    );
  }
}, 90_000);

afterAll(async () => {
  for (const app of apps ?? []) {
    app.child.kill('SIGTERM');
    expect(await exitCode(app)).toBe(0);
  }
  await killApps();
  await idp?.close();
});

describe('two app processes sharing Redis', () => {
  it('a session started on one is signed in on the other', async () => {
    const jar = new CookieJar();
    const { callback } = await signIn(jar, base, { returnTo: '/profile' }); // process 0 (BASE_URL)
    expect(callback.status).toBe(302);
    const other = await request(jar, `${processURL(1)}/profile`);
    expect(other.status).toBe(200);
    expect(other.body).toContain('demo-user-0001');
    const home = await request(jar, `${processURL(1)}/`);
    expect(home.body).toContain('Welcome back');
  });

  it('a logout on one ends the session on the other at once, though the other held it in memory', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, base, { returnTo: '/profile' })).callback.status).toBe(302);
    // Process 1 reads the record, then serves it from its local cache (session.localCache, on by default).
    for (let i = 0; i < 3; i++) expect((await request(jar, `${processURL(1)}/profile`)).status).toBe(200);
    const cookie = jar.header(processURL(1))!;
    expect((await request(jar, `${processURL(0)}/logout`)).status).toBe(302);
    // The old cookie, replayed at process 1 straight after: Redis's invalidation got there first.
    const after = await request(new CookieJar(), `${processURL(1)}/profile`, { headers: { cookie } });
    expect(after.status).toBe(302);
    expect(after.location).toContain('/login?returnTo=/profile');
  });

  it('makes exactly one refresh grant for concurrent /profile requests spread over both processes', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, base, { returnTo: '/profile' })).callback.status).toBe(302);
    const fresh = grants.refresh_token;
    expect((await request(jar, `${processURL(1)}/profile`)).status).toBe(200);
    expect(grants.refresh_token).toBe(fresh); // not expired yet: no refresh
    await pastExpiryOfTokensFromNow(TTL);
    const before = grants.refresh_token;
    const pages = await Promise.all(Array.from({ length: 12 }, (_, i) => request(jar, `${processURL(i % 2)}/profile`)));
    expect(pages.map((page) => page.status)).toEqual(Array(12).fill(200));
    expect(grants.refresh_token - before).toBe(1);
    expect(grants.errors).toEqual([]);
    // Every page called /api/me with a token the API accepted.
    for (const page of pages) expect(page.body).toMatch(/called server-side with your access token: 200/);
  }, 60_000);
});

/** The n-th process, straight (the cookie jar keys cookies by host name, as browsers do). */
function processURL(n: number): string {
  return `http://localhost:${ports[n]}`;
}
