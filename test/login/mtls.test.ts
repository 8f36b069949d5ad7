/**
 * Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705) against a real
 * authorization server: oidc-provider with features.mTLS on, behind a TLS-terminating proxy on
 * 127.0.0.1 that asks for a client certificate and hands it on (as a gateway would), published as
 * the issuer's `mtls_endpoint_aliases` (§5).
 */
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import type { Redis } from 'ioredis';
import { auth, requiresAuth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { signInAtProvider, startProvider, type TestProvider } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { assertionRedis, cleanPrefix, quiet, SECRET, startAppServer, startLoginApp, testPrefix, type AppServer } from './setup.js';

const prefix = testPrefix('mtls');
/** Access token lifetime at the provider, in seconds (short: the refresh test waits it out). */
const TTL = 2;
let pki: TestPki;
let redis: Redis;
let app: AppServer;
let provider: TestProvider;
let proxy: HttpsServer;
let proxyUrl: string;
/** What the proxy saw: path and whether a CA-issued client certificate came with it. */
const proxied: Array<{ method: string; path: string; verified: boolean }> = [];
const routers: AuthRouter[] = [];

function pemOf(raw: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${raw
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** A TLS-terminating gateway: asks for a client certificate and passes it on in headers. */
async function startProxy(target: () => string): Promise<void> {
  proxy = createHttpsServer(
    { key: pki.server.key, cert: pki.server.cert, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const verified = socket.authorized;
      proxied.push({ method: req.method ?? 'GET', path: new URL(req.url ?? '/', 'https://proxy').pathname, verified });
      const headers = { ...req.headers };
      delete headers['x-client-cert'];
      delete headers['x-client-cert-verified'];
      if (peer?.raw) {
        headers['x-client-cert'] = encodeURIComponent(pemOf(peer.raw));
        headers['x-client-cert-verified'] = verified ? 'yes' : 'no';
      }
      const upstream = httpRequest(
        `${target()}${req.url ?? '/'}`,
        { method: req.method, headers: { ...headers, host: new URL(target()).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.statusCode = 502;
        res.end();
      });
      req.pipe(upstream);
    },
  );
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

function certificateOf(ctx: { get(name: string): string }): string | undefined {
  const value = ctx.get('x-client-cert');
  return value ? decodeURIComponent(value) : undefined;
}

beforeAll(async () => {
  pki = makeTestPki();
  redis = assertionRedis();
  app = await startAppServer();
  let issuer = '';
  await startProxy(() => issuer);
  provider = await startProvider({
    redirectUris: [`${app.url}/callback`],
    tokenEndpointAuthMethod: 'tls_client_auth',
    accessTokenTtl: TTL,
    clientMetadata: { tls_client_auth_subject_dn: 'CN=mtls-client', tls_client_certificate_bound_access_tokens: true },
    features: {
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: certificateOf,
        certificateAuthorized: (ctx: { get(name: string): string }) => ctx.get('x-client-cert-verified') === 'yes',
        certificateSubjectMatches: (ctx: { get(name: string): string }, property: string, expected: string) => {
          const pem = certificateOf(ctx);
          return property === 'tls_client_auth_subject_dn' && pem !== undefined && new X509Certificate(pem).subject === expected;
        },
      },
    },
    providerConfig: {
      clientAuthMethods: ['client_secret_basic', 'tls_client_auth'],
      discovery: {
        mtls_endpoint_aliases: {
          token_endpoint: `${proxyUrl}/token`,
          revocation_endpoint: `${proxyUrl}/token/revocation`,
          userinfo_endpoint: `${proxyUrl}/me`,
          pushed_authorization_request_endpoint: `${proxyUrl}/request`,
        },
      },
    },
  });
  issuer = provider.issuer;
});

afterAll(async () => {
  for (const router of routers) await router.close();
  await app.close();
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await provider.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

/** Puts a new router on the app (the file's afterAll closes the routers, and the app). */
async function mount(options: Partial<AuthOptions>): Promise<void> {
  const { oidc } = await startLoginApp({
    server: app,
    issuer: provider,
    prefix,
    auth: {
      clientSecret: undefined,
      clientAuthMethod: 'tls_client_auth',
      mtls: { key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert },
      ...options,
    },
    app: (router) =>
      express()
        .use(router)
        .get('/userinfo', requiresAuth(), async (req, res, next) => {
          try {
            res.json(await req.oidc.fetchUserInfo());
          } catch (err) {
            next(err);
          }
        })
        // Test-only: the raw access token, to try it without the certificate.
        .get('/access-token', requiresAuth(), async (req, res, next) => {
          try {
            res.json({ token: await req.oidc.getAccessToken(), type: req.oidc.accessToken?.token_type });
          } catch (err) {
            next(err);
          }
        }),
  });
  routers.push(oidc);
}

async function signIn(browser: Browser): Promise<Hop> {
  const login = await browser.get(`${app.url}/login`);
  expect(login.status).toBe(302);
  const back = await signInAtProvider(browser, login.location!, app.url, 'alice');
  return browser.get(back.location!);
}

function calls(path: string, method = 'POST'): Array<{ verified: boolean }> {
  return proxied.filter((p) => p.path === path && p.method === method);
}

describe('RFC 8705 mutual TLS (mtls + tls_client_auth)', () => {
  let browser: Browser;
  beforeAll(async () => {
    await mount({});
    browser = new Browser();
  });

  it('redeems the code at the mTLS alias of the token endpoint, authenticated by the certificate (§2.1)', async () => {
    const before = calls('/token').length;
    expect((await signIn(browser)).status).toBe(302);
    expect(provider.grants.authorization_code).toBe(1);
    const seen = calls('/token').slice(before);
    expect(seen).toEqual([{ method: 'POST', path: '/token', verified: true }]);
  });

  it('gets a certificate-bound access token (§3): UserInfo answers over mTLS, refuses it without the certificate', async () => {
    expect(JSON.parse((await browser.get(`${app.url}/userinfo`, { accept: 'application/json' })).text)).toMatchObject({ sub: 'alice' });
    expect(calls('/me', 'GET').at(-1)).toMatchObject({ verified: true });
    const { token } = JSON.parse((await browser.get(`${app.url}/access-token`, { accept: 'application/json' })).text) as { token: string };
    const plain = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(plain.status).toBe(401);
  });

  it('refreshes over mTLS (an /access-token call after expiry refreshes)', async () => {
    await pastExpiryOfTokensFromNow(TTL);
    const refreshes = provider.grants.refresh_token;
    expect((await browser.get(`${app.url}/access-token`, { accept: 'application/json' })).status).toBe(200);
    expect(provider.grants.refresh_token).toBeGreaterThan(refreshes);
    expect(calls('/token').every((c) => c.verified)).toBe(true);
  });

  it('revokes the refresh token at logout over mTLS', async () => {
    const revoked = provider.revocations;
    expect((await browser.get(`${app.url}/logout`)).status).toBe(302);
    expect(provider.revocations).toBe(revoked + 1);
    expect(calls('/token/revocation').at(-1)).toMatchObject({ verified: true });
  });

  it('pushes authorization requests to the mTLS alias of the PAR endpoint (RFC 9126 with RFC 8705)', async () => {
    await mount({ pushedAuthorizationRequests: true });
    const before = calls('/request').length;
    const b = new Browser();
    const login = await b.get(`${app.url}/login`);
    expect([...new URL(login.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(calls('/request').length).toBe(before + 1);
    const back = await signInAtProvider(b, login.location!, app.url, 'alice');
    expect((await b.get(back.location!)).status).toBe(302);
  });

  it('answers 502 when the issuer refuses the certificate (one the CA did not issue): invalid_client, no session', async () => {
    await mount({ mtls: { key: pki.stranger.key, cert: pki.stranger.cert, ca: pki.ca.cert } });
    const errors = provider.grantErrors.length;
    const b = new Browser();
    const done = await signIn(b);
    expect(done.status).toBe(502);
    expect(provider.grantErrors.slice(errors)).toContain('invalid_client');
    expect(calls('/token').at(-1)).toMatchObject({ verified: false });
    expect((await b.get(`${app.url}/access-token`, { accept: 'application/json' })).status).toBe(401);
  });

  it('refuses an issuer certificate it does not trust (no ca): 503, the token is never sent', async () => {
    await mount({ mtls: { key: pki.client.key, cert: pki.client.cert } });
    const before = calls('/token').length;
    const done = await signIn(new Browser());
    expect(done.status).toBe(503);
    expect(calls('/token').length).toBe(before);
  });
});

describe('mtls option checks (TypeError at start-up)', () => {
  const base = {
    issuerBaseURL: 'https://issuer.example',
    baseURL: 'https://app.example',
    clientID: 'c',
    secret: SECRET,
    session: { allowMemoryStore: true },
  };
  it.each<[string, Partial<AuthOptions>, string]>([
    [
      'tls_client_auth without mtls',
      { clientAuthMethod: 'tls_client_auth' },
      'Option "mtls" must be set. "tls_client_auth" authenticates with the TLS client certificate (RFC 8705 §2)',
    ],
    [
      'a key that is not PEM',
      { clientSecret: 's', mtls: { key: 'nope', cert: '' } },
      'Option "mtls.key" must be a PEM private key (string or Buffer).',
    ],
    [
      'a cert that is not PEM',
      { clientSecret: 's', mtls: { key: 'KEY', cert: 'nope' } },
      'Option "mtls.cert" must be a PEM certificate (string or Buffer).',
    ],
    [
      'a cert of another key',
      { clientSecret: 's', mtls: { key: 'CLIENT_KEY', cert: 'STRANGER_CERT' } },
      'Option "mtls.cert" must be the certificate of "mtls.key".',
    ],
    [
      'a ca that is not a certificate',
      { clientSecret: 's', mtls: { key: 'CLIENT_KEY', cert: 'CLIENT_CERT', ca: 'nope' } },
      'Option "mtls.ca" must be PEM CA certificate(s) (string or Buffer).',
    ],
  ])('%s', (_name, options, message) => {
    const fill = (value: unknown): unknown =>
      value === 'CLIENT_KEY'
        ? pki.client.key
        : value === 'CLIENT_CERT'
          ? pki.client.cert
          : value === 'STRANGER_CERT'
            ? pki.stranger.cert
            : value === 'KEY'
              ? pki.client.key
              : value;
    const mtls = options.mtls ? Object.fromEntries(Object.entries(options.mtls).map(([k, v]) => [k, fill(v)])) : undefined;
    expect(() => auth({ ...base, ...options, ...(mtls ? { mtls: mtls as never } : {}), logger: quiet })).toThrow(new TypeError(message));
  });
});
