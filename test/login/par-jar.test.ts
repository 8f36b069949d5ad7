/**
 * Pushed Authorization Requests (RFC 9126) and signed request objects (JAR, RFC 9101), alone and
 * together, against a real authorization server (oidc-provider) with those features switched on.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import type { AuthOptions } from '../../src/index.js';
import { signInAtProvider, type TestProviderOptions } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { assertionRedis, cleanPrefix, startProviderApp, testPrefix, type ProviderApp } from './setup.js';

const prefix = testPrefix('par-jar');
let redis: Redis;

type Case = ProviderApp;

/** An app with a public `/` and a `/bad-prompt` sign-in at a new oidc-provider. */
async function startCase(providerOptions: Omit<TestProviderOptions, 'redirectUris'>, authOptions: Partial<AuthOptions>): Promise<Case> {
  return startProviderApp(providerOptions, {
    prefix,
    auth: authOptions,
    app: (oidc) =>
      express()
        .use(oidc)
        .get('/', (req, res) => {
          res.json({ signedIn: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
        })
        .get('/bad-prompt', (_req, res) => {
          void res.oidc.login({ authorizationParams: { prompt: 'not-a-prompt' } });
        }),
  });
}

async function signIn(c: Case, browser: Browser, login: Hop): Promise<Hop> {
  expect(login.status).toBe(302);
  const back = await signInAtProvider(browser, login.location!, c.url, 'alice');
  return browser.get(back.location!);
}

async function signedIn(c: Case, browser: Browser): Promise<boolean> {
  return (JSON.parse((await browser.get(`${c.url}/`, { accept: 'application/json' })).text) as { signedIn: boolean }).signedIn;
}

async function pushes(c: Case): Promise<number> {
  const path = await c.provider.endpointPath('pushed_authorization_request_endpoint');
  return c.provider.requests.filter((r) => r.method === 'POST' && r.path === path).length;
}

type PublicKey = Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];

async function ecKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK; publicKey: PublicKey }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
    publicKey,
  };
}

beforeAll(() => {
  redis = assertionRedis();
});

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('RFC 9126 pushed authorization requests', () => {
  it('are used when the issuer’s metadata says require_pushed_authorization_requests: the redirect carries only client_id and request_uri', async () => {
    const c = await startCase(
      { features: { pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true } } },
      {},
    );
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login?returnTo=/after`);
      const url = new URL(login.location!);
      expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      expect(url.searchParams.get('client_id')).toBe(c.provider.clientId);
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      expect(await pushes(c)).toBe(1);
      const done = await signIn(c, browser, login);
      expect(done.status).toBe(302);
      expect(done.location).toBe(`${c.url}/after`);
      expect(await signedIn(c, browser)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('are used with pushedAuthorizationRequests: true when the issuer does not require them', async () => {
    const c = await startCase({}, { pushedAuthorizationRequests: true });
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login`);
      expect([...new URL(login.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      expect(await pushes(c)).toBe(1);
      expect((await signIn(c, browser, login)).status).toBe(302);
      expect(await signedIn(c, browser)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('are not used by default when the issuer does not require them', async () => {
    const c = await startCase({}, {});
    try {
      const login = await new Browser().get(`${c.url}/login`);
      expect(new URL(login.location!).searchParams.get('state')).not.toBeNull();
      expect(await pushes(c)).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('a push the issuer refuses (400 invalid_request) answers a 400 page and leaves no transaction', async () => {
    const c = await startCase({}, { pushedAuthorizationRequests: true });
    try {
      const browser = new Browser();
      const keysBefore = (await redis.keys(`${prefix}sess:*`)).length;
      const hop = await browser.get(`${c.url}/bad-prompt`);
      expect(hop.status).toBe(400);
      expect(hop.location).toBeUndefined();
      expect(hop.text).toContain('The authorization server refused the sign-in request (invalid_request).');
      expect(hop.headers.get('cache-control')).toContain('no-store');
      expect(browser.cookies(c.url).size).toBe(0);
      expect((await redis.keys(`${prefix}sess:*`)).length).toBe(keysBefore);
      expect(await pushes(c)).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('a push refused for the client’s credentials (401 invalid_client) answers 502 and leaves no transaction', async () => {
    const c = await startCase({}, { pushedAuthorizationRequests: true, clientSecret: 'not-the-registered-secret' });
    try {
      const browser = new Browser();
      const hop = await browser.get(`${c.url}/login`, { accept: 'application/json' });
      expect(hop.status).toBe(502);
      expect(JSON.parse(hop.text)).toEqual({
        error: 'server_error',
        error_description: 'The authorization server refused the pushed authorization request.',
      });
      expect(browser.cookies(c.url).size).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('pushedAuthorizationRequests: true against an issuer without a PAR endpoint answers 502', async () => {
    const c = await startCase({ features: { pushedAuthorizationRequests: { enabled: false } } }, { pushedAuthorizationRequests: true });
    try {
      const browser = new Browser();
      const hop = await browser.get(`${c.url}/login`);
      expect(hop.status).toBe(502);
      expect(hop.text).toContain('The authorization server has no pushed authorization request endpoint.');
      expect(browser.cookies(c.url).size).toBe(0);
    } finally {
      await c.close();
    }
  });
});

describe('RFC 9101 signed request objects (JAR)', () => {
  let key: Awaited<ReturnType<typeof ecKey>>;
  beforeAll(async () => {
    key = await ecKey('request-key-1');
  });

  const jarClient = (): Omit<TestProviderOptions, 'redirectUris'> => ({
    features: { requestObjects: { enabled: true } },
    clientJwks: { keys: [key.publicJwk as Record<string, unknown>] },
    clientMetadata: { require_signed_request_object: true, request_object_signing_alg: 'ES256' },
  });

  it('sends the parameters as a signed request object by value: client_id and request only', async () => {
    const c = await startCase(jarClient(), { requestObject: { signingKey: key.privateJwk } });
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login`);
      const url = new URL(login.location!);
      expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
      const request = url.searchParams.get('request')!;
      expect(decodeProtectedHeader(request)).toEqual({ alg: 'ES256', typ: 'oauth-authz-req+jwt', kid: 'request-key-1' });
      const { payload } = await jwtVerify(request, key.publicKey, {
        issuer: c.provider.clientId,
        audience: c.provider.issuer,
        typ: 'oauth-authz-req+jwt',
      });
      expect(payload).toMatchObject({
        client_id: c.provider.clientId,
        response_type: 'code',
        redirect_uri: `${c.url}/callback`,
        scope: 'openid profile email',
        code_challenge_method: 'S256',
      });
      expect(typeof payload.state).toBe('string');
      expect(typeof payload.nonce).toBe('string');
      expect(typeof payload.jti).toBe('string');
      expect(payload.exp! - payload.iat!).toBe(300);
      expect((await signIn(c, browser, login)).status).toBe(302);
      expect(await signedIn(c, browser)).toBe(true);
    } finally {
      await c.close();
    }
  });

  it('without requestObject the same client is refused (the issuer demands a signed request)', async () => {
    const c = await startCase(jarClient(), {});
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login`);
      const back = await signInAtProvider(browser, login.location!, c.url, 'alice');
      const done = await browser.get(back.location!);
      expect(done.status).toBe(400);
      expect(await signedIn(c, browser)).toBe(false);
    } finally {
      await c.close();
    }
  });

  it('pushes the signed request object when PAR is on too (private_key_jwt at the PAR endpoint)', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const clientKey = { ...(await exportJWK(privateKey)), kid: 'client-auth-1', alg: 'RS256' };
    const c = await startCase(
      {
        features: {
          requestObjects: { enabled: true },
          pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
        },
        tokenEndpointAuthMethod: 'private_key_jwt',
        clientJwks: {
          keys: [key.publicJwk, { ...(await exportJWK(publicKey)), kid: 'client-auth-1', alg: 'RS256', use: 'sig' }] as Record<
            string,
            unknown
          >[],
        },
        clientMetadata: { require_signed_request_object: true, request_object_signing_alg: 'ES256' },
      },
      {
        requestObject: { signingKey: key.privateJwk, alg: 'ES256' },
        clientAuthMethod: 'private_key_jwt',
        clientAssertionSigningKey: clientKey,
      },
    );
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login`);
      expect([...new URL(login.location!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
      expect(await pushes(c)).toBe(1);
      expect((await signIn(c, browser, login)).status).toBe(302);
      expect(await signedIn(c, browser)).toBe(true);
    } finally {
      await c.close();
    }
  });
});
