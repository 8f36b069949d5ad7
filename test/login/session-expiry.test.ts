/**
 * The issuer's `session_expiry` ID token claim caps the sign-in's absolute lifetime, against a
 * real authorization server (oidc-provider, which puts the claim in its ID tokens) and Redis.
 */
import { requiresAuth } from '../../src/index.js';
import { signInAtProvider, startProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { expectLoginRedirect, REDIS_URL, sessionIdOf, testPrefix } from './setup.js';
import { editLogin, readLogin } from '../session/stored-login.js';

const prefix = testPrefix('session-expiry');
const COOKIE = 'oidc.sid';
const ABSOLUTE = 7200;
/** Seconds from now the issuer's session ends, as the next ID token will say; undefined: no claim. */
let expiryOffset: number | undefined = 600;

const app = useLoginApp({
  file: 'session-expiry',
  prefix,
  issuer: ({ url }) =>
    startProvider({
      redirectUris: [`${url}/callback`],
      extraClaims: () =>
        expiryOffset === undefined ? { session_expiry: undefined } : { session_expiry: Math.floor(Date.now() / 1000) + expiryOffset },
    }),
  auth: { clockTolerance: 5, session: { redis: REDIS_URL, prefix, absoluteDuration: ABSOLUTE, touchAfter: 0 } },
  routes: (routes) =>
    routes.get('/profile', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    }),
});

async function signIn(browser: Browser): Promise<Hop> {
  const login = await browser.get(`${app.url}/login?returnTo=/profile`);
  const back = await signInAtProvider(browser, login.location!, app.url, 'alice');
  return browser.get(back.location!);
}

function sessionKey(browser: Browser): string {
  return `${prefix}sess:${sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value)}`;
}

function cookieLifetimeMs(hop: Hop): number {
  const line = hop.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
  return Date.parse(/Expires=([^;]+)/.exec(line)![1]!) - Date.now();
}

describe('session_expiry claim › caps the absolute lifetime', () => {
  it('records the earlier end and caps the cookie at it', async () => {
    expiryOffset = 600;
    const browser = new Browser();
    const before = Date.now();
    const done = await signIn(browser);
    expect(done.status).toBe(302);
    const left = cookieLifetimeMs(done);
    expect(left).toBeLessThanOrEqual(600_000);
    expect(left).toBeGreaterThan(500_000);
    const record = { oidc: { login: (await readLogin(app.redis, sessionKey(browser)))! } };
    expect(record.oidc.login.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 599_000);
    expect(record.oidc.login.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(record.oidc.login.expiresAt).toBe((record.oidc.login.claims.session_expiry as number) * 1000);
    // Later responses keep the cap (a renewal never goes past it; with touchAfter 0 every view renews).
    expect(cookieLifetimeMs(await browser.get(`${app.url}/profile`))).toBeLessThanOrEqual(600_000);
  });

  it('signs the session out once the issuer’s session_expiry has passed', async () => {
    expiryOffset = 600;
    const browser = new Browser();
    await signIn(browser);
    expect((await browser.get(`${app.url}/profile`)).status).toBe(200);
    const key = sessionKey(browser);
    await editLogin(app.redis, key, (login) => {
      login.expiresAt = Date.now() - 1000;
    });
    expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
    expect((JSON.parse((await app.redis.get(key))!) as { oidc: { login?: unknown } }).oidc.login).toBeUndefined();
  });

  it('keeps absoluteDuration when session_expiry is later', async () => {
    expiryOffset = ABSOLUTE * 10;
    const browser = new Browser();
    await signIn(browser);
    const record = JSON.parse((await app.redis.get(sessionKey(browser)))!) as { oidc: { login: { expiresAt?: number } } };
    expect(record.oidc.login.expiresAt).toBeUndefined();
    expect((await browser.get(`${app.url}/profile`)).status).toBe(200);
  });

  it('refuses an ID token whose session_expiry already passed (400, no session)', async () => {
    expiryOffset = -3600;
    const browser = new Browser();
    const done = await signIn(browser);
    expect(done.status).toBe(400);
    expect(done.text).toContain('The ID token is not valid: session already expired (session_expiry).');
    expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
  });
});
