import request from 'supertest';
import { createServer } from 'node:http';
import { exportSPKI } from 'jose';
import { startJwksServer, generateTestKey, type JwksServer } from '../support/jwks-server.js';
import { mintToken, rawToken, hmacToken, nowSeconds, encodeSegment, flipChar, signRaw } from '../support/tokens.js';
import { requiredScopes, scopeIncludesAny, claimEquals, claimIncludes, claimCheck, requireBearer } from '../../src/bearer/middleware.js';
import { AUDIENCE, guardedApp, expectRefusal, challengeFor, memoryLogger } from './fixtures.js';
import express from 'express';

let jwks: JwksServer;
let other: JwksServer;

beforeAll(async () => {
  jwks = await startJwksServer({ algorithms: ['RS256', 'ES256'] });
  other = await startJwksServer({ algorithms: ['ES256'] });
});
afterAll(async () => {
  await jwks.close();
  await other.close();
});

const explicit = () => ({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE });
const mint = (overrides: Partial<Parameters<typeof mintToken>[0]> = {}) =>
  mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, ...overrides });
const invalidToken = (description: string) => ({ error: 'invalid_token', error_description: description });
// No credentials: one realm-only Bearer challenge, also while DPoP tokens are accepted ('allowed').
const NO_CREDENTIALS_CHALLENGE = 'Bearer realm="api"';
const NO_CREDENTIALS = { error: 'unauthorized', error_description: 'no access token in the request' };

describe('requireBearer()', () => {
  describe('RFC 6750 §2.1 Authorization request header', () => {
    const { app } = guardedApp({ issuer: 'http://127.0.0.1:1', jwksUri: 'http://127.0.0.1:1/jwks', audience: AUDIENCE });
    let live: ReturnType<typeof guardedApp>;
    beforeAll(() => {
      live = guardedApp(explicit());
    });

    it('accepts a valid token and sets req.auth', async () => {
      const token = await mint({ claims: { scope: 'read write' } });
      const res = await request(live.app).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        present: true,
        sub: 'user-123',
        scopes: ['read', 'write'],
        kind: 'jwt',
        issuer: jwks.issuer,
        kid: jwks.key.kid,
        tokenMatches: true,
      });
    });

    it('matches the scheme case-insensitively', async () => {
      const token = await mint();
      for (const scheme of ['bearer', 'BEARER']) {
        const res = await request(live.app).get('/api/me').set('Authorization', `${scheme} ${token}`);
        expect(res.status).toBe(200);
      }
    });

    it('answers 401 with a realm-only challenge and no error code when no credentials are sent', async () => {
      const res = await request(app).get('/api/me');
      expectRefusal(res, 401, NO_CREDENTIALS_CHALLENGE, NO_CREDENTIALS);
    });

    it('answers 401 with no error code for another scheme (Basic)', async () => {
      const res = await request(app).get('/api/me').set('Authorization', 'Basic dXNlcjpwYXNz');
      expectRefusal(res, 401, NO_CREDENTIALS_CHALLENGE, NO_CREDENTIALS);
    });

    it('answers 400 invalid_request for "Bearer" with no token', async () => {
      const res = await request(app).get('/api/me').set('Authorization', 'Bearer');
      expectRefusal(res, 400, challengeFor('invalid_request', 'Bearer credentials without a token'), {
        error: 'invalid_request',
        error_description: 'Bearer credentials without a token',
      });
    });

    it('answers 400 invalid_request for a header with two tokens', async () => {
      const res = await request(app).get('/api/me').set('Authorization', 'Bearer abc def');
      expectRefusal(res, 400, challengeFor('invalid_request', 'more than one token in the Authorization header'), {
        error: 'invalid_request',
        error_description: 'more than one token in the Authorization header',
      });
    });

    it('answers 400 invalid_request for a token with illegal characters', async () => {
      const res = await request(app).get('/api/me').set('Authorization', 'Bearer abc,def');
      expectRefusal(res, 400, challengeFor('invalid_request', 'access token has illegal characters'), {
        error: 'invalid_request',
        error_description: 'access token has illegal characters',
      });
    });

    it('checks the characters of every token not found in the verified-token cache, also one that extends a cached token', async () => {
      // The guard looks a Bearer token up in its cache before checking its characters (a cached
      // token passed that check): a token that is not exactly the cached one must still get 400.
      const token = await mint();
      expect((await request(live.app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      const hits = live.guard.verifier.cache!.hits;
      expect((await request(live.app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      expect(live.guard.verifier.cache!.hits).toBe(hits + 1);
      for (const tampered of [`${token},`, `${token}%`, `,${token}`]) {
        const res = await request(live.app).get('/api/me').set('Authorization', `Bearer ${tampered}`);
        expectRefusal(res, 400, challengeFor('invalid_request', 'access token has illegal characters'), {
          error: 'invalid_request',
          error_description: 'access token has illegal characters',
        });
      }
      expect(live.guard.verifier.cache!.hits).toBe(hits + 1);
    });

    it('answers 400 invalid_request for an oversized header and never fetches keys for it', async () => {
      const before = jwks.counts.jwks + jwks.counts.discovery;
      // Over maxTokenLength (16 KiB): a server that admits headers that large lets it reach the guard.
      const server = createServer({ maxHeaderSize: 64 * 1024 }, live.app);
      const res = await request(server)
        .get('/api/me')
        .set('Authorization', `Bearer ${'a'.repeat(17 * 1024)}`);
      expectRefusal(res, 400, challengeFor('invalid_request', 'Authorization header too large'), {
        error: 'invalid_request',
        error_description: 'Authorization header too large',
      });
      expect(jwks.counts.jwks + jwks.counts.discovery).toBe(before);
    });
  });

  describe('RFC 6750 §2.2 form-encoded body parameter', () => {
    it('is off by default: a body token alone is no credentials (401)', async () => {
      const { app } = guardedApp(explicit());
      const res = await request(app)
        .post('/api/me')
        .type('form')
        .send({ access_token: await mint() });
      expectRefusal(res, 401, NO_CREDENTIALS_CHALLENGE, NO_CREDENTIALS);
    });

    it('accepts a form-body token with allowFormBody', async () => {
      const { app } = guardedApp({ ...explicit(), allowFormBody: true });
      const res = await request(app)
        .post('/api/me')
        .type('form')
        .send({ access_token: await mint() });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ present: true, sub: 'user-123', tokenMatches: true });
    });

    it('ignores access_token in a JSON body even with allowFormBody', async () => {
      const { app } = guardedApp({ ...explicit(), allowFormBody: true });
      const res = await request(app)
        .post('/api/me')
        .send({ access_token: await mint() });
      expect(res.status).toBe(401);
    });

    it('answers 400 invalid_request for a token in the header and the body at once', async () => {
      const { app } = guardedApp({ ...explicit(), allowFormBody: true });
      const token = await mint();
      const res = await request(app).post('/api/me').set('Authorization', `Bearer ${token}`).type('form').send({ access_token: token });
      expectRefusal(res, 400, challengeFor('invalid_request', 'token sent in more than one place'), {
        error: 'invalid_request',
        error_description: 'token sent in more than one place',
      });
    });
  });

  describe('RFC 6750 §2.3 URI query parameter (refused)', () => {
    it('answers 400 invalid_request for a query access_token, even next to a valid header', async () => {
      const { app } = guardedApp(explicit());
      const token = await mint();
      for (const req of [
        request(app).get(`/api/me?access_token=${token}`),
        request(app).get(`/api/me?access_token=${token}`).set('Authorization', `Bearer ${token}`),
      ]) {
        const res = await req;
        expectRefusal(res, 400, challengeFor('invalid_request', 'tokens in the query string are not accepted'), {
          error: 'invalid_request',
          error_description: 'tokens in the query string are not accepted',
        });
      }
    });
  });

  describe('RFC 6750 §3.1 invalid_token names the failed check', () => {
    let app: express.Express;
    beforeAll(() => {
      app = guardedApp(explicit()).app;
    });
    const cases: Array<[string, () => Promise<string>, string]> = [
      ['an expired token', () => mint({ claims: { exp: nowSeconds() - 60 } }), 'token expired'],
      ['a token for another audience', () => mint({ audience: 'https://other.example.test' }), 'unexpected audience'],
      ['a token of another issuer', () => mint({ issuer: 'https://evil.example.test' }), 'unexpected issuer'],
      ['a token without exp', () => mint({ claims: { exp: undefined } }), 'token lacks the exp claim'],
      ['a token without aud', () => mint({ claims: { aud: undefined } }), 'token lacks the aud claim'],
      ['a token without iss', () => mint({ claims: { iss: undefined } }), 'token lacks the iss claim'],
      ['a token with a string exp', () => mint({ claims: { exp: 'tomorrow' } }), 'token has an invalid exp claim'],
      ['a token not yet valid (nbf)', () => mint({ claims: { nbf: nowSeconds() + 3600 } }), 'token not yet valid'],
      ['a token issued in the future (iat)', () => mint({ claims: { iat: nowSeconds() + 3600 } }), 'token issued in the future'],
      ['a token with a changed payload', async () => flipChar(await mint(), 1, 10), 'signature verification failed'],
      [
        'a token signed by an unknown key with a known kid',
        async () => mintToken({ key: { ...(await generateTestKey('RS256')), kid: jwks.key.kid }, issuer: jwks.issuer, audience: AUDIENCE }),
        'signature verification failed',
      ],
      [
        'a token whose kid is unknown',
        async () => mintToken({ key: await generateTestKey('ES256'), issuer: jwks.issuer, audience: AUDIENCE }),
        'no matching signing key',
      ],
    ];
    it.each(cases)('answers 401 invalid_token for %s', async (_label, make, description) => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await make()}`);
      expectRefusal(res, 401, challengeFor('invalid_token', description), invalidToken(description));
    });

    it('accepts an expiry within the clock tolerance (default 5 s)', async () => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ claims: { exp: nowSeconds() - 2 } })}`);
      expect(res.status).toBe(200);
    });

    it('refuses the same expiry with clockTolerance 0', async () => {
      const { app: strictClock } = guardedApp({ ...explicit(), clockTolerance: 0 });
      const res = await request(strictClock)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ claims: { exp: nowSeconds() - 2 } })}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'token expired'), invalidToken('token expired'));
    });

    it('accepts a token for any one of several audiences', async () => {
      const { app: multi } = guardedApp({ ...explicit(), audience: ['https://a.example.test', AUDIENCE] });
      const res = await request(multi)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ audience: ['x', AUDIENCE] })}`);
      expect(res.status).toBe(200);
    });

    it('never logs the token', async () => {
      const logger = memoryLogger();
      const { app: logged } = guardedApp({ ...explicit(), logger });
      const token = await mint({ audience: 'https://other.example.test' });
      await request(logged).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(logger.lines.length).toBeGreaterThan(0);
      expect(logger.lines.join('\n')).not.toContain(token.split('.')[2]);
      expect(logger.lines.join('\n')).not.toContain(token.split('.')[1]);
    });

    it('never echoes the token or a library message', async () => {
      const token = await mint({ audience: 'https://other.example.test' });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
      expect(res.text).not.toContain(token.split('.')[1]);
      expect(String(res.headers['www-authenticate'])).not.toContain('claim value');
    });
  });

  describe('RFC 8725 §2 hostile tokens never verify and never reach a 500', () => {
    let app: express.Express;
    beforeAll(() => {
      app = guardedApp(explicit()).app;
    });
    const payload = () => ({ iss: jwks.issuer, aud: AUDIENCE, sub: 'attacker', exp: nowSeconds() + 300 });

    it('answers 401 invalid_token for alg "none"', async () => {
      for (const alg of ['none', 'None', 'NONE']) {
        const res = await request(app)
          .get('/api/me')
          .set('Authorization', `Bearer ${rawToken({ alg, typ: 'JWT' }, payload())}`);
        expectRefusal(res, 401, challengeFor('invalid_token', 'unsupported algorithm'), invalidToken('unsupported algorithm'));
      }
    });

    it('answers 401 invalid_token for HS256 signed with the RSA public key (algorithm confusion)', async () => {
      const rsa = jwks.keys.find((k) => k.alg === 'RS256')!;
      const pem = await exportSPKI(rsa.publicKey);
      for (const secret of [pem, JSON.stringify(rsa.publicJwk)]) {
        const token = hmacToken(secret, { alg: 'HS256', kid: rsa.kid }, payload());
        const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
        expectRefusal(res, 401, challengeFor('invalid_token', 'unsupported algorithm'), invalidToken('unsupported algorithm'));
      }
    });

    it('answers 401 invalid_token for an unknown critical header', async () => {
      const token = await mint({ header: { crit: ['x-unknown'], 'x-unknown': true }, critical: ['x-unknown'] });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
      expectRefusal(
        res,
        401,
        challengeFor('invalid_token', 'unsupported token header or algorithm'),
        invalidToken('unsupported token header or algorithm'),
      );
    });

    it('ignores jku, x5u and an embedded jwk, and never fetches the URLs they name', async () => {
      const attacker = await generateTestKey('RS256');
      const before = jwks.paths.length;
      const tokens = [
        await mintToken({ key: attacker, issuer: jwks.issuer, audience: AUDIENCE, header: { jku: `${jwks.origin}/attacker/jwks.json` } }),
        await mintToken({ key: attacker, issuer: jwks.issuer, audience: AUDIENCE, header: { x5u: `${jwks.origin}/attacker/cert.pem` } }),
        await mintToken({ key: attacker, issuer: jwks.issuer, audience: AUDIENCE, header: { jwk: attacker.publicJwk, kid: undefined } }),
        await mintToken({
          key: { ...attacker, kid: jwks.key.kid },
          issuer: jwks.issuer,
          audience: AUDIENCE,
          header: { jku: `${jwks.origin}/attacker/jwks.json` },
        }),
      ];
      for (const token of tokens) {
        const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
        expect(res.status).toBe(401);
        expect((res.body as { error: string }).error).toBe('invalid_token');
      }
      expect(jwks.paths.slice(before).filter((p) => p.startsWith('/attacker'))).toEqual([]);
    });

    it.each([
      ['two segments', async () => 'abc.def', 'malformed token'],
      ['four segments', async () => 'a.b.c.d', 'malformed token'],
      ['non-JSON segments', async () => 'abc.def.ghi', 'malformed token'],
      ['a header that is a JSON string', async () => `${encodeSegment('"RS256"')}.${encodeSegment({})}.c2ln`, 'malformed token'],
      ['a JSON array payload signed by the issuer', async () => signRaw(jwks.key, '[1,2]'), 'malformed token'],
      ['a non-JSON payload signed by the issuer', async () => signRaw(jwks.key, 'not json'), 'malformed token'],
      ['a payload of JSON null signed by the issuer', async () => signRaw(jwks.key, 'null'), 'malformed token'],
      ['a junk signature', async () => rawToken({ alg: 'RS256', kid: jwks.key.kid }, payload(), 'c2ln'), 'signature verification failed'],
      [
        'an empty payload segment and an unknown kid',
        async () => `${encodeSegment({ alg: 'RS256', kid: 'k' })}..c2ln`,
        'no matching signing key',
      ],
    ])('answers 401 invalid_token for %s', async (_label, make, description) => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await make()}`);
      expectRefusal(res, 401, challengeFor('invalid_token', description), invalidToken(description));
    });
  });

  describe('RFC 9068 §4 strict mode', () => {
    let app: express.Express;
    beforeAll(() => {
      app = guardedApp({ ...explicit(), strict: true }).app;
    });
    it('accepts typ "at+jwt" and "application/at+jwt"', async () => {
      for (const typ of ['at+jwt', 'application/at+jwt']) {
        const res = await request(app)
          .get('/api/me')
          .set('Authorization', `Bearer ${await mint({ header: { typ } })}`);
        expect(res.status).toBe(200);
      }
    });
    it('answers 401 invalid_token for typ "JWT"', async () => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ header: { typ: 'JWT' } })}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'unexpected token type'), invalidToken('unexpected token type'));
    });
    it.each(['client_id', 'iat', 'jti', 'sub'])('answers 401 invalid_token for a token without %s', async (claim) => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ claims: { [claim]: undefined } })}`);
      expectRefusal(
        res,
        401,
        challengeFor('invalid_token', `token lacks the ${claim} claim`),
        invalidToken(`token lacks the ${claim} claim`),
      );
    });
    it('is off by default: a typ "JWT" token without jti passes', async () => {
      const { app: lax } = guardedApp(explicit());
      const res = await request(lax)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ header: { typ: 'JWT' }, claims: { jti: undefined } })}`);
      expect(res.status).toBe(200);
    });
  });

  describe('option algorithms', () => {
    it('narrows the defaults to the algorithms the issuer advertises', async () => {
      const es = await startJwksServer({
        algorithms: ['RS256', 'ES256'],
        metadata: { id_token_signing_alg_values_supported: ['ES256', 'HS256'] },
      });
      try {
        const { app } = guardedApp({ issuerBaseURL: es.issuer, audience: AUDIENCE });
        const rs = await mintToken({ key: es.keys[0]!, issuer: es.issuer, audience: AUDIENCE });
        const ec = await mintToken({ key: es.keys[1]!, issuer: es.issuer, audience: AUDIENCE });
        expect((await request(app).get('/api/me').set('Authorization', `Bearer ${ec}`)).status).toBe(200);
        const res = await request(app).get('/api/me').set('Authorization', `Bearer ${rs}`);
        expectRefusal(res, 401, challengeFor('invalid_token', 'unsupported algorithm'), invalidToken('unsupported algorithm'));
      } finally {
        await es.close();
      }
    });

    it('keeps an explicit allow-list', async () => {
      const { app } = guardedApp({ ...explicit(), algorithms: ['ES256'] });
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint()}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'unsupported algorithm'), invalidToken('unsupported algorithm'));
      const ec = await mintToken({ key: jwks.keys[1]!, issuer: jwks.issuer, audience: AUDIENCE });
      expect((await request(app).get('/api/me').set('Authorization', `Bearer ${ec}`)).status).toBe(200);
    });

    it('accepts HS256 only with a configured secret, and then only HMAC', async () => {
      const secret = 'a-shared-secret-of-at-least-32-bytes!!';
      const { app } = guardedApp({ issuer: 'https://hmac.example.test', secret, audience: AUDIENCE });
      const hs = await mintToken({
        key: { privateKey: new TextEncoder().encode(secret), alg: 'HS256' },
        issuer: 'https://hmac.example.test',
        audience: AUDIENCE,
      });
      expect((await request(app).get('/api/me').set('Authorization', `Bearer ${hs}`)).status).toBe(200);
      const rs = await mint({ issuer: 'https://hmac.example.test' });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${rs}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'unsupported algorithm'), invalidToken('unsupported algorithm'));
    });
  });

  describe('option maxTokenAge', () => {
    it('refuses a token older than maxTokenAge and one without iat', async () => {
      const { app } = guardedApp({ ...explicit(), maxTokenAge: 60 });
      const old = await mint({ claims: { iat: nowSeconds() - 600 } });
      expectRefusal(
        await request(app).get('/api/me').set('Authorization', `Bearer ${old}`),
        401,
        challengeFor('invalid_token', 'token too old'),
        invalidToken('token too old'),
      );
      const noIat = await mint({ claims: { iat: undefined } });
      expectRefusal(
        await request(app).get('/api/me').set('Authorization', `Bearer ${noIat}`),
        401,
        challengeFor('invalid_token', 'token lacks the iat claim'),
        invalidToken('token lacks the iat claim'),
      );
      expect(
        (
          await request(app)
            .get('/api/me')
            .set('Authorization', `Bearer ${await mint()}`)
        ).status,
      ).toBe(200);
    });
  });

  describe('option requiredClaims', () => {
    it('refuses a token without a required claim', async () => {
      const { app } = guardedApp({ ...explicit(), requiredClaims: ['org_id'] });
      expectRefusal(
        await request(app)
          .get('/api/me')
          .set('Authorization', `Bearer ${await mint()}`),
        401,
        challengeFor('invalid_token', 'token lacks the org_id claim'),
        invalidToken('token lacks the org_id claim'),
      );
      expect(
        (
          await request(app)
            .get('/api/me')
            .set('Authorization', `Bearer ${await mint({ claims: { org_id: 'o1' } })}`)
        ).status,
      ).toBe(200);
    });
  });

  describe('option issuers (several trusted issuers)', () => {
    let app: express.Express;
    beforeAll(() => {
      app = guardedApp({
        audience: AUDIENCE,
        issuers: [
          { issuer: jwks.issuer, jwksUri: jwks.jwksUri },
          { issuerBaseURL: other.issuer, audience: 'https://other-api.example.test' },
        ],
      }).app;
    });
    it('accepts tokens of each issuer with its own keys and audience', async () => {
      const a = await mint();
      const b = await mintToken({ key: other.key, issuer: other.issuer, audience: 'https://other-api.example.test' });
      const ra = await request(app).get('/api/me').set('Authorization', `Bearer ${a}`);
      const rb = await request(app).get('/api/me').set('Authorization', `Bearer ${b}`);
      expect([ra.status, (ra.body as { issuer: string }).issuer]).toEqual([200, jwks.issuer]);
      expect([rb.status, (rb.body as { issuer: string }).issuer]).toEqual([200, other.issuer]);
    });
    it('answers 401 invalid_token for an unknown iss', async () => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ issuer: 'https://unknown.example.test' })}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'unexpected issuer'), invalidToken('unexpected issuer'));
    });
    it("refuses a token naming one issuer but signed with the other's key", async () => {
      const forged = await mintToken({ key: other.key, issuer: jwks.issuer, audience: AUDIENCE });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect((res.body as { error: string }).error).toBe('invalid_token');
    });
    it("refuses a token with the other issuer's audience", async () => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint({ audience: 'https://other-api.example.test' })}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'unexpected audience'), invalidToken('unexpected audience'));
    });
  });

  describe('option credentialsRequired: false (optional authentication)', () => {
    let app: express.Express;
    beforeAll(() => {
      app = guardedApp({ ...explicit(), credentialsRequired: false }).app;
    });
    it('lets a request without a token through without req.auth', async () => {
      const res = await request(app).get('/api/me');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ present: false });
      expect((await request(app).get('/api/me').set('Authorization', 'Basic eDp5')).status).toBe(200);
    });
    it('still refuses a present invalid token and a malformed request', async () => {
      const bad = await mint({ claims: { exp: nowSeconds() - 600 } });
      expectRefusal(
        await request(app).get('/api/me').set('Authorization', `Bearer ${bad}`),
        401,
        challengeFor('invalid_token', 'token expired'),
        invalidToken('token expired'),
      );
      expect((await request(app).get('/api/me').set('Authorization', 'Bearer a b')).status).toBe(400);
    });
    it('sets req.auth for a valid token', async () => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint()}`);
      expect(res.body).toMatchObject({ present: true, sub: 'user-123' });
    });
  });

  describe('option realm', () => {
    it('puts the realm into every challenge', async () => {
      const { app } = guardedApp({ ...explicit(), realm: 'orders' });
      expect((await request(app).get('/api/me')).headers['www-authenticate']).toBe('Bearer realm="orders"');
      expect((await request(app).get('/api/me').set('Authorization', 'Bearer a b')).headers['www-authenticate']).toBe(
        challengeFor('invalid_request', 'more than one token in the Authorization header', 'orders'),
      );
    });
  });

  describe('option passErrors', () => {
    it('calls next(err) with the typed error, its challenge in err.headers', async () => {
      const seen: unknown[] = [];
      const app = express();
      app.use(requireBearer({ ...explicit(), passErrors: true, logger: memoryLogger() }));
      app.use(((err, _req, res, _next) => {
        seen.push(err);
        res.status(418).end();
      }) as express.ErrorRequestHandler);
      const res = await request(app)
        .get('/x')
        .set('Authorization', `Bearer ${await mint({ audience: 'nope' })}`);
      expect(res.status).toBe(418);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        name: 'InvalidTokenError',
        code: 'invalid_token',
        status: 401,
        description: 'unexpected audience',
        headers: { 'WWW-Authenticate': challengeFor('invalid_token', 'unexpected audience') },
      });
    });
  });

  describe('option passErrors with the scope checks', () => {
    it('makes requiredScopes() pass its 403 to next(err) as well', async () => {
      const seen: unknown[] = [];
      const app = express();
      app.get(
        '/admin',
        requireBearer({ ...explicit(), passErrors: true, logger: memoryLogger() }),
        requiredScopes('admin'),
        (_req, res) => void res.end(),
      );
      app.use(((err, _req, res, _next) => {
        seen.push(err);
        res.status(499).end();
      }) as express.ErrorRequestHandler);
      const res = await request(app)
        .get('/admin')
        .set('Authorization', `Bearer ${await mint({ claims: { scope: 'read' } })}`);
      expect(res.status).toBe(499);
      expect(seen[0]).toMatchObject({
        name: 'InsufficientScopeError',
        status: 403,
        scopes: ['admin'],
        headers: {
          'WWW-Authenticate':
            'Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"',
        },
      });
    });
  });

  describe('option errorHandler', () => {
    it('lets the app write the answer', async () => {
      const app = express();
      app.use(
        requireBearer({
          ...explicit(),
          logger: memoryLogger(),
          errorHandler: (err, _req, res) => {
            res.status(err.status).set(err.headers).type('text/plain').send(`custom ${err.code}`);
          },
        }),
      );
      const res = await request(app).get('/x');
      expect([res.status, res.text, res.headers['www-authenticate']]).toEqual([401, 'custom unauthorized', NO_CREDENTIALS_CHALLENGE]);
    });
  });

  describe('issuer discovery (issuerBaseURL)', () => {
    it("finds jwks_uri in the metadata and accepts the issuer's tokens", async () => {
      const { app } = guardedApp({ issuerBaseURL: jwks.issuer, audience: AUDIENCE });
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint()}`);
      expect(res.status).toBe(200);
    });

    it('answers 503 temporarily_unavailable, Retry-After and no challenge when discovery is down', async () => {
      const down = await startJwksServer();
      down.discoveryMode = 'reset';
      try {
        const { app } = guardedApp({ issuerBaseURL: down.issuer, audience: AUDIENCE });
        const token = await mintToken({ key: down.key, issuer: down.issuer, audience: AUDIENCE });
        const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
        expectRefusal(res, 503, undefined, {
          error: 'temporarily_unavailable',
          error_description: 'The authorization server cannot be reached.',
        });
        expect(res.headers['retry-after']).toBe('5');
      } finally {
        await down.close();
      }
    });
  });

  describe('environment fallback', () => {
    const saved = { ...process.env };
    afterEach(() => {
      process.env.ISSUER_BASE_URL = saved.ISSUER_BASE_URL;
      process.env.AUDIENCE = saved.AUDIENCE;
      if (saved.ISSUER_BASE_URL === undefined) delete process.env.ISSUER_BASE_URL;
      if (saved.AUDIENCE === undefined) delete process.env.AUDIENCE;
    });
    it('reads ISSUER_BASE_URL and AUDIENCE when no options are given', async () => {
      process.env.ISSUER_BASE_URL = jwks.issuer;
      process.env.AUDIENCE = AUDIENCE;
      const app = express();
      app.get('/api', requireBearer(), (req, res) => {
        res.json({ sub: req.auth?.payload.sub });
      });
      const res = await request(app)
        .get('/api')
        .set('Authorization', `Bearer ${await mint()}`);
      expect([res.status, res.body]).toEqual([200, { sub: 'user-123' }]);
    });
  });
});

describe('scope and claim checks', () => {
  let app: express.Express;
  beforeAll(() => {
    app = guardedApp(explicit(), (a) => {
      a.get('/api/admin', requiredScopes('admin'), (_req, res) => void res.json({ ok: true }));
      a.get('/api/rw', requiredScopes('read write'), (_req, res) => void res.json({ ok: true }));
      a.get('/api/rw-array', requiredScopes(['read', 'write']), (_req, res) => void res.json({ ok: true }));
      a.get('/api/any', scopeIncludesAny('read', 'admin'), (_req, res) => void res.json({ ok: true }));
      a.get('/api/org', claimEquals('org_id', 'acme'), (_req, res) => void res.json({ ok: true }));
      a.get('/api/roles', claimIncludes('roles', 'editor', 'viewer'), (_req, res) => void res.json({ ok: true }));
      a.get(
        '/api/check',
        claimCheck((p) => (p.level as number) > 3, 'level too low'),
        (_req, res) => void res.json({ ok: true }),
      );
      a.get('/api/composed', requiredScopes('read'), claimEquals('org_id', 'acme'), (_req, res) => void res.json({ ok: true }));
    }).app;
  });
  const get = async (path: string, claims: Record<string, unknown>) =>
    request(app)
      .get(path)
      .set('Authorization', `Bearer ${await mint({ claims })}`);

  describe('RFC 6750 §3.1 insufficient_scope', () => {
    it('answers 403 insufficient_scope with the required scope in the challenge', async () => {
      const res = await get('/api/admin', { scope: 'read' });
      expectRefusal(
        res,
        403,
        'Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin"',
        {
          error: 'insufficient_scope',
          error_description: 'the access token lacks a required scope',
        },
      );
    });
    it('passes with the scope in "scope", "scp" or "permissions"', async () => {
      for (const claims of [{ scope: 'read admin' }, { scp: ['admin'] }, { permissions: ['admin', 'x'] }]) {
        expect((await get('/api/admin', claims)).status).toBe(200);
      }
    });
    it('requires all of several scopes, given as one string or an array', async () => {
      for (const path of ['/api/rw', '/api/rw-array']) {
        expect((await get(path, { scope: 'read write' })).status).toBe(200);
        const res = await get(path, { scope: 'read' });
        expect([res.status, res.headers['www-authenticate']]).toEqual([
          403,
          'Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="read write"',
        ]);
      }
    });
    it('scopeIncludesAny passes with one of the scopes and lists them all otherwise', async () => {
      expect((await get('/api/any', { scope: 'admin' })).status).toBe(200);
      const res = await get('/api/any', { scope: 'other' });
      expectRefusal(
        res,
        403,
        'Bearer realm="api", error="insufficient_scope", error_description="the access token has none of the accepted scopes", scope="read admin"',
        {
          error: 'insufficient_scope',
          error_description: 'the access token has none of the accepted scopes',
        },
      );
    });
  });

  describe('claim checks answer 401 invalid_token', () => {
    it('claimEquals', async () => {
      expect((await get('/api/org', { org_id: 'acme' })).status).toBe(200);
      expectRefusal(
        await get('/api/org', { org_id: 'evil' }),
        401,
        challengeFor('invalid_token', "unexpected 'org_id' claim value"),
        invalidToken("unexpected 'org_id' claim value"),
      );
      expect((await get('/api/org', {})).status).toBe(401);
    });
    it('claimIncludes (array or space-separated string)', async () => {
      expect((await get('/api/roles', { roles: ['viewer', 'editor', 'x'] })).status).toBe(200);
      expect((await get('/api/roles', { roles: 'editor viewer' })).status).toBe(200);
      expectRefusal(
        await get('/api/roles', { roles: ['viewer'] }),
        401,
        challengeFor('invalid_token', "unexpected 'roles' claim value"),
        invalidToken("unexpected 'roles' claim value"),
      );
    });
    it('claimCheck with its description; a throwing check counts as failed', async () => {
      expect((await get('/api/check', { level: 5 })).status).toBe(200);
      expectRefusal(
        await get('/api/check', { level: 1 }),
        401,
        challengeFor('invalid_token', 'level too low'),
        invalidToken('level too low'),
      );
    });
    it('checks compose per route', async () => {
      expect((await get('/api/composed', { scope: 'read', org_id: 'acme' })).status).toBe(200);
      expect((await get('/api/composed', { scope: 'read', org_id: 'x' })).status).toBe(401);
      expect((await get('/api/composed', { org_id: 'acme' })).status).toBe(403);
    });
  });

  it('answers 401 with no error code when req.auth is missing (no requireBearer before)', async () => {
    const bare = express();
    bare.get('/admin', requiredScopes('admin'), (_req, res) => void res.end());
    expectRefusal(await request(bare).get('/admin'), 401, 'Bearer realm="api"', {
      error: 'unauthorized',
      error_description: 'no Bearer access token in the request',
    });
  });

  it('refuses bad arguments at definition time', () => {
    expect(() => requiredScopes()).toThrow(TypeError);
    expect(() => requiredScopes('')).toThrow(TypeError);
    expect(() => requiredScopes('a"b')).toThrow(/requiredScopes\(\)/);
    expect(() => claimEquals('', 'x')).toThrow(TypeError);
    expect(() => claimEquals('a', {} as unknown as string)).toThrow(TypeError);
    expect(() => claimIncludes('roles')).toThrow(TypeError);
    expect(() => claimCheck('x' as unknown as () => boolean)).toThrow(TypeError);
  });
});
