/**
 * Refresh failures (RFC 6749 §6, §5.2; OIDC Core §12.2) against a scripted issuer: a refused
 * refresh token signs the session out cleanly; an issuer failure does not.
 */
import express from 'express';
import { requiresAuth } from '../../src/index.js';
import type { ScriptedAnswer, TokenContext } from '../support/hostile-issuer.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { accessTokenRoute, expectLoginRedirect, sessionIdOf } from './setup.js';

/** Refresh grants answer this; code grants answer valid tokens that are already due for refresh. */
let onRefresh: (ctx: TokenContext) => Promise<ScriptedAnswer>;

const t = useLoginApp({
  file: 'refresh-hostile',
  auth: { clientSecret: 'hostile-client-secret', httpTimeout: 1000 },
  routes: (server) => {
    server.get('/', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated() });
    });
    server.get('/profile', requiresAuth({ accessToken: true }), (req, res) => {
      res.json({ sub: req.oidc.user?.sub, name: req.oidc.user?.name });
    });
    server.get('/token', accessTokenRoute);
    server.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
    });
  },
});

beforeAll(() => {
  t.issuer.onToken = async (ctx) => {
    if (ctx.request.form.grant_type === 'refresh_token') return onRefresh(ctx);
    return { body: { ...(await ctx.valid()), expires_in: 0 } };
  };
});

async function signIn(): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${t.url}/login`);
  const back = await browser.get(login.location!);
  expect((await browser.get(back.location!)).status).toBe(302);
  return browser;
}

function refreshRequests(): Record<string, string>[] {
  return t.issuer.tokenRequests.filter((r) => r.form.grant_type === 'refresh_token').map((r) => r.form);
}

/** The session id each browser last held: a sign-out may clear the cookie, not only the login. */
const lastSessionId = new WeakMap<Browser, string>();

async function storedLogin(browser: Browser): Promise<unknown> {
  const cookie = browser.cookies(t.url).get('oidc.sid');
  if (cookie) lastSessionId.set(browser, sessionIdOf(cookie.value));
  const raw = await t.redis.get(`${t.prefix}sess:${lastSessionId.get(browser)!}`);
  return raw === null ? undefined : (JSON.parse(raw) as { oidc?: { login?: unknown } }).oidc?.login;
}

describe('refresh refused (invalid_grant)', () => {
  beforeEach(() => {
    onRefresh = async () => ({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('signs the session out and sends a page to /login?returnTo=...', async () => {
    const browser = await signIn();
    expect(await storedLogin(browser)).toBeDefined();
    expectLoginRedirect(await browser.get(`${t.url}/profile?x=1`), '/profile?x=1');
    expect(await storedLogin(browser)).toBeUndefined();
    expect(JSON.parse((await browser.get(`${t.url}/`)).text)).toEqual({ signedIn: false });
  });

  it('answers an API-style caller 401', async () => {
    const browser = await signIn();
    const hop = await browser.get(`${t.url}/profile`, { accept: 'application/json' });
    expect(hop.status).toBe(401);
    expect(await storedLogin(browser)).toBeUndefined();
  });

  it('makes getAccessToken() throw login_required (401)', async () => {
    const browser = await signIn();
    const hop = await browser.get(`${t.url}/token`);
    expect(hop.status).toBe(401);
    expect(JSON.parse(hop.text)).toEqual({ error: 'login_required' });
  });
});

describe('refresh failing at the issuer', () => {
  it.each<[string, ScriptedAnswer, number]>([
    ['a 500', { status: 500, body: 'oops' }, 502],
    ['a timeout (the issuer hangs for 20 s)', { delayMs: 20_000, body: {} }, 502],
    ['a dropped connection', { destroy: true }, 503],
  ])('answers %s with its mapped status and keeps the session signed in', async (_name, answer, status) => {
    onRefresh = async () => answer;
    const browser = await signIn();
    const hop = await browser.get(`${t.url}/token`);
    expect(hop.status).toBe(status);
    expect(JSON.parse((await browser.get(`${t.url}/`)).text)).toEqual({ signedIn: true });
  });
});

describe('refreshed tokens', () => {
  it('never sends a rotated-out refresh token again', async () => {
    onRefresh = async (ctx) => ({ body: { ...(await ctx.valid()), expires_in: 0 } });
    const browser = await signIn();
    const firstRt = t.issuer.tokenRequests.length;
    expect((await browser.get(`${t.url}/token`)).status).toBe(200);
    expect((await browser.get(`${t.url}/token`)).status).toBe(200);
    const sent = refreshRequests()
      .slice(-2)
      .map((f) => f.refresh_token);
    expect(sent[0]).not.toBe(sent[1]);
    expect(t.issuer.tokenRequests.length).toBe(firstRt + 2);
  });

  it('keeps the old refresh token when the issuer does not rotate', async () => {
    onRefresh = async (ctx) => {
      const valid = await ctx.valid();
      delete valid.refresh_token;
      return { body: { ...valid, expires_in: 0 } };
    };
    const browser = await signIn();
    expect((await browser.get(`${t.url}/token`)).status).toBe(200);
    expect((await browser.get(`${t.url}/token`)).status).toBe(200);
    const sent = refreshRequests()
      .slice(-2)
      .map((f) => f.refresh_token);
    expect(sent[0]).toBe(sent[1]);
  });

  it('uses the same client authentication as the code exchange', async () => {
    onRefresh = async (ctx) => ({ body: await ctx.valid() });
    const browser = await signIn();
    expect((await browser.get(`${t.url}/token`)).status).toBe(200);
    const request = t.issuer.tokenRequests.at(-1)!;
    expect(request.form.grant_type).toBe('refresh_token');
    expect(String(request.headers.authorization)).toMatch(/^Basic /);
  });

  it('updates the claims from a refreshed ID token', async () => {
    onRefresh = async (ctx) => {
      const valid = await ctx.valid();
      return {
        body: {
          ...valid,
          id_token: await ctx.idToken({ name: 'Renamed', nonce: undefined }, { accessToken: valid.access_token as string }),
        },
      };
    };
    const browser = await signIn();
    const hop = await browser.get(`${t.url}/profile`);
    expect(JSON.parse(hop.text)).toEqual({ sub: 'hostile-user', name: 'Renamed' });
  });

  it('signs out when a refreshed ID token names another user (OIDC Core §12.2)', async () => {
    onRefresh = async (ctx) => ({ body: { ...(await ctx.valid()), id_token: await ctx.idToken({ sub: 'someone-else' }) } });
    const browser = await signIn();
    expectLoginRedirect(await browser.get(`${t.url}/profile`), '/profile');
    expect(await storedLogin(browser)).toBeUndefined();
  });

  it('signs out when a refreshed ID token has a bad signature', async () => {
    const other = await t.issuer.newKey(t.issuer.currentKey.kid);
    onRefresh = async (ctx) => ({ body: { ...(await ctx.valid()), id_token: await ctx.idToken({}, { key: other }) } });
    const browser = await signIn();
    expectLoginRedirect(await browser.get(`${t.url}/profile`), '/profile');
  });

  it('signs out a session with an expired access token and no refresh token', async () => {
    const saved = t.issuer.onToken;
    t.issuer.onToken = async (ctx) => {
      const valid = await ctx.valid();
      delete valid.refresh_token;
      return { body: { ...valid, expires_in: 0 } };
    };
    try {
      const browser = await signIn();
      const count = t.issuer.tokenRequests.length;
      expectLoginRedirect(await browser.get(`${t.url}/profile`), '/profile');
      expect(t.issuer.tokenRequests.length).toBe(count);
    } finally {
      t.issuer.onToken = saved;
    }
  });
});
