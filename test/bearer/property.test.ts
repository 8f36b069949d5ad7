import fc from 'fast-check';
import request from 'supertest';
import type { Request, Response } from 'express';
import { requireBearer, type BearerMiddleware } from '../../src/bearer/middleware.js';
import { startJwksServer, generateTestKey, type JwksServer, type TestKey } from '../support/jwks-server.js';
import { mintToken, flipChar, rawToken, encodeSegment, nowSeconds } from '../support/tokens.js';
import { AUDIENCE, guardedApp, memoryLogger } from './fixtures.js';

/** Runs the guard on a bare request object (no HTTP) and reports how it ended. */
function runGuard(guard: BearerMiddleware, headers: Record<string, string>): Promise<{ status: number; passed: boolean; body: string }> {
  return new Promise((resolve, reject) => {
    const responseHeaders = new Map<string, string>();
    const res = {
      statusCode: 200,
      headersSent: false,
      setHeader: (name: string, value: string) => void responseHeaders.set(name.toLowerCase(), value),
      end(body?: string) {
        resolve({ status: this.statusCode, passed: false, body: body ?? '' });
      },
    };
    const req = { headers, method: 'GET', url: '/api/me', originalUrl: '/api/me', body: undefined };
    guard(req as unknown as Request, res as unknown as Response, (err?: unknown) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ status: 200, passed: true, body: '' });
    });
  });
}

describe('property: hostile input never reaches a 5xx and never gets through', () => {
  let jwks: JwksServer;
  let guard: BearerMiddleware;
  let valid: string;
  let attacker: TestKey;

  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['RS256', 'ES256', 'EdDSA'] });
    guard = requireBearer({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE, logger: memoryLogger() });
    valid = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, expiresIn: 3600 });
    attacker = await generateTestKey('RS256', jwks.key.kid);
    // The valid token passes, so a refusal below is about the change, not the set-up.
    expect((await runGuard(guard, { authorization: `Bearer ${valid}` })).passed).toBe(true);
  });
  afterAll(async () => {
    await jwks.close();
  });

  const refusedCleanly = (result: { status: number; passed: boolean }): void => {
    expect(result.passed).toBe(false);
    expect([400, 401]).toContain(result.status);
  };

  it('refuses random Authorization headers with 400 or 401', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.string({ maxLength: 200 }).map((s) => `Bearer ${s}`),
          fc.string({ unit: fc.constantFrom(...'ABCabc012-_.~+/= '.split('')), maxLength: 300 }).map((s) => `Bearer ${s}`),
          fc.array(fc.base64String({ maxLength: 80 }), { minLength: 0, maxLength: 6 }).map((parts) => `bearer ${parts.join('.')}`),
        ),
        async (header) => {
          const result = await runGuard(guard, { authorization: header });
          if (result.passed) throw new Error('a random header got through');
          expect([400, 401]).toContain(result.status);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a valid token with any one character changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<0 | 1 | 2>(0, 1, 2), fc.nat(), async (segment, position) => {
        const altered = flipChar(valid, segment, position);
        expect(altered).not.toBe(valid);
        refusedCleanly(await runGuard(guard, { authorization: `Bearer ${altered}` }));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses tokens with random headers and claims, signed by an attacker or not at all', async () => {
    const json = fc.jsonValue({ maxDepth: 2 });
    const header = fc.record(
      {
        alg: fc.oneof(fc.constantFrom('none', 'RS256', 'HS256', 'ES256', 'EdDSA', 'PS256', 'RS1', ''), json),
        kid: fc.oneof(fc.constant(jwks.key.kid), fc.string(), json),
        typ: fc.oneof(fc.constant('at+jwt'), json),
        crit: fc.oneof(fc.array(fc.string(), { maxLength: 2 }), json),
        jku: fc.constant(`${jwks.origin}/attacker/jwks`),
        b64: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const payload = fc.oneof(
      fc.record(
        {
          iss: fc.oneof(fc.constant(jwks.issuer), json),
          aud: fc.oneof(fc.constant(AUDIENCE), fc.array(fc.constant(AUDIENCE)), json),
          exp: fc.oneof(fc.constant(nowSeconds() + 600), fc.integer(), fc.double(), json),
          nbf: fc.oneof(fc.integer(), json),
          iat: fc.oneof(fc.integer(), json),
          sub: json,
          scope: json,
        },
        { requiredKeys: [] },
      ),
      json,
    );
    await fc.assert(
      fc.asyncProperty(header, payload, fc.boolean(), fc.base64String({ maxLength: 60 }), async (h, p, sign, sig) => {
        let token: string;
        if (sign && h.alg === 'RS256' && (h.b64 === undefined || h.b64 === true) && h.crit === undefined) {
          token = await mintToken({
            key: attacker,
            issuer: jwks.issuer,
            audience: AUDIENCE,
            header: h,
            claims: typeof p === 'object' && p !== null && !Array.isArray(p) ? p : {},
          });
        } else {
          token = rawToken(h, p, sig.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
        }
        const result = await runGuard(guard, { authorization: `Bearer ${token}` });
        if (result.passed) throw new Error('a forged token got through');
        expect(result.status).toBe(401);
        expect(JSON.parse(result.body)).toMatchObject({ error: 'invalid_token' });
      }),
      { numRuns: 300 },
    );
    expect(jwks.paths.filter((p) => p.startsWith('/attacker'))).toEqual([]);
  });

  it('refuses random segment soup (any count of random base64url segments)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.base64String({ maxLength: 40 }), fc.constant(encodeSegment({ alg: 'RS256', kid: jwks.key.kid }))), {
          minLength: 1,
          maxLength: 6,
        }),
        async (parts) => {
          const token = parts.map((p) => p.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')).join('.');
          if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) return; // the extraction step refuses the rest (tested above)
          refusedCleanly(await runGuard(guard, { authorization: `Bearer ${token}` }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('over HTTP: printable headers never produce a 5xx', async () => {
    const { app } = guardedApp({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE });
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split('')), maxLength: 120 }),
        async (tail) => {
          const res = await request(app).get('/api/me').set('Authorization', `Bearer ${tail}`);
          expect(res.status).toBeLessThan(500);
          expect(res.status).not.toBe(200);
        },
      ),
      { numRuns: 60 },
    );
  });
});
