import { inspect } from 'node:util';
import express from 'express';
import request from 'supertest';
import { requireBearer, requiredScopes } from '../../src/bearer/middleware.js';
import { keyOf, VerifiedTokenCache } from '../../src/bearer/cache.js';
import type { BearerAuth } from '../../src/bearer/types.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken, nowSeconds } from '../support/tokens.js';
import { AUDIENCE, guardedApp, memoryLogger } from './fixtures.js';

function auth(token: string, payload: Record<string, unknown> = {}): BearerAuth {
  return {
    payload: { sub: 's', ...payload },
    header: { alg: 'ES256' },
    token,
    scopes: ['a'],
    issuer: 'https://i.example.test',
    kind: 'jwt',
  };
}

describe('VerifiedTokenCache', () => {
  const t0 = 1_700_000_000_000;

  it('returns a hit with the token, and counts hits and misses', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('tok-1'), t0 + 60_000, t0);
    expect(cache.get('tok-1', 5, t0 + 1000)).toMatchObject({ token: 'tok-1', payload: { sub: 's' }, scopes: ['a'] });
    expect(cache.get('tok-2', 5, t0 + 1000)).toBeUndefined();
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
  });

  it('drops the least recently used entry beyond max', () => {
    const cache = new VerifiedTokenCache({ max: 2, maxTtlSeconds: 300 });
    cache.set(auth('a'), undefined, t0);
    cache.set(auth('b'), undefined, t0);
    expect(cache.get('a', 5, t0)).toBeDefined(); // a is now the most recent
    cache.set(auth('c'), undefined, t0);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 5, t0)).toBeUndefined();
    expect(cache.get('a', 5, t0)).toBeDefined();
    expect(cache.get('c', 5, t0)).toBeDefined();
  });

  it("never keeps an entry past the given limit (the token's exp)", () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('a'), t0 + 10_000, t0);
    expect(cache.get('a', 0, t0 + 9_999)).toBeDefined();
    expect(cache.get('a', 0, t0 + 10_000)).toBeUndefined();
  });

  it('never keeps an entry past maxTtlSeconds', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 2 });
    cache.set(auth('a'), t0 + 3_600_000, t0);
    expect(cache.get('a', 0, t0 + 1_999)).toBeDefined();
    expect(cache.get('a', 0, t0 + 2_000)).toBeUndefined();
  });

  it('re-checks exp and nbf against the clock on every hit', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    const exp = t0 / 1000 + 10;
    cache.set(auth('a', { exp }), undefined, t0); // a caller forgetting the limit is still safe
    expect(cache.get('a', 0, t0 + 9_000)).toBeDefined();
    expect(cache.get('a', 0, t0 + 10_000)).toBeUndefined();
    const nbf = t0 / 1000 + 3;
    cache.set(auth('b', { nbf }), undefined, t0);
    expect(cache.get('b', 0, t0)).toBeUndefined();
  });

  it('stores nothing with max 0 or an already expired limit', () => {
    const none = new VerifiedTokenCache({ max: 0, maxTtlSeconds: 300 });
    none.set(auth('a'), undefined, t0);
    expect(none.size).toBe(0);
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('a'), t0 - 1, t0);
    expect(cache.size).toBe(0);
  });

  it('hands out copies: editing req.auth does not change later hits', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('a'), undefined, t0);
    const first = cache.get('a', 0, t0)!;
    first.payload.sub = 'changed';
    first.scopes.push('admin');
    expect(cache.get('a', 0, t0)).toMatchObject({ payload: { sub: 's' }, scopes: ['a'] });
  });

  it('takes the key the caller already worked out (keyOf) as if it had hashed the token itself', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('tok-1'), undefined, t0, keyOf('tok-1'));
    cache.set(auth('tok-2'), undefined, t0);
    expect(cache.get('tok-1', 5, t0)).toMatchObject({ token: 'tok-1' });
    expect(cache.get('tok-2', 5, t0, keyOf('tok-2'))).toMatchObject({ token: 'tok-2' });
    expect(cache.size).toBe(2);
  });

  it('moves a token stored again to the back of the order (two requests verified it at once)', () => {
    const cache = new VerifiedTokenCache({ max: 2, maxTtlSeconds: 300 });
    cache.set(auth('a'), undefined, t0);
    cache.set(auth('b'), undefined, t0);
    cache.set(auth('a', { sub: 'again' }), undefined, t0);
    expect(cache.size).toBe(2);
    cache.set(auth('c'), undefined, t0);
    expect(cache.get('b', 5, t0)).toBeUndefined();
    expect(cache.get('a', 5, t0)).toMatchObject({ payload: { sub: 'again' } });
    expect(cache.get('c', 5, t0)).toBeDefined();
  });

  it('entries may share one stored header, yet every hit gets its own copy', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    const header = (kid: string) => ({ alg: 'ES256', kid, typ: 'at+jwt' });
    cache.set({ ...auth('a'), header: header('k1') }, undefined, t0);
    cache.set({ ...auth('b'), header: header('k1') }, undefined, t0);
    cache.set({ ...auth('c'), header: header('k2') }, undefined, t0);
    cache.set({ ...auth('d'), header: { alg: 'ES256', kid: 'k2' } }, undefined, t0);
    const a = cache.get('a', 0, t0)!;
    const b = cache.get('b', 0, t0)!;
    expect(a.header).toEqual(header('k1'));
    expect(a.header).not.toBe(b.header);
    a.header!.kid = 'changed';
    expect(cache.get('b', 0, t0)!.header).toEqual(header('k1'));
    expect(cache.get('a', 0, t0)!.header).toEqual(header('k1'));
    expect(cache.get('c', 0, t0)!.header).toEqual(header('k2'));
    // One member fewer is another header.
    expect(cache.get('d', 0, t0)!.header).toEqual({ alg: 'ES256', kid: 'k2' });
    // So are the same members in another order: each hit keeps its token's order.
    cache.set({ ...auth('e'), header: { kid: 'k2', alg: 'ES256' } }, undefined, t0);
    expect(Object.keys(cache.get('e', 0, t0)!.header!)).toEqual(['kid', 'alg']);
    expect(Object.keys(cache.get('d', 0, t0)!.header!)).toEqual(['alg', 'kid']);
  });

  it('entries may share equal claim strings and scopes, and each hit still has its own claims and copies', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    const claims = (sub: string, scope: string) => ({ iss: 'https://i.example.test', aud: 'api', sub, scope, nested: { roles: ['r'] } });
    cache.set({ ...auth('a', claims('1', 'read')), scopes: ['read'] }, undefined, t0);
    cache.set({ ...auth('b', claims('2', 'read')), scopes: ['read'] }, undefined, t0);
    cache.set({ ...auth('c', claims('2', 'write')), scopes: ['write'] }, undefined, t0);
    const a = cache.get('a', 0, t0)!;
    expect(a).toMatchObject({ payload: claims('1', 'read'), scopes: ['read'] });
    expect(cache.get('b', 0, t0)).toMatchObject({ payload: claims('2', 'read'), scopes: ['read'] });
    expect(cache.get('c', 0, t0)).toMatchObject({ payload: claims('2', 'write'), scopes: ['write'] });
    a.scopes.push('admin');
    a.payload.iss = 'changed';
    expect(cache.get('b', 0, t0)).toMatchObject({ payload: { iss: 'https://i.example.test' }, scopes: ['read'] });
    // Nested claim objects are frozen once stored, as before.
    expect(Object.isFrozen(cache.get('b', 0, t0)!.payload.nested)).toBe(true);
  });

  it('does not hold the token itself', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    cache.set(auth('secret-token-value'), undefined, t0);
    const internals = JSON.stringify([...(cache as unknown as { entries: Map<string, unknown> }).entries]);
    expect(internals).not.toContain('secret-token-value');
  });
});

describe('requireBearer() verified-token cache', () => {
  let jwks: JwksServer;
  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['ES256'] });
  });
  afterAll(async () => {
    await jwks.close();
  });
  const options = () => ({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE });

  it('answers a repeated token from the cache', async () => {
    const { app, guard } = guardedApp(options());
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE });
    for (let i = 0; i < 3; i += 1) expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(guard.verifier.cache?.hits).toBe(2);
    expect(guard.verifier.cache?.size).toBe(1);
  });

  it('an app editing req.auth changes nothing later requests see, the first request included', async () => {
    const { app } = guardedApp(options(), (a) =>
      a.get('/api/edit', (req, res) => {
        const seen = { sub: req.auth!.payload.sub, kid: req.auth!.header!.kid, scopes: [...req.auth!.scopes], scheme: req.auth!.scheme };
        req.auth!.payload.sub = 'changed';
        req.auth!.header!.kid = 'changed';
        req.auth!.scopes.push('admin');
        res.json(seen);
      }),
    );
    const mint = () => mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read' } });
    const token = await mint();
    const expected = { sub: 'user-123', kid: jwks.key.kid, scopes: ['read'], scheme: 'Bearer' };
    // First seen (verified), then twice from the cache; then another token (its entry may share the header).
    for (let i = 0; i < 3; i += 1)
      expect((await request(app).get('/api/edit').set('Authorization', `Bearer ${token}`)).body).toEqual(expected);
    const other = await mint();
    for (let i = 0; i < 2; i += 1)
      expect((await request(app).get('/api/edit').set('Authorization', `Bearer ${other}`)).body).toEqual(expected);
  });

  it('answers the scope checks after a cache hit with the options of the guard that accepted the token', async () => {
    // A hit leaves no per-request record: the result carries its guard's answer on its prototype.
    const app = express();
    const handled: string[] = [];
    const errorHandler = (
      err: { code: string; status: number; headers: Record<string, string> },
      _req: express.Request,
      res: express.Response,
    ) => {
      handled.push(err.code);
      res.status(err.status).set(err.headers).json({ custom: err.code });
    };
    const orders = requireBearer({ ...options(), realm: 'orders', logger: memoryLogger(), errorHandler });
    const billing = requireBearer({ ...options(), realm: 'billing', logger: memoryLogger() });
    app.get('/orders', orders, requiredScopes('admin'), (_req, res) => void res.end());
    // Two guards on one route: the checks answer for the last one, which set req.auth.
    app.get('/billing', orders, billing, requiredScopes('admin'), (_req, res) => void res.end());
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read' } });
    const scopeChallenge = (realm: string) =>
      `Bearer realm="${realm}", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"`;
    for (let i = 0; i < 3; i += 1) {
      const res = await request(app).get('/orders').set('Authorization', `Bearer ${token}`);
      expect([res.status, res.headers['www-authenticate'], res.body]).toEqual([
        403,
        scopeChallenge('orders'),
        { custom: 'insufficient_scope' },
      ]);
      const other = await request(app).get('/billing').set('Authorization', `Bearer ${token}`);
      expect([other.status, other.headers['www-authenticate'], other.body.error]).toEqual([
        403,
        scopeChallenge('billing'),
        'insufficient_scope',
      ]);
    }
    expect(handled).toEqual(['insufficient_scope', 'insufficient_scope', 'insufficient_scope']);
    expect(orders.verifier.cache?.hits).toBe(5);
    expect(billing.verifier.cache?.hits).toBe(2);
    // The first guard verifies (a miss, recorded for the request), the second answers from its cache.
    const second = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read' } });
    await billing.verifier.verify(second);
    const res = await request(app).get('/billing').set('Authorization', `Bearer ${second}`);
    expect([res.status, res.headers['www-authenticate']]).toEqual([403, scopeChallenge('billing')]);
    expect(billing.verifier.cache?.hits).toBe(3);
  });

  it('hands out results from the cache that look like plain objects (inspect, JSON, keys, toStrictEqual)', async () => {
    const { guard } = guardedApp(options());
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read' } });
    const fresh = await guard.verifier.verify(token);
    const hit = await guard.verifier.verify(token);
    expect(guard.verifier.cache?.hits).toBe(1);
    expect(hit).toStrictEqual(fresh);
    expect(hit.constructor).toBe(Object);
    expect(Object.keys(hit)).toEqual(Object.keys(fresh));
    expect(Object.getOwnPropertySymbols(hit)).toEqual([]);
    expect(JSON.stringify(hit)).toBe(JSON.stringify(fresh));
    expect(inspect(hit, { depth: 0 })).toBe(inspect(fresh, { depth: 0 }));
  });

  it('does not cache refused tokens', async () => {
    const { app, guard } = guardedApp(options());
    const expired = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { exp: nowSeconds() - 60 } });
    for (let i = 0; i < 2; i += 1) expect((await request(app).get('/api/me').set('Authorization', `Bearer ${expired}`)).status).toBe(401);
    expect(guard.verifier.cache?.size).toBe(0);
  });

  it('keeps an entry no longer than exp (and maxTtlSeconds)', async () => {
    const { guard } = guardedApp({ ...options(), cache: { max: 5, maxTtlSeconds: 60 } });
    const exp = nowSeconds() + 30;
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { exp } });
    await guard.verifier.verify(token);
    expect(guard.verifier.cache?.get(token, 0, exp * 1000 - 1)).toBeDefined();
    expect(guard.verifier.cache?.get(token, 0, exp * 1000)).toBeUndefined();
  });

  it('keeps an entry no longer than iat + maxTokenAge', async () => {
    const { guard } = guardedApp({ ...options(), maxTokenAge: 20, clockTolerance: 0 });
    const iat = nowSeconds();
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { iat } });
    await guard.verifier.verify(token);
    expect(guard.verifier.cache?.get(token, 0, (iat + 20) * 1000 - 1)).toBeDefined();
    expect(guard.verifier.cache?.get(token, 0, (iat + 20) * 1000)).toBeUndefined();
  });

  it('is off with cache: false', async () => {
    const { app, guard } = guardedApp({ ...options(), cache: false });
    const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE });
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(guard.verifier.cache).toBeUndefined();
  });
});
