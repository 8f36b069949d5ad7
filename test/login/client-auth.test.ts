/**
 * Client authentication at the token endpoint against a real authorization server (oidc-provider):
 * client_secret_jwt (RFC 7523 §2.2 with the client secret) and private_key_jwt with key rotation.
 */
import { createPrivateKey } from 'node:crypto';
import express from 'express';
import type { Redis } from 'ioredis';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { AuthOptions } from '../../src/index.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { signInAtProvider, type TestProviderOptions } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { accessTokenRoute, assertionRedis, cleanPrefix, startProviderApp, testPrefix, type ProviderApp } from './setup.js';

const prefix = testPrefix('client-auth');
let redis: Redis;

type Case = ProviderApp;

/** An app with a `/token` route at a new oidc-provider; no client secret unless `authOptions` gives one. */
async function startCase(providerOptions: Omit<TestProviderOptions, 'redirectUris'>, authOptions: Partial<AuthOptions>): Promise<Case> {
  return startProviderApp(providerOptions, {
    prefix,
    auth: { clientSecret: undefined, ...authOptions },
    app: (oidc) => express().use(oidc).get('/token', accessTokenRoute),
  });
}

async function signIn(c: Case, browser = new Browser()): Promise<Hop> {
  const login = await browser.get(`${c.url}/login`);
  const back = await signInAtProvider(browser, login.location!, c.url, 'alice');
  return browser.get(back.location!);
}

async function rsaKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
  };
}

/** The token endpoint was called `count` times, never with an `Authorization` header. */
async function expectTokenCallsWithoutAuthorization(c: Case, count: number): Promise<void> {
  const tokenPath = await c.provider.endpointPath('token_endpoint');
  const tokenCalls = c.provider.requests.filter((r) => r.path === tokenPath);
  expect(tokenCalls).toHaveLength(count);
  for (const call of tokenCalls) expect(call.headers.authorization).toBeUndefined();
}

beforeAll(() => {
  redis = assertionRedis();
});

afterAll(async () => {
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

describe('client_secret_jwt (RFC 7523 §2.2, OIDC Core §9)', () => {
  it('signs in and refreshes with an HS256 assertion keyed with the client secret', async () => {
    const c = await startCase(
      { tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: 'a-long-client-secret-for-hmac-0123456789', accessTokenTtl: 2 },
      {
        clientAuthMethod: 'client_secret_jwt',
        clientSecret: 'a-long-client-secret-for-hmac-0123456789',
      },
    );
    try {
      const browser = new Browser();
      expect((await signIn(c, browser)).status).toBe(302);
      expect(c.provider.grants.authorization_code).toBe(1);
      await pastExpiryOfTokensFromNow(2);
      expect((await browser.get(`${c.url}/token`)).status).toBe(200);
      expect(c.provider.grants.refresh_token).toBe(1);
      // No Basic credentials: the assertion in the body authenticates.
      await expectTokenCallsWithoutAuthorization(c, 2);
    } finally {
      await c.close();
    }
  });

  it('answers 502 when the issuer refuses the assertion (wrong secret): invalid_client, no session', async () => {
    const c = await startCase(
      { tokenEndpointAuthMethod: 'client_secret_jwt', clientSecret: 'a-long-client-secret-for-hmac-0123456789' },
      {
        clientAuthMethod: 'client_secret_jwt',
        clientSecret: 'not-the-registered-secret-0123456789abcdef',
      },
    );
    try {
      const browser = new Browser();
      expect((await signIn(c, browser)).status).toBe(502);
      expect(c.provider.grantErrors).toContain('invalid_client');
      expect(c.provider.grants.authorization_code).toBe(0);
    } finally {
      await c.close();
    }
  });
});

describe('private_key_jwt › key rotation (several keys with kid, the first signs)', () => {
  let oldKey: Awaited<ReturnType<typeof rsaKey>>;
  let newKey: Awaited<ReturnType<typeof rsaKey>>;
  beforeAll(async () => {
    oldKey = await rsaKey('client-2025');
    newKey = await rsaKey('client-2026');
  });

  it('signs in with [new, old] while the issuer knows both keys', async () => {
    const c = await startCase(
      {
        tokenEndpointAuthMethod: 'private_key_jwt',
        clientJwks: { keys: [oldKey.publicJwk, newKey.publicJwk] as Record<string, unknown>[] },
      },
      { clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: [newKey.privateJwk, oldKey.privateJwk] },
    );
    try {
      expect((await signIn(c)).status).toBe(302);
      expect(c.provider.grants.authorization_code).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('signs with the first key only: [new, old] fails (502) where the issuer knows only the old key, [old, new] works', async () => {
    const c = await startCase(
      { tokenEndpointAuthMethod: 'private_key_jwt', clientJwks: { keys: [oldKey.publicJwk] as Record<string, unknown>[] } },
      { clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: [newKey.privateJwk, oldKey.privateJwk] },
    );
    try {
      expect((await signIn(c)).status).toBe(502);
      expect(c.provider.grantErrors).toContain('invalid_client');
    } finally {
      await c.close();
    }
    const before = await startCase(
      { tokenEndpointAuthMethod: 'private_key_jwt', clientJwks: { keys: [oldKey.publicJwk] as Record<string, unknown>[] } },
      { clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: [oldKey.privateJwk, newKey.privateJwk] },
    );
    try {
      expect((await signIn(before)).status).toBe(302);
    } finally {
      await before.close();
    }
  });
});

describe('private_key_jwt › a private KeyObject (crypto.createPrivateKey())', () => {
  it('signs in with a KeyObject, as the migration guide tells users to make one from a PEM', async () => {
    const key = await rsaKey('client-keyobject');
    const keyObject = createPrivateKey({ key: key.privateJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    const c = await startCase(
      { tokenEndpointAuthMethod: 'private_key_jwt', clientJwks: { keys: [key.publicJwk] as Record<string, unknown>[] } },
      { clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: keyObject },
    );
    try {
      expect((await signIn(c)).status).toBe(302);
      expect(c.provider.grants.authorization_code).toBe(1);
    } finally {
      await c.close();
    }
  });
});

describe("public clients: clientAuthMethod 'none' (RFC 6749 §2.1) with PKCE (RFC 7636)", () => {
  it('signs in and refreshes with no client secret: client_id in the body, no Authorization header, a code_verifier', async () => {
    const c = await startCase({ tokenEndpointAuthMethod: 'none', accessTokenTtl: 2 }, { clientAuthMethod: 'none' });
    try {
      const browser = new Browser();
      const login = await browser.get(`${c.url}/login`);
      expect(new URL(login.location!).searchParams.get('code_challenge_method')).toBe('S256');
      const back = await signInAtProvider(browser, login.location!, c.url, 'alice');
      expect((await browser.get(back.location!)).status).toBe(302);
      await pastExpiryOfTokensFromNow(2);
      expect((await browser.get(`${c.url}/token`)).status).toBe(200);
      expect(c.provider.grants).toEqual({ authorization_code: 1, refresh_token: 1 });
      await expectTokenCallsWithoutAuthorization(c, 2);
    } finally {
      await c.close();
    }
  });
});
