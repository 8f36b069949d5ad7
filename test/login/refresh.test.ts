/**
 * Refresh (RFC 6749 §6) against oidc-provider with 2-second access tokens and rotating refresh
 * tokens with reuse detection: one refresh grant per session across requests and processes.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { requiresAuth, type AuthRouter } from '../../src/index.js';
import { signInAtProvider, startProvider, type TestProvider } from '../helpers/provider.js';
import { Browser } from './browser.js';
import { assertionRedis, cleanPrefix, startAppServer, startLoginApp, testPrefix, waitFor, type AppServer, type LoginApp } from './setup.js';

const prefix = testPrefix('refresh');
/** Access tokens live TTL seconds and are refreshed MARGIN seconds before they expire: a token
 * needs a refresh TTL - MARGIN seconds after it was issued, and a fresh one does not for as long. */
const TTL = 6;
const MARGIN = 3;
let first: LoginApp;
let second: LoginApp;
let provider: TestProvider;
let redis: Redis;

function appWith(oidc: AuthRouter): express.Express {
  const app = express();
  app.use(oidc);
  app.get('/token', requiresAuth(), async (req, res, next) => {
    try {
      res.json({ token: await req.oidc.getAccessToken(), sub: req.oidc.user?.sub });
    } catch (err) {
      next(err);
    }
  });
  // The session ends in the store (a logout on another instance, a back-channel logout) while
  // this request runs, before its refresh is saved.
  app.get('/token-after-logout', requiresAuth(), async (req, res, next) => {
    try {
      await redis.del(`${prefix}sess:${req.sessionID}`);
      res.json({ token: await req.oidc.getAccessToken() });
    } catch (err) {
      next(err);
    }
  });
  app.get('/expires-in', requiresAuth(), (req, res) => {
    res.json({ expiresIn: req.oidc.accessToken?.expires_in });
  });
  app.get('/profile', requiresAuth({ accessToken: true }), (req, res) => {
    res.json({ expiresIn: req.oidc.accessToken?.expires_in });
  });
  app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
  });
  return app;
}

beforeAll(async () => {
  redis = assertionRedis();
  const firstServer = await startAppServer();
  const secondServer = await startAppServer();
  provider = await startProvider({ redirectUris: [`${firstServer.url}/callback`], accessTokenTtl: TTL, rotateRefreshToken: true });
  // Two instances of the app (two processes behind one URL) sharing Redis: same baseURL and secret.
  const instance = (server: AppServer) =>
    startLoginApp({ server, issuer: provider, prefix, auth: { baseURL: firstServer.url, refreshMargin: MARGIN }, app: appWith });
  first = await instance(firstServer);
  second = await instance(secondServer);
});

afterAll(async () => {
  await first.close();
  await second.close();
  await provider.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

async function signIn(): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${first.url}/login`);
  const back = await signInAtProvider(browser, login.location!, first.url);
  expect((await browser.get(back.location!)).status).toBe(302);
  // The second instance is the same site: the browser sends it the same cookie.
  browser.jar.set(new URL(second.url).host, browser.cookies(first.url));
  return browser;
}

/** Polls (no fixed sleep) until the session's access token is within the refresh margin. */
async function untilRefreshDue(browser: Browser): Promise<void> {
  await waitFor(async () => {
    const hop = await browser.get(`${first.url}/expires-in`, { accept: 'application/json' });
    return (JSON.parse(hop.text) as { expiresIn: number }).expiresIn <= MARGIN;
  }, 15_000, 'the access token to be due for refresh');
}

async function tokenOf(browser: Browser, url: string): Promise<{ status: number; token?: string }> {
  const hop = await browser.get(`${url}/token`, { accept: 'application/json' });
  return { status: hop.status, ...(JSON.parse(hop.text) as { token?: string }) };
}

describe('getAccessToken() (RFC 6749 §6, RFC 9700 §4.14.2)', () => {
  it('does not bring back a session that ended while its refresh ran', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const hop = await browser.get(`${first.url}/token-after-logout`, { accept: 'application/json' });
    expect(hop.status).toBe(401);
    expect(JSON.parse(hop.text)).toEqual({ error: 'login_required' });
    const id = decodeURIComponent(browser.cookies(first.url).get('oidc.sid')!.value).slice(2).split('.')[0]!;
    expect(await redis.exists(`${prefix}sess:${id}`)).toBe(0);
    // And the browser is signed out from then on.
    expect((await browser.get(`${first.url}/token`, { accept: 'application/json' })).status).toBe(401);
  });

  it('refreshes an access token within the margin and stores the rotated refresh token', async () => {
    const browser = await signIn();
    const before = { ...provider.grants };
    const errors = provider.grantErrors.length;
    const fresh = await tokenOf(browser, first.url);
    expect(provider.grants.refresh_token).toBe(before.refresh_token);
    await untilRefreshDue(browser);
    const one = await tokenOf(browser, first.url);
    expect(one.status).toBe(200);
    expect(one.token).not.toBe(fresh.token);
    expect(provider.grants.refresh_token).toBe(before.refresh_token + 1);
    await untilRefreshDue(browser);
    // The next refresh uses the rotated token: reusing the old one would be answered invalid_grant
    // (and revoke the grant) by oidc-provider's reuse detection.
    const two = await tokenOf(browser, first.url);
    expect(two.status).toBe(200);
    expect(two.token).not.toBe(one.token);
    expect(provider.grants.refresh_token).toBe(before.refresh_token + 2);
    expect(provider.grantErrors.length).toBe(errors);
  });

  it('makes exactly one refresh grant for 20 concurrent requests of one session', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const before = provider.grants.refresh_token;
    const errors = provider.grantErrors.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => tokenOf(browser, first.url)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.token)).size).toBe(1);
    expect(provider.grants.refresh_token).toBe(before + 1);
    expect(provider.grantErrors.length).toBe(errors);
    // And the session goes on working with the stored result.
    expect((await tokenOf(browser, first.url)).status).toBe(200);
    expect(provider.grantErrors.length).toBe(errors);
  });

  it('makes exactly one refresh grant across two app instances sharing Redis', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const before = provider.grants.refresh_token;
    const errors = provider.grantErrors.length;
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenOf(browser, i % 2 === 0 ? first.url : second.url)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.token)).size).toBe(1);
    expect(provider.grants.refresh_token).toBe(before + 1);
    expect(provider.grantErrors.length).toBe(errors);
    expect((await tokenOf(browser, second.url)).status).toBe(200);
    expect((await tokenOf(browser, first.url)).status).toBe(200);
    expect(provider.grantErrors.length).toBe(errors);
  });

  it('requiresAuth({ accessToken: true }) passes with a refreshed token', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const before = provider.grants.refresh_token;
    const hop = await browser.get(`${first.url}/profile`);
    expect(provider.grants.refresh_token).toBe(before + 1);
    expect(hop.status).toBe(200);
    expect((JSON.parse(hop.text) as { expiresIn: number }).expiresIn).toBeGreaterThan(0);
  });

  it('answers 401 login_required to getAccessToken() without a session', async () => {
    const hop = await new Browser().get(`${first.url}/token`, { accept: 'application/json' });
    expect(hop.status).toBe(401);
  });
});
