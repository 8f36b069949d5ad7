/**
 * Refresh (RFC 6749 §6) against oidc-provider with 2-second access tokens and rotating refresh
 * tokens with reuse detection: one refresh grant per session across requests and processes.
 * The default `refreshMargin` (30 s) is longer than the tokens live: it is capped by the token's
 * own lifetime (issue 15 §3), so each token set is refreshed once, counted at the token endpoint.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { requiresAuth, type AuthRouter } from '../../src/index.js';
import type { TestProvider } from '../support/provider.js';
import { Browser } from '../support/browser.js';
import { assertionRedis, cleanPrefix, startTwoInstances, testPrefix, waitFor, type LoginApp, type TwoInstances } from './setup.js';

const prefix = testPrefix('refresh');
/** Access tokens live TTL seconds: a fresh one needs no refresh, an expired one does. */
const TTL = 2;
let instances: TwoInstances;
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
  // Like the example app's /profile: requiresAuth({ accessToken: true }), then getAccessToken() again.
  app.get('/page', requiresAuth({ accessToken: true }), async (req, res, next) => {
    try {
      res.json({ token: await req.oidc.getAccessToken() });
    } catch (err) {
      next(err);
    }
  });
  app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
  });
  return app;
}

beforeAll(async () => {
  redis = assertionRedis();
  instances = await startTwoInstances({ prefix, accessTokenTtl: TTL, app: appWith });
  ({ first, second, issuer: provider } = instances);
});

afterAll(async () => {
  await instances.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

function signIn(): Promise<Browser> {
  return instances.signIn();
}

/** Polls (no fixed sleep) until the session's access token expired: a refresh is then due. */
async function untilRefreshDue(browser: Browser): Promise<void> {
  await waitFor(
    async () => {
      const hop = await browser.get(`${first.url}/expires-in`, { accept: 'application/json' });
      return (JSON.parse(hop.text) as { expiresIn: number }).expiresIn === 0;
    },
    15_000,
    'the access token to expire',
  );
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

async function view(browser: Browser, url: string): Promise<{ status: number; token?: string }> {
  const hop = await browser.get(`${url}/page`, { accept: 'application/json' });
  return { status: hop.status, ...(JSON.parse(hop.text) as { token?: string }) };
}

/** Refresh grants made while `run` runs, and the answers it gave. */
async function grantsDuring<T>(run: () => Promise<T>): Promise<{ grants: number; result: T }> {
  const before = provider.grants.refresh_token;
  const errors = provider.grantErrors.length;
  const result = await run();
  expect(provider.grantErrors.length).toBe(errors);
  return { grants: provider.grants.refresh_token - before, result };
}

describe('refreshMargin › capped by the token lifetime: 2-second tokens, default margin 30 s (issue 15 §3)', () => {
  it('does not refresh a token just issued: page views right after sign-in make no grant', async () => {
    const browser = await signIn();
    const { grants, result } = await grantsDuring(() => view(browser, first.url));
    expect(result.status).toBe(200);
    expect(grants).toBe(0);
  });

  it('after expiry, one page view makes exactly one grant, and the next view none', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const one = await grantsDuring(() => view(browser, first.url));
    expect(one.result.status).toBe(200);
    expect(one.grants).toBe(1);
    const again = await grantsDuring(() => view(browser, first.url));
    expect(again).toEqual({ grants: 0, result: one.result });
  });

  it('after expiry, 10 concurrent page views of one session make exactly one grant', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const { grants, result } = await grantsDuring(() => Promise.all(Array.from({ length: 10 }, () => view(browser, first.url))));
    expect(result.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(result.map((r) => r.token)).size).toBe(1);
    expect(grants).toBe(1);
  });

  it('after expiry, 10 concurrent page views over two instances sharing Redis make exactly one grant', async () => {
    const browser = await signIn();
    await untilRefreshDue(browser);
    const { grants, result } = await grantsDuring(() =>
      Promise.all(Array.from({ length: 10 }, (_, i) => view(browser, i % 2 === 0 ? first.url : second.url))),
    );
    expect(result.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(result.map((r) => r.token)).size).toBe(1);
    expect(grants).toBe(1);
  });

  it('refreshes each token set once: three expiries, three grants', async () => {
    const browser = await signIn();
    const { grants } = await grantsDuring(async () => {
      for (let i = 0; i < 3; i++) {
        await untilRefreshDue(browser);
        expect((await view(browser, i % 2 === 0 ? first.url : second.url)).status).toBe(200);
        expect((await view(browser, first.url)).status).toBe(200);
      }
    });
    expect(grants).toBe(3);
  });
});
