/**
 * The guard's synchronous path for a first-seen token: a plain JWT whose signature is checked
 * inline is verified, cached and answered before the middleware returns (no promise, no WeakMap
 * entry), and what the app and the checks after the guard see is what the async path gives.
 */
import { availableParallelism } from 'node:os';
import { inspect } from 'node:util';
import express, { type Request, type RequestHandler, type Response } from 'express';
import request from 'supertest';
import { requireBearer, requiredScopes } from '../../src/bearer/middleware.js';
import type { InternalBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerAuth } from '../../src/bearer/types.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { AUDIENCE, memoryLogger } from './fixtures.js';

interface Call {
  /** Whether next() ran before the middleware returned. */
  sameTick: boolean;
  done: Promise<{ err: unknown; auth: BearerAuth | undefined; status: number }>;
}

/** Calls the guard once, noting whether it answered before returning. */
function call(guard: RequestHandler, token: string): Call {
  let answered = false;
  let finish!: (value: { err: unknown; auth: BearerAuth | undefined; status: number }) => void;
  const done = new Promise<{ err: unknown; auth: BearerAuth | undefined; status: number }>((resolve) => (finish = resolve));
  const req = {
    headers: { authorization: `Bearer ${token}` },
    method: 'GET',
    url: '/api',
    originalUrl: '/api',
    body: undefined,
  } as unknown as Request;
  const res = {
    statusCode: 200,
    headersSent: false,
    setHeader() {},
    end() {
      answered = true;
      finish({ err: undefined, auth: undefined, status: (res as { statusCode: number }).statusCode });
    },
  };
  guard(req, res as unknown as Response, (err?: unknown) => {
    answered = true;
    finish({ err, auth: req.auth, status: 200 });
  });
  return { sameTick: answered, done };
}

describe('requireBearer(): a first-seen token verified inline is answered in the same tick', () => {
  let jwks: JwksServer;
  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['RS256', 'ES256'] });
  });
  afterAll(async () => {
    await jwks.close();
  });
  const options = () => ({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE, logger: memoryLogger() });
  const mint = (alg: 'RS256' | 'ES256', claims: Record<string, unknown> = { scope: 'read' }) =>
    mintToken({ key: jwks.keys.find((k) => k.alg === alg)!, issuer: jwks.issuer, audience: AUDIENCE, claims });

  /** A guard whose keys and config are loaded (its first token goes through jose). */
  async function warmGuard(extra: Record<string, unknown> = {}): Promise<ReturnType<typeof requireBearer>> {
    const guard = requireBearer({ ...options(), ...extra });
    for (const alg of ['RS256', 'ES256'] as const) expect((await call(guard, await mint(alg)).done).err).toBeUndefined();
    return guard;
  }

  it('RS256: next() before the middleware returns, whatever the number of cores, and the token is cached', async () => {
    const guard = await warmGuard();
    const token = await mint('RS256');
    const first = call(guard, token);
    expect(first.sameTick).toBe(true);
    const { err, auth } = await first.done;
    expect(err).toBeUndefined();
    expect(auth).toMatchObject({ token, scheme: 'Bearer', kind: 'jwt', scopes: ['read'], payload: { sub: 'user-123' } });
    const size = guard.verifier.cache!.size;
    const hits = guard.verifier.cache!.hits;
    expect(call(guard, token).sameTick).toBe(true);
    expect([guard.verifier.cache!.size, guard.verifier.cache!.hits]).toEqual([size, hits + 1]);
  });

  it('ES256: in the same tick when the process may use one core; on the threadpool with more', async () => {
    const guard = await warmGuard();
    const first = call(guard, await mint('ES256'));
    expect(first.sameTick).toBe(availableParallelism() < 2);
    expect((await first.done).err).toBeUndefined();
  });

  it('with inlineSignature false nothing is answered in the same tick, and a bad signature still goes to jose', async () => {
    const guard = await warmGuard();
    (guard.verifier as InternalBearerVerifier).inlineSignature = false;
    const later = call(guard, await mint('RS256'));
    expect(later.sameTick).toBe(false);
    expect((await later.done).err).toBeUndefined();
    (guard.verifier as InternalBearerVerifier).inlineSignature = true;
    const token = await mint('RS256');
    const tampered = `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    const refused = call(guard, tampered);
    expect(refused.sameTick).toBe(false);
    expect((await refused.done).status).toBe(401);
  });

  it('gives the app the result the jose path gives (plain object, same members, inspect, JSON)', async () => {
    const guard = await warmGuard();
    const reference = await warmGuard();
    (reference.verifier as InternalBearerVerifier).fastPath = false;
    const token = await mint('RS256');
    const fast = call(guard, token);
    expect(fast.sameTick).toBe(true);
    const slow = call(reference, token);
    expect(slow.sameTick).toBe(false);
    const [a, b] = [(await fast.done).auth!, (await slow.done).auth!];
    expect(a).toStrictEqual(b);
    expect(a.constructor).toBe(Object);
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect(Object.getOwnPropertySymbols(a)).toEqual([]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(inspect(a, { depth: 0 })).toBe(inspect(b, { depth: 0 }));
  });

  it.each<[string, { cache?: false }]>([
    ['with the cache', {}],
    ['with cache: false', { cache: false }],
  ])('answers the scope checks after a same-tick token with the state of the guard that accepted it (%s)', async (_name, extra) => {
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
    const orders = requireBearer({ ...options(), ...extra, realm: 'orders', errorHandler });
    const billing = requireBearer({ ...options(), ...extra, realm: 'billing' });
    app.get('/orders', orders, requiredScopes('admin'), (_req, res) => void res.end());
    app.get('/billing', orders, billing, requiredScopes('admin'), (_req, res) => void res.end());
    const scopeChallenge = (realm: string) =>
      `Bearer realm="${realm}", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"`;
    // The first request of each guard loads its keys (jose); the later ones are first-seen tokens checked inline.
    for (let i = 0; i < 3; i += 1) {
      const res = await request(app)
        .get('/orders')
        .set('Authorization', `Bearer ${await mint('RS256')}`);
      expect([res.status, res.headers['www-authenticate'], res.body]).toEqual([
        403,
        scopeChallenge('orders'),
        { custom: 'insufficient_scope' },
      ]);
      const other = await request(app)
        .get('/billing')
        .set('Authorization', `Bearer ${await mint('RS256')}`);
      expect([other.status, other.headers['www-authenticate'], other.body.error]).toEqual([
        403,
        scopeChallenge('billing'),
        'insufficient_scope',
      ]);
    }
    expect(handled).toEqual(['insufficient_scope', 'insufficient_scope', 'insufficient_scope']);
  });
});
