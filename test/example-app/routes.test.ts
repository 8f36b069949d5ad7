/**
 * Every route of docs/CONTRACT.md, driven over HTTP against the example app on a real port, with
 * the embedded IdP (oidc-provider) and a real Redis.
 */
import { generateKeyPair, SignJWT, decodeJwt } from 'jose';
import { DEMO_USER } from '../../example-app/idp.js';
import {
  CookieJar,
  authorizeAtIdp,
  follow,
  formAction,
  hiddenInputs,
  request,
  signIn,
  startLogin,
  type Page,
} from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { tokensFromIdp, type ClientCredentials } from './helpers/tokens.js';

let t: TestApp;
let client: ClientCredentials;
let accessToken: string;

beforeAll(async () => {
  t = await startTestApp('routes');
  client = {
    issuer: t.server.example.issuer,
    clientID: t.server.config.clientID,
    clientSecret: t.server.config.clientSecret,
    redirectUri: `${t.base}/callback`,
  };
  accessToken = (await tokensFromIdp(client)).access_token;
});

afterAll(async () => {
  await t.close();
});

function main(page: Page): string {
  return /<main>([\s\S]*)<\/main>/.exec(page.body)?.[1] ?? '';
}

function expectNoStack(page: Page): void {
  expect(page.body).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  expect(page.body).not.toMatch(/node_modules|\.ts:\d+/);
}

async function signedIn(returnTo = '/profile'): Promise<{ jar: CookieJar; callback: Page }> {
  const jar = new CookieJar();
  const { callback } = await signIn(jar, t.base, { returnTo });
  expect(callback.status).toBe(302);
  return { jar, callback };
}

async function api(path: string, init: { headers?: Record<string, string>; method?: string; body?: string } = {}): Promise<Response> {
  return fetch(`${t.base}${path}`, { redirect: 'manual', ...init });
}

describe('GET /', () => {
  it('shows a "Log in" link to anonymous visitors, sets no cookie', async () => {
    const page = await request(new CookieJar(), `${t.base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(main(page)).toMatch(/<a [^>]*href="\/login(\?[^"]*)?"[^>]*>Log in<\/a>/);
    expect(page.headers.get('set-cookie')).toBeNull();
  });

  it("shows the signed-in user's name and a Log out control", async () => {
    const { jar } = await signedIn('/');
    const page = await request(jar, `${t.base}/`);
    expect(page.status).toBe(200);
    expect(main(page)).toContain(`Signed in as <strong id="user-name">${DEMO_USER.name}</strong>`);
    expect(main(page)).not.toContain('>Log in<');
    expect(page.body).toMatch(/<form [^>]*method="post" action="\/logout"[^>]*><button[^>]*>Log out<\/button>/);
  });
});

describe('GET /login', () => {
  it('redirects (302) to the authorization endpoint with every parameter of the code flow with PKCE', async () => {
    const jar = new CookieJar();
    const page = await request(jar, `${t.base}/login?returnTo=/profile`);
    expect(page.status).toBe(302);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    const url = new URL(page.location as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${t.server.example.issuer}/auth`);
    const params = url.searchParams;
    expect(params.get('response_type')).toBe('code');
    expect(params.get('client_id')).toBe('example-app');
    expect(params.get('redirect_uri')).toBe(`${t.base}/callback`);
    expect(params.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
    expect(params.get('state')).toMatch(/^[\w-]{22,}$/);
    expect(params.get('nonce')).toMatch(/^[\w-]{22,}$/);
    expect(params.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('resource')).toBe(`${t.base}/api`);
    expect(jar.get(t.base, 'oidc.sid')).toBeDefined();
  });

  it('uses a fresh state, nonce and challenge for each sign-in', async () => {
    const jar = new CookieJar();
    const a = await startLogin(jar, t.base);
    const b = await startLogin(jar, t.base);
    for (const name of ['state', 'nonce', 'code_challenge']) {
      expect(a.searchParams.get(name)).not.toBe(b.searchParams.get(name));
    }
  });
});

describe('the code flow through the embedded IdP', () => {
  it('lands on returnTo, signed in', async () => {
    const { jar, callback } = await signedIn('/profile');
    expect(callback.location).toBe(`${t.base}/profile`);
    expect(callback.headers.get('cache-control')).toMatch(/no-store/);
    expect(callback.headers.get('referrer-policy')).toBe('no-referrer');
    const profile = await request(jar, callback.location as string);
    expect(profile.status).toBe(200);
  });

  it('keeps returnTo to same-origin paths: an absolute URL elsewhere lands on /', async () => {
    const jar = new CookieJar();
    const { callback } = await signIn(jar, t.base, { returnTo: 'https://evil.example/steal' });
    expect(callback.status).toBe(302);
    expect(new URL(callback.location as string, t.base).href).toBe(`${t.base}/`);
  });

  it('regenerates the session at sign-in (a new session id)', async () => {
    const jar = new CookieJar();
    await startLogin(jar, t.base);
    const before = jar.get(t.base, 'oidc.sid');
    const authorizeURL = await startLogin(jar, t.base, '/');
    const back = await authorizeAtIdp(jar, authorizeURL, `${t.base}/callback`);
    await request(jar, back.href);
    const after = jar.get(t.base, 'oidc.sid');
    expect(before).toBeDefined();
    expect(after).toBeDefined();
    expect(t.sessionKey(after)).not.toBe(t.sessionKey(before));
    expect(await t.redis.exists(t.sessionKey(before) as string)).toBe(0);
    expect(await t.redis.exists(t.sessionKey(after) as string)).toBe(1);
  });

  it('completes two sign-ins started in one browser (two tabs), in either order', async () => {
    const jar = new CookieJar();
    const first = await startLogin(jar, t.base, '/first');
    const second = await startLogin(jar, t.base, '/second');
    const secondBack = await authorizeAtIdp(jar, second, `${t.base}/callback`);
    const firstBack = await authorizeAtIdp(jar, first, `${t.base}/callback`);
    const secondDone = await request(jar, secondBack.href);
    expect(secondDone.status).toBe(302);
    expect(secondDone.location).toBe(`${t.base}/second`);
    const firstDone = await request(jar, firstBack.href);
    expect(firstDone.status).toBe(302);
    expect(firstDone.location).toBe(`${t.base}/first`);
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
  });

  it('stores no token in clear in Redis (sealed at rest)', async () => {
    const { jar } = await signedIn('/');
    const raw = await t.redis.get(t.sessionKey(jar.get(t.base, 'oidc.sid')) as string);
    expect(raw).toEqual(expect.any(String));
    expect(raw).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
  });
});

describe('GET /callback failures', () => {
  async function expectFailurePage(jar: CookieJar, page: Page): Promise<void> {
    expect(page.status).toBeGreaterThanOrEqual(400);
    expect(page.status).toBeLessThan(500);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    expect(page.body.length).toBeLessThan(5000);
    expectNoStack(page);
    // No sign-in came out of it.
    const home = await request(jar, `${t.base}/`);
    expect(main(home)).toContain('>Log in</a>');
    const profile = await request(jar, `${t.base}/profile`);
    expect(profile.status).toBe(302);
  }

  it('refuses a state that matches no sign-in in progress', async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, t.base);
    const back = await authorizeAtIdp(jar, authorizeURL, `${t.base}/callback`);
    back.searchParams.set('state', 'not-the-state');
    const page = await request(jar, back.href);
    await expectFailurePage(jar, page);
    expect(page.body).not.toContain(back.searchParams.get('code') as string);
  });

  it('refuses a response without a code', async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, t.base);
    const url = new URL(`${t.base}/callback`);
    url.searchParams.set('state', authorizeURL.searchParams.get('state') as string);
    url.searchParams.set('iss', t.server.example.issuer);
    await expectFailurePage(jar, await request(jar, url.href));
  });

  it('shows the issuer error (the user denied consent: access_denied)', async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, t.base);
    const back = await authorizeAtIdp(jar, authorizeURL, `${t.base}/callback`, { consent: 'deny' });
    expect(back.searchParams.get('error')).toBe('access_denied');
    const page = await request(jar, back.href);
    await expectFailurePage(jar, page);
    expect(page.body).toContain('access_denied');
  });

  it('refuses a replayed response (the state is used once)', async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, t.base, '/');
    const back = await authorizeAtIdp(jar, authorizeURL, `${t.base}/callback`);
    expect((await request(jar, back.href)).status).toBe(302);
    const replay = await request(jar, back.href);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
  });

  it('answers JSON when the request asks for it', async () => {
    const res = await api('/callback?code=x&state=y', { headers: { accept: 'application/json' } });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(await res.json()).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  });
});

describe('GET /profile', () => {
  it('redirects anonymous visitors to /login?returnTo=/profile', async () => {
    const page = await request(new CookieJar(), `${t.base}/profile`);
    expect(page.status).toBe(302);
    // Literally as the contract writes it: the '/' of the path is not percent-encoded.
    expect(page.location).toBe(`${t.base}/login?returnTo=/profile`);
    const location = new URL(page.location as string);
    expect(location.pathname).toBe('/login');
    expect(location.searchParams.get('returnTo')).toBe('/profile');
  });

  it("shows the user's sub and claims and what /api/me answered for the session's access token", async () => {
    const { jar } = await signedIn();
    const page = await request(jar, `${t.base}/profile`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    expect(main(page)).toContain(`<dd id="sub">${DEMO_USER.sub}</dd>`);
    expect(main(page)).toContain(DEMO_USER.email);
    const apiJson = /<pre id="api-me">([\s\S]*?)<\/pre>/.exec(page.body)?.[1] ?? '';
    const me = JSON.parse(apiJson.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Record<string, unknown>;
    expect(me).toMatchObject({ sub: DEMO_USER.sub, aud: `${t.base}/api`, iss: t.server.example.issuer, client_id: 'example-app' });
    expect(main(page)).toContain('token: 200)');
  });

  it('never shows a raw token', async () => {
    const { jar } = await signedIn();
    const page = await request(jar, `${t.base}/profile`);
    expect(page.body).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
  });
});

describe('GET and POST /logout', () => {
  it('destroys the session in Redis and redirects to end_session_endpoint with id_token_hint and post_logout_redirect_uri', async () => {
    const { jar } = await signedIn();
    const key = t.sessionKey(jar.get(t.base, 'oidc.sid')) as string;
    expect(await t.redis.exists(key)).toBe(1);

    const page = await request(jar, `${t.base}/logout`);
    expect(page.status).toBe(302);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    const url = new URL(page.location as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${t.server.example.issuer}/session/end`);
    expect(url.searchParams.get('post_logout_redirect_uri')).toBe(t.base);
    const hint = url.searchParams.get('id_token_hint') as string;
    expect(decodeJwt(hint)).toMatchObject({ sub: DEMO_USER.sub, aud: 'example-app' });
    expect(await t.redis.exists(key)).toBe(0);

    expect((await request(jar, `${t.base}/profile`)).status).toBe(302);

    // The IdP asks, then sends the browser back to the app.
    const confirm = await request(jar, page.location as string);
    expect(confirm.status).toBe(200);
    const action = formAction(confirm, /\/session\/end\/confirm$/) as string;
    const done = await request(jar, action, { form: { ...hiddenInputs(confirm), logout: 'yes' } });
    expect(done.status).toBe(303);
    expect(done.location).toBe(`${t.base}/`);
  });

  it('POST /logout works the same', async () => {
    const { jar } = await signedIn();
    const key = t.sessionKey(jar.get(t.base, 'oidc.sid')) as string;
    const page = await request(jar, `${t.base}/logout`, { form: {} });
    expect(page.status).toBe(302);
    expect(page.location).toMatch(new RegExp(`^${t.server.example.issuer}/session/end\\?`));
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('without a session redirects to /', async () => {
    const page = await request(new CookieJar(), `${t.base}/logout`);
    expect(page.status).toBe(302);
    expect(new URL(page.location as string, t.base).href).toBe(`${t.base}/`);
  });
});

describe('POST /backchannel-logout (OpenID Connect Back-Channel Logout 1.0)', () => {
  it('ends the session the IdP names when the user signs out at the IdP', async () => {
    const { jar } = await signedIn();
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
    const outcomes: string[] = [];
    const onSuccess = (): void => void outcomes.push('success');
    const onError = (): void => void outcomes.push('error');
    t.server.example.idp!.provider.on('backchannel.success', onSuccess);
    t.server.example.idp!.provider.on('backchannel.error', onError);
    try {
      // Sign out at the IdP directly (not through the app): only the back channel tells the app.
      const ask = await follow(jar, await request(jar, `${t.server.example.issuer}/session/end`));
      const action = formAction(ask, /\/session\/end\/confirm$/) as string;
      await request(jar, action, { form: { ...hiddenInputs(ask), logout: 'yes' } });
    } finally {
      t.server.example.idp!.provider.off('backchannel.success', onSuccess);
      t.server.example.idp!.provider.off('backchannel.error', onError);
    }
    expect(outcomes).toEqual(['success']);
    const profile = await request(jar, `${t.base}/profile`);
    expect(profile.status).toBe(302);
  });

  it.each([
    ['no logout_token', {}],
    ['a garbage logout_token', { logout_token: 'garbage' }],
    ['an ID token instead of a logout token', { logout_token: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' }],
  ])('answers 400 invalid_request for %s', async (_name, form) => {
    const res = await api('/backchannel-logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form as Record<string, string>).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toMatch(/no-store/);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('/api/* (RFC 6750)', () => {
  async function expectChallenge(res: Response, status: number, challenge: RegExp, error?: string): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get('www-authenticate')).toMatch(challenge);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ error: expect.any(String), error_description: expect.any(String) });
    if (error) expect(body.error).toBe(error);
  }

  it('GET /api/me answers 200 with the verified claims of a real access token from the flow', async () => {
    const res = await api('/api/me', { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await res.json()).toMatchObject({
      sub: DEMO_USER.sub,
      aud: `${t.base}/api`,
      iss: t.server.example.issuer,
      scope: 'openid profile email',
    });
  });

  it('accepts the token in a form body on POST (RFC 6750 §2.2)', async () => {
    const res = await api('/api/me', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: accessToken }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: DEMO_USER.sub });
  });

  it('answers 401 with a bare challenge (realm, no error code) without credentials', async () => {
    const res = await api('/api/me');
    await expectChallenge(res, 401, /^Bearer realm="[^"]+"$/);
  });

  it('answers 401 with a bare challenge for another scheme (Basic)', async () => {
    const res = await api('/api/me', { headers: { authorization: 'Basic ZGVtbzpkZW1v' } });
    await expectChallenge(res, 401, /^Bearer realm="[^"]+"$/);
  });

  it('answers 400 invalid_request for "Bearer" without a token', async () => {
    const res = await api('/api/me', { headers: { authorization: 'Bearer' } });
    await expectChallenge(res, 400, /^Bearer realm="[^"]+", error="invalid_request"/, 'invalid_request');
  });

  it('answers 400 invalid_request for two tokens in the header', async () => {
    const res = await api('/api/me', { headers: { authorization: `Bearer ${accessToken} ${accessToken}` } });
    await expectChallenge(res, 400, /error="invalid_request"/, 'invalid_request');
  });

  it('answers 400 invalid_request for a token in both the header and the body', async () => {
    const res = await api('/api/me', {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: accessToken }).toString(),
    });
    await expectChallenge(res, 400, /error="invalid_request"/, 'invalid_request');
  });

  it('never accepts a token in the query string', async () => {
    const res = await api(`/api/me?access_token=${accessToken}`);
    expect(res.status).not.toBe(200);
    await expectChallenge(res, 400, /error="invalid_request"/, 'invalid_request');
  });

  it('answers 401 invalid_token for an altered token', async () => {
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'openid admin' })).toString('base64url');
    const res = await api('/api/me', { headers: { authorization: `Bearer ${header}.${forged}.${signature}` } });
    await expectChallenge(res, 401, /error="invalid_token"/, 'invalid_token');
  });

  it('answers 401 invalid_token for a token signed by another key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const claims = decodeJwt(accessToken);
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', kid: 'not-the-idp' }).sign(privateKey);
    const res = await api('/api/me', { headers: { authorization: `Bearer ${token}` } });
    await expectChallenge(res, 401, /error="invalid_token"/, 'invalid_token');
  });

  it('GET /api/admin answers 403 insufficient_scope for the demo token (no admin scope)', async () => {
    const res = await api('/api/admin', { headers: { authorization: `Bearer ${accessToken}` } });
    await expectChallenge(res, 403, /error="insufficient_scope"/, 'insufficient_scope');
    expect(res.headers.get('www-authenticate')).toMatch(/scope="admin"/);
  });

  it('GET /api/admin answers 401 without credentials', async () => {
    await expectChallenge(await api('/api/admin'), 401, /^Bearer realm="[^"]+"$/);
  });

  it('does not use the session cookie: a signed-in browser without a token gets 401', async () => {
    const { jar } = await signedIn('/');
    const res = await api('/api/me', { headers: { cookie: jar.header(`${t.base}/api/me`) ?? '' } });
    expect(res.status).toBe(401);
  });
});

describe('GET /healthz', () => {
  it('answers 200 {"status":"ok"} while Redis answers', async () => {
    const res = await api('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});

describe('unknown routes', () => {
  it('answer 404 pages', async () => {
    expect((await request(new CookieJar(), `${t.base}/nope`)).status).toBe(404);
    expect((await api('/api/nope', { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(404);
  });
});

describe('logs', () => {
  it('never contain a token', () => {
    expect(t.logger.lines.join('\n')).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+/);
    expect(t.logger.lines.join('\n')).not.toContain(accessToken);
  });
});
