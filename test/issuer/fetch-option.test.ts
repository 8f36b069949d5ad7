/**
 * The `fetch` option of `auth()` and `requireBearer()` (issue 16 B): every issuer call of either
 * half goes through the app's function, and the package's own rules (timeout, size cap, no
 * redirects) still hold around it, whatever that function does.
 */
import express from 'express';
import request from 'supertest';
import { auth, requireBearer, type FetchFunction } from '../../src/index.js';
import { fetchJson } from '../../src/issuer/http.js';
import {
  signInAtProvider,
  startIntrospectionProvider as startBearerProvider,
  CLIENTS,
  JWT_API,
  OPAQUE_API,
  type IntrospectionProvider as BearerProvider,
} from '../support/provider.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { Browser } from '../support/browser.js';
import { guardedApp } from '../bearer/fixtures.js';
import { cleansPrefixAfterAll, startProviderApp, testPrefix, waitFor } from '../login/setup.js';
import { quiet } from '../support/redis.js';
import { startForwardProxy } from './forward-proxy.js';

const MARK = 'x-through-the-fetch-option';

/** A fetch that marks and records every call, then sends it with Node's fetch. */
function countingFetch(): { fetch: FetchFunction; calls: Array<{ method: string; url: string }> } {
  const calls: Array<{ method: string; url: string }> = [];
  return {
    calls,
    fetch: (url, init) => {
      calls.push({ method: init.method, url });
      return fetch(url, { ...init, headers: { ...init.headers, [MARK]: '1' } });
    },
  };
}

describe('auth({ fetch })', () => {
  const prefix = testPrefix('fetch-option');
  cleansPrefixAfterAll(prefix);

  it('carries discovery, PAR, the token request, the JWKS, UserInfo and revocation of a sign-in and logout', async () => {
    const counting = countingFetch();
    const app = await startProviderApp(
      {},
      {
        prefix,
        auth: { fetch: counting.fetch, pushedAuthorizationRequests: true, mergeUserInfo: true, revokeOnLogout: true },
        app: (oidc) =>
          express()
            .use(oidc)
            .get('/me', (req, res) => res.json({ name: req.oidc.user?.name ?? null })),
      },
    );
    try {
      const { provider } = app;
      const browser = new Browser();
      const login = await browser.get(`${app.url}/login`);
      const back = await signInAtProvider(browser, login.location!, app.url, 'alice');
      expect((await browser.get(back.location!)).status).toBe(302);
      expect(JSON.parse((await browser.get(`${app.url}/me`, { accept: 'application/json' })).text)).toEqual({ name: 'User alice' });
      const revoked = provider.revocations;
      await browser.get(`${app.url}/logout`);
      await waitFor(() => provider.revocations > revoked, 5000, 'revocation');

      const endpoints = {
        discovery: '/.well-known/openid-configuration',
        par: await provider.endpointPath('pushed_authorization_request_endpoint'),
        token: await provider.endpointPath('token_endpoint'),
        jwks: await provider.endpointPath('jwks_uri'),
        userinfo: await provider.endpointPath('userinfo_endpoint'),
        revocation: await provider.endpointPath('revocation_endpoint'),
      };
      const backChannel = new Set(Object.values(endpoints));
      // What the issuer received on its back-channel endpoints, each marked by the app's fetch...
      const received = provider.requests.filter((r) => backChannel.has(r.path));
      const fromApp = received.filter((r) => r.headers[MARK] === '1');
      expect(fromApp.map((r) => r.path).sort()).toEqual(counting.calls.map((c) => new URL(c.url).pathname).sort());
      // ...and every endpoint was used.
      expect(new Set(counting.calls.map((c) => new URL(c.url).pathname))).toEqual(backChannel);
      // The test's own discovery reads (endpointPath) are the only unmarked back-channel requests.
      expect(received.filter((r) => r.headers[MARK] !== '1').every((r) => r.path === endpoints.discovery)).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('refuses a fetch that is not a function, and suggests it for a typo', () => {
    const base = {
      issuerBaseURL: 'https://issuer.example',
      baseURL: 'https://app.example',
      clientID: 'c',
      clientSecret: 's',
      secret: 'a-session-secret-of-at-least-32-characters',
      session: { allowMemoryStore: true },
      logger: quiet,
    };
    expect(() => auth({ ...base, fetch: 'undici' as unknown as FetchFunction })).toThrow(
      new TypeError('Option "fetch" must be a function.'),
    );
    expect(() => auth({ ...base, fecth: fetch } as never)).toThrow(/"fecth".*"fetch"/);
  });
});

describe('requireBearer({ fetch })', () => {
  let jwks: JwksServer;
  let provider: BearerProvider;
  beforeAll(async () => {
    jwks = await startJwksServer();
    provider = await startBearerProvider();
  });
  afterAll(async () => {
    await jwks.close();
    await provider.close();
  });

  it('carries discovery and the JWKS request of a JWT issuer', async () => {
    const counting = countingFetch();
    const before = { ...jwks.counts };
    const { app } = guardedApp({ issuerBaseURL: jwks.issuer, audience: 'https://api.example.test', fetch: counting.fetch });
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer });
    expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
    expect(counting.calls).toEqual([
      { method: 'GET', url: `${jwks.issuer}/.well-known/openid-configuration` },
      { method: 'GET', url: jwks.jwksUri },
    ]);
    expect([jwks.counts.discovery - before.discovery, jwks.counts.jwks - before.jwks]).toEqual([1, 1]);
  });

  it('carries introspection (RFC 7662) and the discovery before it', async () => {
    const counting = countingFetch();
    const { app } = guardedApp({
      issuerBaseURL: provider.issuer,
      audience: OPAQUE_API,
      introspection: { clientId: CLIENTS.resourceServer.id, clientSecret: CLIENTS.resourceServer.secret },
      fetch: counting.fetch,
    });
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read');
    const before = provider.introspections();
    expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
    const paths = counting.calls.map((c) => `${c.method} ${new URL(c.url).pathname}`);
    expect(paths).toEqual(['GET /.well-known/openid-configuration', 'POST /token/introspection']);
    expect(provider.introspections() - before).toBe(1);
  });

  it('carries the JWKS of a JWT from an oidc-provider issuer', async () => {
    const counting = countingFetch();
    const { app } = guardedApp({ issuerBaseURL: provider.issuer, audience: JWT_API, fetch: counting.fetch });
    const token = await provider.clientCredentialsToken(JWT_API, 'read');
    expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
    expect(counting.calls.map((c) => new URL(c.url).pathname)).toEqual(['/.well-known/openid-configuration', '/jwks']);
  });

  it('wins over HTTP_PROXY: the proxy sees nothing', async () => {
    const proxy = await startForwardProxy();
    const saved = process.env.HTTP_PROXY;
    try {
      process.env.HTTP_PROXY = proxy.url;
      const counting = countingFetch();
      const { app } = guardedApp({ issuerBaseURL: jwks.issuer, audience: 'https://api.example.test', fetch: counting.fetch });
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
      const token = await mintToken({ key: jwks.key, issuer: jwks.issuer });
      expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect([counting.calls.length, proxy.relayed.length]).toEqual([2, 0]);
    } finally {
      if (saved === undefined) delete process.env.HTTP_PROXY;
      else process.env.HTTP_PROXY = saved;
      await proxy.close();
    }
  });

  it('refuses a fetch that is not a function', () => {
    expect(() => requireBearer({ issuerBaseURL: jwks.issuer, audience: 'a', fetch: {} as FetchFunction })).toThrow(
      new TypeError('Option "fetch" must be a function.'),
    );
  });
});

describe("the rules around an app's fetch", () => {
  const url = 'https://issuer.example/.well-known/openid-configuration';
  const answer = (body: ReadableStream<Uint8Array> | null, init: { status?: number; headers?: Record<string, string> } = {}) =>
    new Response(body, { status: init.status ?? 200, headers: init.headers ?? {} });

  it('times out a fetch that ignores the abort signal and never answers', async () => {
    const hang: FetchFunction = () => new Promise(() => undefined);
    await expect(fetchJson(url, { timeoutMs: 100, transport: { fetch: hang } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'timeout',
    });
  });

  it('times out a body that stops half-way, even when the fetch ignores the signal', async () => {
    const stalled: FetchFunction = async () =>
      answer(new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('{"issuer":')) }));
    await expect(fetchJson(url, { timeoutMs: 100, transport: { fetch: stalled } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'timeout',
    });
  });

  it('stops reading an endless body at the size cap', async () => {
    let pulled = 0;
    const endless: FetchFunction = async () =>
      answer(
        new ReadableStream<Uint8Array>({
          pull: (controller) => {
            pulled += 1;
            controller.enqueue(new Uint8Array(64 * 1024).fill(32));
          },
        }),
      );
    await expect(fetchJson(url, { timeoutMs: 5000, maxBytes: 256 * 1024, transport: { fetch: endless } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'too_large',
    });
    expect(pulled).toBeLessThan(10);
  });

  it('refuses a declared length over the cap before reading', async () => {
    const big: FetchFunction = async () =>
      answer(new ReadableStream<Uint8Array>(), { headers: { 'content-length': String(10 * 1024 * 1024) } });
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: big } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'too_large',
    });
  });

  it('asks for redirect: manual, and refuses an answer the fetch reached by following a redirect', async () => {
    const seen: string[] = [];
    const follows: FetchFunction = async (_url, init) => {
      seen.push(init.redirect);
      return { status: 200, redirected: true, headers: new Headers(), body: null };
    };
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: follows } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'redirect',
    });
    expect(seen).toEqual(['manual']);
  });

  it('refuses a 3xx answer', async () => {
    const redirects: FetchFunction = async () => answer(null, { status: 302, headers: { location: 'https://elsewhere.example/' } });
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: redirects } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'redirect',
    });
  });

  it('reads a body that is a Node stream (an async iterable), as node-fetch answers', async () => {
    const { Readable } = await import('node:stream');
    const nodeStyle: FetchFunction = async () => ({
      status: 200,
      headers: new Map([['content-type', 'application/json']]),
      body: Readable.from([Buffer.from('{"iss'), Buffer.from('uer":"x"}')]),
    });
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: nodeStyle } })).resolves.toMatchObject({
      status: 200,
      body: { issuer: 'x' },
    });
  });

  it('turns a fetch that throws, or answers no Response, into a network error', async () => {
    const throws: FetchFunction = () => Promise.reject(new Error('ECONNREFUSED'));
    const nothing = (async () => undefined) as unknown as FetchFunction;
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: throws } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'network',
    });
    await expect(fetchJson(url, { timeoutMs: 5000, transport: { fetch: nothing } })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'network',
    });
  });
});
