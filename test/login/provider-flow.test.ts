/**
 * The code flow end to end against a real authorization server (oidc-provider) and a real Redis:
 * login, callback, sessions at rest, logout, parallel tabs, replays, error responses, RFC 9207.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { requiresAuth } from '../../src/index.js';
import { parseForm, signInAtProvider, startProvider, type TestProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import {
  expectLoginRedirect,
  SECRET,
  sessionIdOf,
  startAppServer,
  startLoginApp,
  waitFor,
  type AppServer,
  type LoginApp,
} from './setup.js';
import { openLogin } from '../session/stored-login.js';

/** The server of the second app: its callback is one of the provider client's redirect URIs. */
let formServer: AppServer;
beforeAll(async () => {
  formServer = await startAppServer();
});

const handle = useLoginApp({
  file: 'provider-flow',
  issuer: ({ url }) =>
    startProvider({
      redirectUris: [`${url}/callback`, `${formServer.url}/callback`],
      postLogoutRedirectUris: [url],
      backchannelLogoutUri: `${url}/backchannel-logout`,
    }),
  routes: (routes) => {
    routes.get('/', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
    });
    routes.get('/profile', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub, email: req.oidc.user?.email });
    });
    // Test-only: exposes the tokens so the test can look for them in Redis.
    routes.get('/tokens', requiresAuth(), (req, res) => {
      res.json({ access: req.oidc.accessToken?.access_token, id: req.oidc.idToken });
    });
    routes.get('/userinfo', requiresAuth(), async (req, res, next) => {
      try {
        res.json(await req.oidc.fetchUserInfo());
      } catch (err) {
        next(err);
      }
    });
  },
});
const prefix = handle.prefix;
let app: LoginApp;
/** A second app, with response_mode=form_post. */
let formApp: LoginApp;
let provider: TestProvider;
let redis: Redis;

const COOKIE = 'oidc.sid';

beforeAll(async () => {
  redis = handle.redis;
  app = handle.app;
  provider = handle.issuer;
  formApp = await startLoginApp({
    server: formServer,
    issuer: provider,
    prefix,
    auth: { authorizationParams: { response_mode: 'form_post' } },
    app: (formOidc) =>
      express()
        .use(formOidc)
        .get('/profile', requiresAuth(), (req, res) => {
          res.json({ sub: req.oidc.user?.sub });
        }),
  });
});

afterAll(async () => {
  await formApp.close();
});

/** Runs /login (with returnTo) up to the redirect back from the issuer; returns the callback URL. */
async function toCallback(browser: Browser, returnTo?: string, account = 'alice'): Promise<string> {
  const login = await browser.get(`${app.url}/login${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  expect(login.status).toBe(302);
  const back = await signInAtProvider(browser, login.location!, app.url, account);
  return back.location!;
}

async function signIn(browser: Browser, returnTo?: string, account = 'alice'): Promise<Hop> {
  const callback = await toCallback(browser, returnTo, account);
  return browser.get(callback);
}

async function expectSignedOut(browser: Browser): Promise<void> {
  expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
}

async function sessionKeys(): Promise<string[]> {
  return redis.keys(`${prefix}sess:*`);
}

describe('GET /login (OIDC Core §3.1.2.1, RFC 7636)', () => {
  it('redirects to the authorization endpoint with every code-flow parameter and no-store', async () => {
    const hop = await new Browser().get(`${app.url}/login`);
    expect(hop.status).toBe(302);
    expect(hop.headers.get('cache-control')).toContain('no-store');
    const url = new URL(hop.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${provider.issuer}/auth`);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe(provider.clientId);
    expect(p.get('redirect_uri')).toBe(`${app.url}/callback`);
    expect(p.get('scope')).toBe('openid profile email');
    expect(p.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('code_challenge_method')).toBe('S256');
  });

  it('keeps the pending login sealed in Redis: no state, nonce or verifier in clear', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/login`);
    const url = new URL(hop.location!);
    const sid = sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value);
    const raw = await redis.get(`${prefix}sess:${sid}`);
    expect(raw).not.toBeNull();
    expect(raw).not.toContain(url.searchParams.get('state')!);
    expect(raw).not.toContain(url.searchParams.get('nonce')!);
    expect(raw).not.toMatch(/verifier/i);
  });

  it('writes nothing to Redis for a visitor who never logs in', async () => {
    const before = (await sessionKeys()).length;
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/`);
    expect(JSON.parse(hop.text)).toEqual({ signedIn: false, sub: null });
    expect(hop.headers.getSetCookie()).toEqual([]);
    expect((await sessionKeys()).length).toBe(before);
  });
});

describe('GET /callback (OIDC Core §3.1.2.5-§3.1.3.7)', () => {
  it('signs in, regenerates the session id, and redirects to returnTo', async () => {
    const browser = new Browser();
    const login = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent('/profile?tab=1')}`);
    const before = browser.cookies(app.url).get(COOKIE)!.value;
    const back = await signInAtProvider(browser, login.location!, app.url);
    expect(new URL(back.location!).searchParams.get('iss')).toBe(provider.issuer);
    const hop = await browser.get(back.location!);
    expect(hop.status).toBe(302);
    expect(hop.location).toBe(`${app.url}/profile?tab=1`);
    expect(hop.headers.get('referrer-policy')).toBe('no-referrer');
    expect(hop.headers.get('cache-control')).toContain('no-store');
    const after = browser.cookies(app.url).get(COOKIE)!.value;
    expect(sessionIdOf(after)).not.toBe(sessionIdOf(before));
    // The old session record is gone.
    expect(await redis.exists(`${prefix}sess:${sessionIdOf(before)}`)).toBe(0);
    const profile = await browser.get(`${app.url}/profile?tab=1`);
    expect(profile.status).toBe(200);
    expect(JSON.parse(profile.text)).toEqual({ sub: 'alice', email: 'alice@example.test' });
  });

  it('sets an HttpOnly, SameSite=Lax cookie holding only the signed session id', async () => {
    const browser = new Browser();
    const callback = await toCallback(browser);
    const hop = await browser.get(callback);
    const line = hop.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
    expect(line).toMatch(/; Path=\//);
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Lax/);
    const value = browser.cookies(app.url).get(COOKIE)!.value;
    expect(decodeURIComponent(value)).toMatch(/^s:[A-Za-z0-9_-]+\.[A-Za-z0-9+/]+$/);
  });

  it('stores no access, refresh or ID token, code or verifier in clear in Redis', async () => {
    const browser = new Browser();
    const callback = await toCallback(browser);
    const code = new URL(callback).searchParams.get('code')!;
    await browser.get(callback);
    const tokens = JSON.parse((await browser.get(`${app.url}/tokens`)).text) as { access: string; id: string };
    expect(tokens.access.length).toBeGreaterThan(10);
    const sid = sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value);
    const raw = (await redis.get(`${prefix}sess:${sid}`))!;
    expect(raw).not.toContain('alice');
    for (const secret of [tokens.access, tokens.id, tokens.id.split('.')[2]!, code]) expect(raw).not.toContain(secret);
    expect(raw).not.toMatch(/refresh_token|access_token|id_token|code_verifier/);
    // No refresh token from the issuer in clear either: its value is unknown here, so look for
    // any long run of base64url characters outside the sealed blob.
    // The whole signed-in record is sealed, for this session id.
    const parsed = JSON.parse(raw) as { oidc: { login: string } };
    expect(parsed.oidc.login).toMatch(/^v1\./);
    const login = openLogin(parsed.oidc.login, sid, SECRET);
    expect(login.sub).toBe('alice');
    expect(Object.keys(login).sort()).toEqual(['claims', 'createdAt', 'sid', 'sub', 'tokens']);
  });

  it('completes two logins started in parallel tabs, in either order', async () => {
    const browser = new Browser();
    const first = await toCallback(browser, '/tab-a');
    const second = await toCallback(browser, '/tab-b');
    const b = await browser.get(second);
    expect(b.location).toBe(`${app.url}/tab-b`);
    const a = await browser.get(first);
    expect(a.location).toBe(`${app.url}/tab-a`);
    expect((await browser.get(`${app.url}/profile`)).status).toBe(200);
  });

  it('refuses a replayed callback (same state twice) and keeps serving', async () => {
    const browser = new Browser();
    const callback = await toCallback(browser);
    expect((await browser.get(callback)).status).toBe(302);
    const replay = await browser.get(callback);
    expect(replay.status).toBe(400);
    expect(replay.text).toContain('does not match a sign-in in progress');
    // Another browser replaying it is refused too, and is not signed in.
    const attacker = new Browser();
    expect((await attacker.get(callback)).status).toBe(400);
    await expectSignedOut(attacker);
    expect((await attacker.get(`${app.url}/`)).status).toBe(200);
  });

  it('refuses a response whose state matches no pending login (no session)', async () => {
    const browser = new Browser();
    const hop = await browser.get(`${app.url}/callback?state=forged&code=abc&iss=${encodeURIComponent(provider.issuer)}`);
    expect(hop.status).toBe(400);
    expect(hop.text).not.toMatch(/at .*\.ts:\d+/);
    await expectSignedOut(browser);
  });

  it('refuses a response with no state', async () => {
    const browser = new Browser();
    await browser.get(`${app.url}/login`);
    const hop = await browser.get(`${app.url}/callback?code=abc`);
    expect(hop.status).toBe(400);
    await expectSignedOut(browser);
  });

  it('answers an error response (access_denied) with a 400 naming the code, and consumes the login', async () => {
    const browser = new Browser();
    const login = await browser.get(`${app.url}/login`);
    const state = new URL(login.location!).searchParams.get('state')!;
    const url = `${app.url}/callback?error=access_denied&error_description=nope&state=${state}&iss=${encodeURIComponent(provider.issuer)}`;
    const hop = await browser.get(url);
    expect(hop.status).toBe(400);
    expect(hop.text).toContain('access_denied');
    expect(hop.text).not.toContain('nope');
    await expectSignedOut(browser);
    expect((await browser.get(url)).status).toBe(400);
    expect((await browser.get(`${app.url}/`)).status).toBe(200);
  });

  it('answers JSON errors to a client that asks for JSON', async () => {
    const hop = await new Browser().get(`${app.url}/callback?state=x&code=y`, { accept: 'application/json' });
    expect(hop.status).toBe(400);
    expect(JSON.parse(hop.text)).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
  });

  it('refuses a code that was already redeemed at the issuer (invalid_grant) with a 400 and no session', async () => {
    const browser = new Browser();
    const callback = await toCallback(browser);
    const code = new URL(callback).searchParams.get('code')!;
    expect((await browser.get(callback)).status).toBe(302);
    // A second login in another browser, whose callback carries the first (spent) code.
    const other = new Browser();
    const otherCallback = new URL(await toCallback(other));
    otherCallback.searchParams.set('code', code);
    const hop = await other.get(otherCallback.href);
    expect(hop.status).toBe(400);
    expect(hop.text).toContain('invalid_grant');
    await expectSignedOut(other);
  });
});

describe('RFC 9207 authorization server issuer identification', () => {
  it('refuses an iss that is not the issuer, and consumes the login', async () => {
    const browser = new Browser();
    const callback = new URL(await toCallback(browser));
    const good = callback.href;
    callback.searchParams.set('iss', 'https://evil.example');
    const hop = await browser.get(callback.href);
    expect(hop.status).toBe(400);
    expect(hop.text).toContain('another issuer');
    await expectSignedOut(browser);
    expect((await browser.get(good)).status).toBe(400);
  });

  it('refuses a response without iss when the issuer advertises it', async () => {
    const browser = new Browser();
    const callback = new URL(await toCallback(browser));
    callback.searchParams.delete('iss');
    const hop = await browser.get(callback.href);
    expect(hop.status).toBe(400);
    expect(hop.text).toContain('no iss');
    await expectSignedOut(browser);
  });
});

describe('fetchUserInfo() (OIDC Core §5.3)', () => {
  it('returns the UserInfo claims of the signed-in user', async () => {
    const browser = new Browser();
    await signIn(browser, undefined, 'carol');
    const hop = await browser.get(`${app.url}/userinfo`);
    expect(hop.status).toBe(200);
    expect(JSON.parse(hop.text)).toMatchObject({ sub: 'carol', email: 'carol@example.test', name: 'User carol' });
  });
});

describe('requiresAuth()', () => {
  it('redirects a browser to /login with returnTo = path and query', async () => {
    expectLoginRedirect(await new Browser().get(`${app.url}/profile?x=1&y=%2F`), '/profile?x=1&y=%2F');
  });

  it('answers 401 JSON to a client that wants JSON', async () => {
    const hop = await new Browser().get(`${app.url}/profile`, { accept: 'application/json' });
    expect(hop.status).toBe(401);
    expect(JSON.parse(hop.text)).toEqual({ error: 'unauthorized', error_description: 'Sign-in required.' });
  });
});

describe('GET and POST /logout (RP-Initiated Logout 1.0 §2)', () => {
  it.each(['GET', 'POST'])('%s destroys the session in Redis, clears the cookie and goes to end_session_endpoint', async (method) => {
    const browser = new Browser();
    await signIn(browser);
    const sid = sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value);
    expect(await redis.exists(`${prefix}sess:${sid}`)).toBe(1);
    const idToken = (JSON.parse((await browser.get(`${app.url}/tokens`)).text) as { id: string }).id;
    const hop = method === 'GET' ? await browser.get(`${app.url}/logout`) : await browser.post(`${app.url}/logout`, {});
    expect(hop.status).toBe(302);
    expect(hop.headers.get('cache-control')).toContain('no-store');
    const url = new URL(hop.location!);
    expect(`${url.origin}${url.pathname}`).toBe(`${provider.issuer}/session/end`);
    expect(url.searchParams.get('id_token_hint')).toBe(idToken);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(app.url);
    expect(url.searchParams.get('client_id')).toBe(provider.clientId);
    expect(await redis.exists(`${prefix}sess:${sid}`)).toBe(0);
    expect(browser.cookies(app.url).has(COOKIE)).toBe(false);
    await expectSignedOut(browser);
  });

  it('sends a signed-out visitor to /', async () => {
    const hop = await new Browser().get(`${app.url}/logout`);
    expect(hop.status).toBe(302);
    expect(hop.location).toBe(`${app.url}/`);
  });

  it('revokes the refresh token at the issuer (RFC 7009)', async () => {
    const browser = new Browser();
    await signIn(browser);
    const before = provider.revocations;
    await browser.get(`${app.url}/logout`);
    await waitFor(() => provider.revocations > before, 5000, 'revocation');
  });

  it('a stolen cookie no longer works after logout', async () => {
    const browser = new Browser();
    await signIn(browser);
    const thief = browser.clone();
    await browser.get(`${app.url}/logout`);
    await expectSignedOut(thief);
  });
});

describe('response_mode=form_post (OAuth 2.0 Form Post Response Mode)', () => {
  it('re-posts a cross-site POST (no SameSite=Lax cookie) from our origin, then signs in', async () => {
    const browser = new Browser();
    const login = await browser.get(`${formApp.url}/login?returnTo=/profile`);
    expect(new URL(login.location!).searchParams.get('response_mode')).toBe('form_post');
    const page = await signInAtProvider(browser, login.location!, formApp.url);
    const posted = parseForm(page.text);
    expect(posted.action).toBe(`${formApp.url}/callback`);
    // The browser posts cross-site: the Lax session cookie stays behind.
    const first = await browser.post(posted.action, posted.fields, { crossSitePost: true });
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toContain('no-store');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    expect(first.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[A-Za-z0-9_-]+'/);
    const again = parseForm(first.text);
    expect(again.action).toBe('/callback');
    expect(again.fields).toEqual({ ...posted.fields, oidc_resubmit: '1' });
    // Our page posts same-origin: now the cookie comes along.
    const hop = await browser.post(`${formApp.url}${again.action}`, again.fields);
    expect(hop.status).toBe(302);
    expect(hop.location).toBe(`${formApp.url}/profile`);
    expect(JSON.parse((await browser.get(`${formApp.url}/profile`)).text)).toEqual({ sub: 'alice' });
  });

  it('signs in directly when the POST carries the cookie (same-site issuer)', async () => {
    const browser = new Browser();
    const login = await browser.get(`${formApp.url}/login`);
    const posted = parseForm((await signInAtProvider(browser, login.location!, formApp.url)).text);
    const hop = await browser.post(posted.action, posted.fields);
    expect(hop.status).toBe(302);
    expect(hop.location).toBe(`${formApp.url}/`);
  });

  it('refuses a re-posted response that matches no pending login', async () => {
    const browser = new Browser();
    const hop = await browser.post(`${formApp.url}/callback`, { state: 'forged', code: 'x', oidc_resubmit: '1' });
    expect(hop.status).toBe(400);
    expectLoginRedirect(await browser.get(`${formApp.url}/profile`), '/profile');
  });

  it('escapes the echoed fields in the re-post page', async () => {
    const hop = await new Browser().post(`${formApp.url}/callback`, { state: '"><script>alert(1)</script>', code: 'x' });
    expect(hop.status).toBe(200);
    expect(hop.text).not.toContain('<script>alert(1)');
    expect(hop.text).toContain('&quot;&gt;&lt;script&gt;');
  });
});

describe('back-channel logout from a real issuer (Back-Channel Logout 1.0 §2.5)', () => {
  it('ends the session when the user signs out at the issuer', async () => {
    const browser = new Browser();
    await signIn(browser);
    const other = new Browser();
    await signIn(other, undefined, 'bob');
    expect((await browser.get(`${app.url}/profile`)).status).toBe(200);
    // Sign out at the issuer directly (another app started it): its confirmation page, then "yes".
    const page = await browser.get(`${provider.issuer}/session/end?client_id=${provider.clientId}`);
    expect(page.status).toBe(200);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(page.text)![1]!;
    const action = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"|<form[^>]*action="([^"]+)"[^>]*id="op.logoutForm"/.exec(page.text)!;
    const confirmed = await browser.post(new URL(action[1] ?? action[2]!, provider.issuer).href, { xsrf, logout: 'yes' });
    expect(confirmed.status).toBeLessThan(400);
    await waitFor(async () => (await browser.get(`${app.url}/profile`)).status === 302, 10_000, 'the back-channel logout');
    expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
    expect((await other.get(`${app.url}/profile`)).status).toBe(200);
  });
});
