/**
 * Every way the token endpoint or its ID token can be wrong (OIDC Core §3.1.3.7, RFC 6749 §5),
 * against a scripted issuer. Each refusal: the status, no session signed in afterwards, and the
 * app still serves the next request.
 */
import express from 'express';
import { requiresAuth, type AuthOptions } from '../../src/index.js';
import type { ScriptedAnswer, TokenContext } from '../support/hostile-issuer.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { expectLoginRedirect, SECRET, startLoginApp, type LoginApp } from './setup.js';

const CLIENT_SECRET = 'hostile-client-secret';
const t = useLoginApp({
  file: 'callback-hostile',
  auth: { clientSecret: CLIENT_SECRET, httpTimeout: 1000, clockTolerance: 5, discovery: { jwksCooldownMs: 0 } },
  routes: (app) =>
    app
      .get('/', (req, res) => {
        res.json({ signedIn: req.oidc.isAuthenticated() });
      })
      .get('/profile', requiresAuth(), (req, res) => {
        res.json({ sub: req.oidc.user?.sub });
      }),
});

afterEach(() => {
  t.issuer.onToken = undefined;
  t.issuer.onJwks = undefined;
  t.issuer.authorizationIss = t.issuer.issuer;
  t.issuer.metadata = {};
});

async function signIn(browser = new Browser()): Promise<Hop> {
  const login = await browser.get(`${t.url}/login?returnTo=/profile`);
  expect(login.status).toBe(302);
  const back = await browser.get(login.location!);
  expect(back.status).toBe(302);
  return browser.get(back.location!);
}

async function expectRefusal(hop: Hop, browser: Browser, status: number, text: string | RegExp): Promise<void> {
  expect(hop.status).toBe(status);
  expect(hop.text).toMatch(text);
  expect(hop.text).not.toMatch(/\bat .+:\d+:\d+/); // no stack trace
  expect(hop.headers.get('cache-control')).toContain('no-store');
  expectLoginRedirect(await browser.get(`${t.url}/profile`), '/profile');
  expect((await new Browser().get(`${t.url}/`)).status).toBe(200);
}

function withIdToken(make: (ctx: TokenContext) => Promise<string>): (ctx: TokenContext) => Promise<ScriptedAnswer> {
  return async (ctx) => ({ body: { ...(await ctx.valid()), id_token: await make(ctx) } });
}

describe('a valid answer', () => {
  it('signs in (sanity check of the scripted issuer)', async () => {
    const browser = new Browser();
    const hop = await signIn(browser);
    expect(hop.status).toBe(302);
    expect(hop.location).toBe(`${t.url}/profile`);
    expect(JSON.parse((await browser.get(`${t.url}/profile`)).text)).toEqual({ sub: 'hostile-user' });
  });

  it('sends the code, verifier and redirect_uri with client_secret_basic (RFC 6749 §2.3.1)', async () => {
    await signIn();
    const request = t.issuer.tokenRequests.at(-1)!;
    expect(request.form.grant_type).toBe('authorization_code');
    expect(request.form.code).toBe(request.authorization!.code);
    expect(request.form.redirect_uri).toBe(`${t.url}/callback`);
    expect(request.form.client_secret).toBeUndefined();
    const { createHash } = await import('node:crypto');
    expect(createHash('sha256').update(request.form.code_verifier!).digest('base64url')).toBe(request.authorization!.params.code_challenge);
    const basic = Buffer.from(String(request.headers.authorization).replace(/^Basic /, ''), 'base64').toString();
    expect(basic).toBe(`${t.issuer.clientId}:${CLIENT_SECRET}`);
  });

  it('accepts token_type "bearer" in any case (RFC 6749 §5.1)', async () => {
    t.issuer.onToken = async (ctx) => ({ body: { ...(await ctx.valid()), token_type: 'bEaReR' } });
    expect((await signIn()).status).toBe(302);
  });

  it('accepts a response without iss when the issuer does not advertise RFC 9207', async () => {
    t.issuer.metadata = { authorization_response_iss_parameter_supported: undefined };
    t.issuer.authorizationIss = null;
    // Discovery is cached: this instance has the old metadata, so use a fresh one.
    const second = await startLoginApp({ issuer: t.issuer, prefix: t.prefix, auth: { clientSecret: CLIENT_SECRET, baseURL: t.url } });
    try {
      const browser = new Browser();
      const login = await browser.get(`${second.url}/login`);
      const back = await browser.get(login.location!);
      expect(new URL(back.location!).searchParams.has('iss')).toBe(false);
      // The redirect goes to t.url (the configured baseURL); replay it on the second server.
      const callback = new URL(back.location!);
      const hop = await browser.get(`${second.url}${callback.pathname}${callback.search}`);
      expect(hop.status).toBe(302);
    } finally {
      await second.close();
    }
  });
});

describe('ID token validation (OIDC Core §3.1.3.7)', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, (ctx: TokenContext) => Promise<ScriptedAnswer>, RegExp][] = [
    [
      'a bad signature (another key under the same kid)',
      withIdToken(async (ctx) => ctx.idToken({}, { key: await t.issuer.newKey(t.issuer.currentKey.kid) })),
      /bad signature/,
    ],
    ['a wrong iss', withIdToken((ctx) => ctx.idToken({ iss: 'https://evil.example' })), /wrong or missing iss/],
    ['a wrong aud', withIdToken((ctx) => ctx.idToken({ aud: 'someone-else' })), /wrong or missing aud/],
    ['several audiences and no azp', withIdToken((ctx) => ctx.idToken({ aud: [t.issuer.clientId, 'other'] })), /wrong or missing azp/],
    ['an azp that is another client', withIdToken((ctx) => ctx.idToken({ azp: 'other' })), /wrong or missing azp/],
    ['a wrong nonce', withIdToken((ctx) => ctx.idToken({ nonce: 'not-the-nonce' })), /wrong or missing nonce/],
    ['no nonce', withIdToken((ctx) => ctx.idToken({ nonce: undefined })), /wrong or missing nonce/],
    ['alg none', withIdToken((ctx) => ctx.idToken({}, { alg: 'none' })), /not valid/],
    [
      'HS256 keyed with the client secret, not allowed by default',
      withIdToken((ctx) => ctx.idToken({}, { alg: 'HS256', hmacSecret: CLIENT_SECRET })),
      /algorithm not allowed/,
    ],
    ['an expired token', withIdToken((ctx) => ctx.idToken({ exp: now() - 60, iat: now() - 120 })), /expired/],
    ['an iat in the future', withIdToken((ctx) => ctx.idToken({ iat: now() + 600, exp: now() + 900 })), /wrong or missing iat/],
    ['no sub', withIdToken((ctx) => ctx.idToken({ sub: undefined })), /not valid/],
    [
      'a kid the JWKS does not have',
      withIdToken(async (ctx) => ctx.idToken({}, { key: await t.issuer.newKey('unknown-kid') })),
      /unknown key/,
    ],
    [
      'an at_hash that does not match the access token',
      async (ctx) => {
        const valid = await ctx.valid();
        return { body: { ...valid, id_token: await ctx.idToken({}, { accessToken: 'another-access-token' }) } };
      },
      /wrong at_hash/,
    ],
    ['a malformed token', async (ctx) => ({ body: { ...(await ctx.valid()), id_token: 'not.a.jwt' } }), /malformed/],
  ];

  it.each(cases)('refuses %s with a 400', async (_name, script, reason) => {
    t.issuer.onToken = script;
    const browser = new Browser();
    await expectRefusal(await signIn(browser), browser, 400, reason);
  });

  it('accepts a token signed by a rotated key with a new kid (fetches the JWKS again)', async () => {
    const before = t.issuer.jwksFetches;
    await t.issuer.rotateKey();
    const browser = new Browser();
    expect((await signIn(browser)).status).toBe(302);
    expect(t.issuer.jwksFetches).toBeGreaterThan(before);
    expect((await browser.get(`${t.url}/profile`)).status).toBe(200);
  });

  it('answers 503 when the JWKS cannot be fetched for an unknown kid', async () => {
    await t.issuer.rotateKey();
    t.issuer.onJwks = () => ({ status: 500, body: 'down' });
    const browser = new Browser();
    await expectRefusal(await signIn(browser), browser, 503, /signing keys cannot be fetched/);
  });
});

describe('token endpoint failures (RFC 6749 §5.2)', () => {
  const cases: [string, ScriptedAnswer | ((ctx: TokenContext) => Promise<ScriptedAnswer>), number, RegExp][] = [
    ['invalid_grant JSON', { status: 400, body: { error: 'invalid_grant', error_description: 'code expired' } }, 400, /invalid_grant/],
    ['invalid_client JSON', { status: 401, body: { error: 'invalid_client' } }, 502, /refused the token request/],
    ['a 500', { status: 500, body: 'Internal Server Error' }, 502, /invalid answer/],
    ['a 200 that is not JSON', { status: 200, body: '<html>hello</html>' }, 502, /invalid answer/],
    ['a JSON array', { status: 200, body: [1, 2] }, 502, /not a JSON object/],
    ['no access token', async (ctx) => ({ body: { ...(await ctx.valid()), access_token: undefined } }), 502, /no access token/],
    ['a DPoP token type', async (ctx) => ({ body: { ...(await ctx.valid()), token_type: 'DPoP' } }), 502, /unsupported token type/],
    ['no ID token', async (ctx) => ({ body: { ...(await ctx.valid()), id_token: undefined } }), 502, /no ID token/],
    ['a redirect', { status: 302, body: '' }, 502, /invalid answer/],
    [
      'no answer within httpTimeout (the issuer hangs for 20 s)',
      { delayMs: 20_000, body: {} },
      502,
      /did not answer the token request in time/,
    ],
    ['a dropped connection', { destroy: true }, 503, /cannot be reached/],
  ];

  it.each(cases)('answers %s with the mapped status', async (_name, answer, status, reason) => {
    t.issuer.onToken = typeof answer === 'function' ? answer : () => answer;
    const browser = new Browser();
    await expectRefusal(await signIn(browser), browser, status, reason);
  });

  it("never shows the issuer's own error text", async () => {
    t.issuer.onToken = () => ({
      status: 400,
      body: { error: 'invalid_grant', error_description: '<script>alert(1)</script> secret-detail' },
    });
    const hop = await signIn();
    expect(hop.text).not.toContain('secret-detail');
    expect(hop.text).not.toContain('<script>');
  });
});

describe('client authentication at the token endpoint (OIDC Core §9)', () => {
  async function appWith(options: Partial<AuthOptions>): Promise<LoginApp> {
    return startLoginApp({ issuer: t.issuer, prefix: t.prefix, auth: options });
  }

  async function signInAt(url: string): Promise<Hop> {
    const browser = new Browser();
    const login = await browser.get(`${url}/login`);
    const back = await browser.get(login.location!);
    return browser.get(back.location!);
  }

  it('client_secret_post sends client_id and client_secret in the body (RFC 6749 §2.3.1)', async () => {
    const other = await appWith({ clientSecret: CLIENT_SECRET, clientAuthMethod: 'client_secret_post' });
    try {
      expect((await signInAt(other.url)).status).toBe(302);
      const request = t.issuer.tokenRequests.at(-1)!;
      expect(request.headers.authorization).toBeUndefined();
      expect(request.form.client_id).toBe(t.issuer.clientId);
      expect(request.form.client_secret).toBe(CLIENT_SECRET);
    } finally {
      await other.close();
    }
  });

  it('client_secret_basic form-urlencodes the id and secret before base64 (RFC 6749 §2.3.1)', async () => {
    const other = await appWith({ clientSecret: 'a b:c%d+e' });
    try {
      expect((await signInAt(other.url)).status).toBe(302);
      const basic = Buffer.from(String(t.issuer.tokenRequests.at(-1)!.headers.authorization).replace(/^Basic /, ''), 'base64').toString();
      expect(basic).toBe(`${t.issuer.clientId}:a+b%3Ac%25d%2Be`);
    } finally {
      await other.close();
    }
  });

  it('accepts HS256 ID tokens keyed with the client secret only when idTokenSigningAlgs names it', async () => {
    const other = await appWith({ clientSecret: CLIENT_SECRET, idTokenSigningAlgs: ['HS256'] });
    try {
      t.issuer.onToken = async (ctx) => ({
        body: { ...(await ctx.valid()), id_token: await ctx.idToken({}, { alg: 'HS256', hmacSecret: CLIENT_SECRET }) },
      });
      expect((await signInAt(other.url)).status).toBe(302);
      t.issuer.onToken = async (ctx) => ({
        body: { ...(await ctx.valid()), id_token: await ctx.idToken({}, { alg: 'HS256', hmacSecret: 'wrong-secret' }) },
      });
      expect((await signInAt(other.url)).status).toBe(400);
      // RS256 is then not accepted either: the list is exactly what was configured.
      t.issuer.onToken = undefined;
      expect((await signInAt(other.url)).status).toBe(400);
    } finally {
      await other.close();
    }
  });

  it('private_key_jwt sends a signed client assertion (RFC 7523 §2.2)', async () => {
    const { generateKeyPair, exportJWK, jwtVerify } = await import('jose');
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'client-key', alg: 'ES256' };
    const other = await appWith({ clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: jwk });
    try {
      expect((await signInAt(other.url)).status).toBe(302);
      const request = t.issuer.tokenRequests.at(-1)!;
      expect(request.headers.authorization).toBeUndefined();
      expect(request.form.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      const { payload, protectedHeader } = await jwtVerify(request.form.client_assertion!, publicKey, {
        issuer: t.issuer.clientId,
        subject: t.issuer.clientId,
        audience: `${t.issuer.issuer}/token`,
      });
      expect(protectedHeader).toEqual({ alg: 'ES256', kid: 'client-key' });
      expect(typeof payload.jti).toBe('string');
      expect(payload.exp! - payload.iat!).toBe(60);
    } finally {
      await other.close();
    }
  });
});

describe('an issuer that cannot be reached', () => {
  it('answers /login with a 503 quickly and keeps serving other routes', async () => {
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const other = await startLoginApp({
      issuer: { issuer: `http://127.0.0.1:${deadPort}`, clientId: 'c', clientSecret: 's' },
      prefix: t.prefix,
      app: (oidc) =>
        express()
          .use(oidc)
          .get('/', (_req, res) => {
            res.send('ok');
          }),
    });
    try {
      for (let i = 0; i < 3; i++) {
        const hop = await new Browser().get(`${other.url}/login`);
        expect(hop.status).toBe(503);
        expect(hop.headers.get('retry-after')).toBe('5');
      }
      expect((await new Browser().get(`${other.url}/`)).text).toBe('ok');
    } finally {
      await other.close();
    }
  });
});

describe('logging', () => {
  it('never logs a token, code or secret when the exchange fails', async () => {
    const lines: string[] = [];
    const capture = (message: string, fields?: Record<string, unknown>) => void lines.push(`${message} ${JSON.stringify(fields ?? {})}`);
    const other = await startLoginApp({
      issuer: t.issuer,
      prefix: t.prefix,
      auth: { clientSecret: CLIENT_SECRET, logger: { debug: capture, info: capture, warn: capture, error: capture } },
    });
    try {
      t.issuer.onToken = async (ctx) => ({ status: 500, body: { error: 'server_error', leaked: (await ctx.valid()).access_token } });
      const browser = new Browser();
      const login = await browser.get(`${other.url}/login`);
      const back = await browser.get(login.location!);
      const code = new URL(back.location!).searchParams.get('code')!;
      expect((await browser.get(back.location!)).status).toBe(502);
      const all = lines.join('\n');
      expect(all).toContain('sign-in request failed');
      expect(all).not.toContain(code);
      expect(all).not.toContain(CLIENT_SECRET);
      expect(all).not.toContain(SECRET);
      expect(all).not.toMatch(/at-[A-Za-z0-9_-]{10}/);
    } finally {
      await other.close();
    }
  });
});
