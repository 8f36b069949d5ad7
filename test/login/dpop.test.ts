/**
 * DPoP on the sign-in side (RFC 9449) against a real authorization server (oidc-provider with
 * features.dPoP on and nonces required): a key per session, `dpop_jkt`, proofs at the token
 * endpoint with the `use_dpop_nonce` retry, DPoP-bound tokens used at UserInfo, refresh, and
 * `req.oidc.dpopProof()` for the app's own API calls.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { requiresAuth } from '../../src/index.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { signInAtProvider, startProvider, type TestProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { sessionIdOf, startLoginApp, startProviderApp, testPrefix, type LoginApp, type ProviderApp } from './setup.js';

const prefix = testPrefix('dpop');
const COOKIE = 'oidc.sid';
/** oidc-provider with DPoP on, nonces required, and a client that asks for DPoP-bound tokens. */
const dpopFeature = () => ({ enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true });
const dpopClient = { dpop_bound_access_tokens: true };
let userinfoUrl: string;

/** The app's /userinfo: the issuer's UserInfo answer, with the session's token. */
const userinfoRoute: express.RequestHandler = async (req, res, next) => {
  try {
    res.json(await req.oidc.fetchUserInfo());
  } catch (err) {
    next(err);
  }
};

const app = useLoginApp({
  file: 'dpop',
  prefix,
  issuer: async ({ url }) => {
    const started = await startProvider({
      redirectUris: [`${url}/callback`],
      features: { dPoP: dpopFeature() },
      clientMetadata: dpopClient,
    });
    userinfoUrl = `${started.issuer}${await started.endpointPath('userinfo_endpoint')}`;
    return started;
  },
  auth: { dpop: true },
  routes: (server) => {
    server.get('/token-type', requiresAuth(), (req, res) => {
      res.json({ tokenType: req.oidc.accessToken?.token_type });
    });
    server.get('/userinfo', requiresAuth(), userinfoRoute);
    // The app calls an API (here the issuer's UserInfo) with the session's DPoP-bound token.
    server.get('/api-call', requiresAuth(), async (req, res, next) => {
      try {
        const token = await req.oidc.getAccessToken();
        const scheme = req.query.scheme === 'Bearer' ? 'Bearer' : 'DPoP';
        const headers: Record<string, string> = { authorization: `${scheme} ${token}` };
        if (scheme === 'DPoP') headers.dpop = await req.oidc.dpopProof('GET', `${userinfoUrl}?ignored=query`);
        const answer = await fetch(userinfoUrl, { headers });
        res.json({ status: answer.status, proof: headers.dpop ?? null });
      } catch (err) {
        next(err);
      }
    });
  },
});

async function signIn(browser: Browser): Promise<Hop> {
  const login = await browser.get(`${app.url}/login`);
  const back = await signInAtProvider(browser, login.location!, app.url, 'alice');
  return browser.get(back.location!);
}

async function json<T>(browser: Browser, path: string): Promise<{ status: number; body: T }> {
  const hop = await browser.get(`${app.url}${path}`, { accept: 'application/json' });
  return { status: hop.status, body: JSON.parse(hop.text) as T };
}

describe('dpop: true (RFC 9449)', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = new Browser();
  });

  it('proves possession at the token endpoint, retrying once with the issuer’s DPoP-Nonce (§8)', async () => {
    const tokenPath = await app.issuer.endpointPath('token_endpoint');
    expect((await signIn(browser)).status).toBe(302);
    const calls = app.issuer.requests.filter((r) => r.method === 'POST' && r.path === tokenPath);
    expect(calls).toHaveLength(2);
    expect(app.issuer.grantErrors).toEqual(['use_dpop_nonce']);
    expect(app.issuer.grants.authorization_code).toBe(1);
    const [first, second] = calls.map((call) => call.headers.dpop as string);
    expect(decodeProtectedHeader(first!)).toMatchObject({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC', crv: 'P-256' } });
    expect(decodeProtectedHeader(first!).jwk).not.toHaveProperty('d');
    const claims = decodeJwt(second!);
    expect(claims).toMatchObject({ htm: 'POST', htu: `${app.issuer.issuer}${tokenPath}` });
    expect(typeof claims.nonce).toBe('string');
    expect(claims.ath).toBeUndefined();
    expect(decodeJwt(first!).jti).not.toBe(claims.jti);
  });

  it('binds the code to the session key with dpop_jkt', async () => {
    const login = await new Browser().get(`${app.url}/login`);
    expect(new URL(login.location!).searchParams.get('dpop_jkt')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('gives each sign-in its own key', async () => {
    const a = new URL((await new Browser().get(`${app.url}/login`)).location!).searchParams.get('dpop_jkt');
    const b = new URL((await new Browser().get(`${app.url}/login`)).location!).searchParams.get('dpop_jkt');
    expect(a).not.toBe(b);
  });

  it('shows token_type DPoP on req.oidc.accessToken', async () => {
    expect(await json(browser, '/token-type')).toEqual({ status: 200, body: { tokenType: 'DPoP' } });
  });

  it('keeps the private key sealed in the session: no key material in Redis in clear', async () => {
    const raw = await app.redis.get(`${prefix}sess:${sessionIdOf(browser.cookies(app.url).get(COOKIE)!.value)}`);
    expect(raw).not.toBeNull();
    expect(raw).not.toMatch(/"crv"|"kty"|dpop/i);
  });

  it('fetchUserInfo() presents the bound token with a DPoP proof', async () => {
    expect(await json(browser, '/userinfo')).toMatchObject({ status: 200, body: { sub: 'alice' } });
  });

  it('fetchUserInfo() in a process that has no nonce yet retries once on the 401 use_dpop_nonce challenge (§9)', async () => {
    // A second process (same Redis, secret and cookie) starts with no DPoP nonce cached.
    const twinApp = await startLoginApp({
      issuer: app.issuer,
      prefix,
      auth: { baseURL: app.url, dpop: true },
      app: (twin) => express().use(twin).get('/userinfo', requiresAuth(), userinfoRoute),
    });
    try {
      const userinfoPath = new URL(userinfoUrl).pathname;
      const before = app.issuer.requests.filter((r) => r.path === userinfoPath).length;
      const other = new Browser();
      other.cookies(twinApp.url).set(COOKIE, browser.cookies(app.url).get(COOKIE)!);
      const hop = await other.get(`${twinApp.url}/userinfo`, { accept: 'application/json' });
      expect(hop.status).toBe(200);
      expect(JSON.parse(hop.text)).toMatchObject({ sub: 'alice' });
      const calls = app.issuer.requests.filter((r) => r.path === userinfoPath).slice(before);
      expect(calls).toHaveLength(2);
      expect(decodeJwt(calls[0]!.headers.dpop as string).nonce).toBeUndefined();
      expect(typeof decodeJwt(calls[1]!.headers.dpop as string).nonce).toBe('string');
    } finally {
      await twinApp.close();
    }
  });

  it('req.oidc.dpopProof() makes proofs the API accepts (htm, htu without query, ath); Bearer is refused', async () => {
    const { body } = await json<{ status: number; proof: string }>(browser, '/api-call');
    expect(body.status).toBe(200);
    const claims = decodeJwt(body.proof);
    expect(claims).toMatchObject({ htm: 'GET', htu: userinfoUrl });
    expect(typeof claims.ath).toBe('string');
    expect((await json<{ status: number }>(browser, '/api-call?scheme=Bearer')).body.status).toBe(401);
  });
});

describe('dpop: true › refresh (RFC 9449 §5)', () => {
  let refreshApp: ProviderApp;
  let refreshProvider: TestProvider;

  beforeAll(async () => {
    refreshApp = await startProviderApp(
      { accessTokenTtl: 2, features: { dPoP: dpopFeature() }, clientMetadata: dpopClient },
      {
        prefix,
        auth: { dpop: true },
        app: (refreshing) =>
          express()
            .use(refreshing)
            .get('/refresh', requiresAuth(), async (req, res, next) => {
              try {
                const before = req.oidc.accessToken?.access_token;
                const after = await req.oidc.getAccessToken();
                res.json({
                  changed: before !== after,
                  tokenType: req.oidc.accessToken?.token_type,
                  userinfo: await req.oidc.fetchUserInfo(),
                });
              } catch (err) {
                next(err);
              }
            }),
      },
    );
    refreshProvider = refreshApp.provider;
  });

  afterAll(async () => {
    await refreshApp.close();
  });

  it('refreshes with a proof of the same key: the new token is DPoP-bound and works', async () => {
    const b = new Browser();
    const login = await b.get(`${refreshApp.url}/login`);
    const back = await signInAtProvider(b, login.location!, refreshApp.url, 'alice');
    expect((await b.get(back.location!)).status).toBe(302);
    await pastExpiryOfTokensFromNow(2);
    const hop = await b.get(`${refreshApp.url}/refresh`, { accept: 'application/json' });
    expect(hop.status).toBe(200);
    expect(JSON.parse(hop.text)).toMatchObject({ changed: true, tokenType: 'DPoP', userinfo: { sub: 'alice' } });
    expect(refreshProvider.grants.refresh_token).toBeGreaterThanOrEqual(1);
    const tokenPath = await refreshProvider.endpointPath('token_endpoint');
    const calls = refreshProvider.requests.filter((r) => r.method === 'POST' && r.path === tokenPath);
    const keys = calls.map((call) => JSON.stringify(decodeProtectedHeader(call.headers.dpop as string).jwk));
    expect(new Set(keys).size).toBe(1);
  });
});

describe('dpop: true › with pushed authorization requests (RFC 9449 §10.1)', () => {
  it('pushes dpop_jkt with the other parameters; the code is bound to the session key', async () => {
    const parApp = await startProviderApp(
      {
        features: { dPoP: dpopFeature(), pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true } },
        clientMetadata: dpopClient,
      },
      {
        prefix,
        auth: { dpop: true },
        app: (parOidc) =>
          express()
            .use(parOidc)
            .get('/token-type', requiresAuth(), (req, res) => {
              res.json({ tokenType: req.oidc.accessToken?.token_type });
            }),
      },
    );
    try {
      const b = new Browser();
      const login = await b.get(`${parApp.url}/login`);
      expect([...new URL(login.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      const back = await signInAtProvider(b, login.location!, parApp.url, 'alice');
      expect((await b.get(back.location!)).status).toBe(302);
      expect(JSON.parse((await b.get(`${parApp.url}/token-type`, { accept: 'application/json' })).text)).toEqual({ tokenType: 'DPoP' });
    } finally {
      await parApp.close();
    }
  });
});

describe('dpop: true › answers a real server does not give', () => {
  let issuer: HostileIssuer;
  let hostileApp: LoginApp;

  beforeAll(async () => {
    issuer = await startHostileIssuer();
    hostileApp = await startLoginApp({
      issuer,
      prefix,
      auth: { clientSecret: 'hostile-secret', dpop: true },
      app: (hostileOidc) =>
        express()
          .use(hostileOidc)
          .get('/proof', requiresAuth(), async (req, res, next) => {
            try {
              res.json({ tokenType: req.oidc.accessToken?.token_type, proof: await req.oidc.dpopProof('GET', 'https://api.example/x') });
            } catch (err) {
              next(err);
            }
          }),
    });
  });

  afterEach(() => {
    issuer.onToken = undefined;
  });

  afterAll(async () => {
    await hostileApp.close();
    await issuer.close();
  });

  async function hostileSignIn(browser: Browser): Promise<Hop> {
    const login = await browser.get(`${hostileApp.url}/login`);
    const back = await browser.get(login.location!);
    return browser.get(back.location!);
  }

  it('retries use_dpop_nonce once only: a second one answers 502, no session', async () => {
    let nonce = 0;
    issuer.onToken = () => ({ status: 400, body: { error: 'use_dpop_nonce' }, headers: { 'DPoP-Nonce': `nonce-${++nonce}` } });
    const before = issuer.tokenRequests.length;
    const browser = new Browser();
    expect((await hostileSignIn(browser)).status).toBe(502);
    const sent = issuer.tokenRequests.slice(before);
    expect(sent).toHaveLength(2);
    expect(decodeJwt(sent[0]!.headers.dpop as string).nonce).toBeUndefined();
    expect(decodeJwt(sent[1]!.headers.dpop as string).nonce).toBe('nonce-1');
    expect((await browser.get(`${hostileApp.url}/proof`, { accept: 'application/json' })).status).toBe(401);
  });

  it('accepts Bearer tokens from an issuer without DPoP (§5), and then has no key to make proofs with', async () => {
    const browser = new Browser();
    expect((await hostileSignIn(browser)).status).toBe(302);
    expect(issuer.tokenRequests.at(-1)!.headers.dpop).toBeDefined();
    expect((await browser.get(`${hostileApp.url}/proof`, { accept: 'application/json' })).status).toBe(500);
  });

  it('refuses an unknown token_type (502)', async () => {
    issuer.onToken = async (ctx) => ({ body: { ...(await ctx.valid()), token_type: 'MAC' } });
    expect((await hostileSignIn(new Browser())).status).toBe(502);
  });
});
