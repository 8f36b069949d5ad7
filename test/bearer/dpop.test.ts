import request from 'supertest';
import express from 'express';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { hmacToken, mintToken, nowSeconds, rawToken } from '../support/tokens.js';
import { cleanup, connect, testPrefix } from '../support/redis.js';
import { requiredScopes, requireBearer } from '../../src/bearer/middleware.js';
import { DpopNonces, MemoryDpopReplayStore, dpopAccessTokenHash, normaliseHtu } from '../../src/bearer/dpop.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { AUDIENCE, expectRefusal, guardedApp, memoryLogger } from './fixtures.js';

const BASE = 'https://api.example.test';
const URL_ME = `${BASE}/api/me`;
const ALGS = 'ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA Ed25519';

interface ClientKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
  jkt: string;
}

async function clientKey(alg = 'ES256'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, privateJwk: await exportJWK(privateKey), jkt: await calculateJwkThumbprint(publicJwk) };
}

let jwks: JwksServer;
let holder: ClientKey;
let stranger: ClientKey;

beforeAll(async () => {
  jwks = await startJwksServer({ algorithms: ['ES256'] });
  holder = await clientKey();
  stranger = await clientKey();
});
afterAll(async () => {
  await jwks.close();
});

const explicit = (): BearerOptions => ({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE });
const dpopApp = (dpop: BearerOptions['dpop'] = {}, extra: Partial<BearerOptions> = {}) =>
  guardedApp({ ...explicit(), ...extra, dpop: { baseURL: BASE, ...dpop } }, (app) => {
    app.get('/api/scheme', (req, res) => res.json({ scheme: req.auth?.scheme ?? null, sub: req.auth?.payload.sub ?? null }));
  }).app;

/** An access token bound to `key` (or to nothing with `null`). */
const boundToken = (key: ClientKey | null = holder, claims: Record<string, unknown> = {}) =>
  mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { ...(key ? { cnf: { jkt: key.jkt } } : {}), ...claims } });

interface ProofOptions {
  key?: ClientKey;
  /** Signs with this key while the header names `key` (a forged proof). */
  signWith?: CryptoKey;
  method?: string;
  url?: string;
  token?: string;
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
}

/** A DPoP proof (RFC 9449 §4.2) minted with jose; `claims`/`header` members set to undefined are left out. */
async function proof(options: ProofOptions = {}): Promise<string> {
  const key = options.key ?? holder;
  const payload = dropUndefined({
    jti: randomUUID(),
    htm: options.method ?? 'GET',
    htu: options.url ?? URL_ME,
    iat: nowSeconds(),
    ...(options.token !== undefined ? { ath: dpopAccessTokenHash(options.token) } : {}),
    ...options.claims,
  });
  const header = dropUndefined({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, ...options.header });
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(options.signWith ?? key.privateKey);
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

const dpopChallenge = (error: string, description: string, realm = 'api') =>
  `DPoP realm="${realm}", error="${error}", error_description="${description}", algs="${ALGS}"`;

function expectDpopRefusal(
  res: request.Response,
  error: 'invalid_dpop_proof' | 'invalid_token' | 'use_dpop_nonce',
  description: string,
): void {
  expectRefusal(res, 401, dpopChallenge(error, description), { error, error_description: description });
}

/** Sends `GET path` with `Authorization: DPoP <token>` and a fresh proof for it, with overrides. */
async function send(app: express.Express, token: string, options: ProofOptions & { path?: string } = {}) {
  const path = options.path ?? '/api/me';
  const dpop = await proof({ token, url: `${BASE}${path.split('?')[0]}`, ...options });
  return request(app).get(path).set('Authorization', `DPoP ${token}`).set('DPoP', dpop);
}

describe('DPoP-bound access tokens (RFC 9449)', () => {
  describe('RFC 9449 §7.1 DPoP scheme with a valid proof', () => {
    it('accepts a DPoP-bound token with a proof of its key and sets req.auth.scheme to DPoP', async () => {
      const app = dpopApp();
      const token = await boundToken();
      const res = await send(app, token, { path: '/api/scheme' });
      expect([res.status, res.body]).toEqual([200, { scheme: 'DPoP', sub: 'user-123' }]);
    });

    it('matches the DPoP scheme case-insensitively', async () => {
      const app = dpopApp();
      const token = await boundToken();
      for (const scheme of ['dpop', 'DPOP']) {
        const res = await request(app)
          .get('/api/me')
          .set('Authorization', `${scheme} ${token}`)
          .set('DPoP', await proof({ token }));
        expect(res.status).toBe(200);
      }
    });

    it('checks htm against the method of a POST', async () => {
      const app = dpopApp();
      const token = await boundToken();
      const ok = await request(app)
        .post('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, method: 'POST' }));
      expect(ok.status).toBe(200);
    });

    it('ignores the query of the request and of htu, and compares htu normalised (RFC 3986 §6.2.2, §6.2.3)', async () => {
      const app = dpopApp();
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me?page=2')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, url: 'HTTPS://API.Example.TEST:443/api/./%6De?other=1#frag' }));
      expect(res.status).toBe(200);
    });

    it('still accepts a Bearer token without cnf in the default mode, ignoring a DPoP header', async () => {
      const app = guardedApp(explicit(), (a) => a.get('/api/scheme', (req, res) => res.json({ scheme: req.auth?.scheme }))).app;
      const token = await boundToken(null);
      const res = await request(app).get('/api/scheme').set('Authorization', `Bearer ${token}`).set('DPoP', 'not-a-proof');
      expect([res.status, res.body]).toEqual([200, { scheme: 'Bearer' }]);
    });

    it('answers insufficient_scope for a DPoP request in the DPoP scheme', async () => {
      const app = guardedApp({ ...explicit(), dpop: { baseURL: BASE } }, (a) =>
        a.get('/api/admin', requiredScopes('admin'), (_req, res) => res.send('ok')),
      ).app;
      const token = await boundToken(holder, { scope: 'read' });
      const res = await send(app, token, { path: '/api/admin' });
      expectRefusal(
        res,
        403,
        `DPoP realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="admin", algs="${ALGS}"`,
        {
          error: 'insufficient_scope',
          error_description: 'the access token lacks a required scope',
        },
      );
    });
  });

  describe('RFC 9449 §4.3 proof checks answer 401 invalid_dpop_proof', () => {
    let app: express.Express;
    let token: string;
    beforeAll(async () => {
      app = dpopApp();
      token = await boundToken();
    });

    const refusedWith = async (description: string, dpop: string | string[] | undefined) => {
      let req = request(app).get('/api/me').set('Authorization', `DPoP ${token}`);
      // superagent sends an array as one header line per value (its types only admit that for Cookie).
      if (dpop !== undefined) req = req.set('DPoP', dpop as string);
      expectDpopRefusal(await req, 'invalid_dpop_proof', description);
    };

    it('refuses a DPoP request without a DPoP header', async () => {
      await refusedWith('no DPoP proof in the request', undefined);
    });

    it('refuses two DPoP headers', async () => {
      await refusedWith('more than one DPoP header', [await proof({ token }), await proof({ token })]);
    });

    it('refuses a proof that is not a JWT', async () => {
      await refusedWith('malformed DPoP proof', 'abc.def');
    });

    it('refuses a proof whose typ is not dpop+jwt', async () => {
      await refusedWith('DPoP proof typ is not dpop+jwt', await proof({ token, header: { typ: 'JWT' } }));
    });

    it('refuses an alg none proof', async () => {
      const unsigned = rawToken(
        { typ: 'dpop+jwt', alg: 'none', jwk: holder.publicJwk },
        { jti: randomUUID(), htm: 'GET', htu: URL_ME, iat: nowSeconds(), ath: dpopAccessTokenHash(token) },
      );
      await refusedWith('DPoP proof algorithm not allowed', unsigned);
    });

    it('refuses an HS256 proof', async () => {
      const mac = hmacToken(
        '0123456789abcdef0123456789abcdef',
        { typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY' } },
        {
          jti: randomUUID(),
          htm: 'GET',
          htu: URL_ME,
          iat: nowSeconds(),
          ath: dpopAccessTokenHash(token),
        },
      );
      await refusedWith('DPoP proof algorithm not allowed', mac);
    });

    it('refuses an algorithm left out of dpop.algorithms', async () => {
      const only = dpopApp({ algorithms: ['EdDSA'] });
      const res = await request(only)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token }));
      const description = 'DPoP proof algorithm not allowed';
      expectRefusal(res, 401, `DPoP realm="api", error="invalid_dpop_proof", error_description="${description}", algs="EdDSA"`, {
        error: 'invalid_dpop_proof',
        error_description: description,
      });
    });

    it('refuses a proof whose jwk carries private key material', async () => {
      await refusedWith('DPoP proof key contains private key material', await proof({ token, header: { jwk: holder.privateJwk } }));
    });

    it('refuses a proof without a jwk header', async () => {
      await refusedWith('DPoP proof lacks the jwk header', await proof({ token, header: { jwk: undefined } }));
    });

    it('refuses a proof signed with another key than its jwk (wrong key)', async () => {
      await refusedWith('DPoP proof signature verification failed', await proof({ token, signWith: stranger.privateKey }));
    });

    it('refuses a proof with a wrong htm', async () => {
      await refusedWith('DPoP proof htm does not match the request method', await proof({ token, method: 'POST' }));
    });

    it('refuses a lower-case htm (methods are case-sensitive)', async () => {
      await refusedWith('DPoP proof htm does not match the request method', await proof({ token, method: 'get' }));
    });

    it('refuses a proof for another path', async () => {
      await refusedWith('DPoP proof htu does not match the request URL', await proof({ token, url: `${BASE}/api/other` }));
    });

    it('refuses a proof for another host', async () => {
      await refusedWith('DPoP proof htu does not match the request URL', await proof({ token, url: 'https://evil.example.test/api/me' }));
    });

    it('refuses a proof for another scheme (http)', async () => {
      await refusedWith('DPoP proof htu does not match the request URL', await proof({ token, url: 'http://api.example.test/api/me' }));
    });

    it('refuses a stale iat (older than maxProofAge plus clockTolerance)', async () => {
      await refusedWith('DPoP proof iat outside the accepted window', await proof({ token, claims: { iat: nowSeconds() - 120 } }));
    });

    it('refuses an iat in the future', async () => {
      await refusedWith('DPoP proof iat outside the accepted window', await proof({ token, claims: { iat: nowSeconds() + 60 } }));
    });

    it('honours dpop.maxProofAge', async () => {
      const strict = dpopApp({ maxProofAge: 10 }, { clockTolerance: 0 });
      const res = await request(strict)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, claims: { iat: nowSeconds() - 30 } }));
      expectDpopRefusal(res, 'invalid_dpop_proof', 'DPoP proof iat outside the accepted window');
    });

    it('refuses a proof without ath', async () => {
      await refusedWith('DPoP proof lacks the ath claim', await proof({}));
    });

    it('refuses a proof whose ath is for another token', async () => {
      await refusedWith('DPoP proof ath does not match the access token', await proof({ token: `${token}x` }));
    });

    it.each(['jti', 'htm', 'htu', 'iat'])('refuses a proof without %s', async (claim) => {
      await refusedWith(`DPoP proof lacks the ${claim} claim`, await proof({ token, claims: { [claim]: undefined } }));
    });

    it('refuses a replayed proof, and accepts a fresh one', async () => {
      const dpop = await proof({ token });
      const first = await request(app).get('/api/me').set('Authorization', `DPoP ${token}`).set('DPoP', dpop);
      expect(first.status).toBe(200);
      const again = await request(app).get('/api/me').set('Authorization', `DPoP ${token}`).set('DPoP', dpop);
      expectDpopRefusal(again, 'invalid_dpop_proof', 'DPoP proof replayed');
      expect((await send(app, token)).status).toBe(200);
    });
  });

  describe('RFC 9449 §7.1 token binding answers 401 invalid_token', () => {
    let app: express.Express;
    beforeAll(() => {
      app = dpopApp();
    });

    it('refuses a proof of another key than cnf.jkt (wrong thumbprint)', async () => {
      const token = await boundToken(holder);
      const res = await send(app, token, { key: stranger });
      expectDpopRefusal(res, 'invalid_token', 'DPoP proof key does not match the token binding');
    });

    it('refuses a token bound to another key', async () => {
      const token = await boundToken(stranger);
      expectDpopRefusal(await send(app, token), 'invalid_token', 'DPoP proof key does not match the token binding');
    });

    it('refuses the DPoP scheme with a token that is not DPoP-bound', async () => {
      const token = await boundToken(null);
      expectDpopRefusal(await send(app, token), 'invalid_token', 'token is not DPoP-bound');
    });

    it('refuses a DPoP-bound token sent with the Bearer scheme, challenging for DPoP', async () => {
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${token}`)
        .set('DPoP', await proof({ token }));
      expectDpopRefusal(res, 'invalid_token', 'DPoP-bound token sent with the Bearer scheme');
    });

    it('refuses a token whose cnf is not an object', async () => {
      const token = await boundToken(null, { cnf: 'x' });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
      expectRefusal(res, 401, 'Bearer realm="api", error="invalid_token", error_description="token has an invalid cnf claim"', {
        error: 'invalid_token',
        error_description: 'token has an invalid cnf claim',
      });
    });

    it('refuses a token bound by a method the guard cannot check (RFC 7800 cnf.jwk)', async () => {
      const token = await boundToken(null, { cnf: { jwk: holder.publicJwk } });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
      const description = 'token is bound by an unsupported confirmation method';
      expectRefusal(res, 401, `Bearer realm="api", error="invalid_token", error_description="${description}"`, {
        error: 'invalid_token',
        error_description: description,
      });
    });

    it('answers an invalid token with a valid proof in the DPoP scheme', async () => {
      const token = await mintToken({
        key: jwks.key,
        issuer: jwks.issuer,
        audience: 'https://other.example.test',
        claims: { cnf: { jkt: holder.jkt } },
      });
      expectDpopRefusal(await send(app, token), 'invalid_token', 'unexpected audience');
    });
  });

  describe('option dpop.mode', () => {
    it("'allowed' (default): no credentials get exactly one challenge, Bearer (RFC 6750 clients read it as is)", async () => {
      const res = await request(guardedApp(explicit()).app).get('/api/me');
      expect(res.status).toBe(401);
      // The header lines as sent (Node joins repeated headers in `res.headers`).
      const raw = (res as unknown as { res: { rawHeaders: string[] } }).res.rawHeaders;
      const challenges = raw.filter((_v: string, i: number) => i % 2 === 1 && raw[i - 1]?.toLowerCase() === 'www-authenticate');
      expect(challenges).toEqual(['Bearer realm="api"']);
      expect(res.body).toEqual({ error: 'unauthorized', error_description: 'no access token in the request' });
    });

    it("'allowed': passErrors hands over the challenge in err.headers", async () => {
      const app = express();
      app.use(requireBearer({ ...explicit(), logger: memoryLogger(), passErrors: true }));
      app.use((err: { headers: Record<string, string> }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(299).json(err.headers);
      });
      const res = await request(app).get('/x');
      expect(res.body).toEqual({ 'WWW-Authenticate': 'Bearer realm="api"' });
    });

    it("'required': refuses the Bearer scheme with invalid_token in the DPoP scheme", async () => {
      const app = dpopApp({ mode: 'required' });
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundToken(null)}`);
      expectDpopRefusal(res, 'invalid_token', 'the Bearer scheme is not accepted; use DPoP');
    });

    it("'required': a Bearer token with illegal characters is a malformed request (400) before it is a wrong scheme", async () => {
      const res = await request(dpopApp({ mode: 'required' }))
        .get('/api/me')
        .set('Authorization', 'Bearer abc,def');
      expectRefusal(res, 400, dpopChallenge('invalid_request', 'access token has illegal characters'), {
        error: 'invalid_request',
        error_description: 'access token has illegal characters',
      });
    });

    it("'required': challenges only for DPoP when no credentials are sent", async () => {
      const res = await request(dpopApp({ mode: 'required' })).get('/api/me');
      expectRefusal(res, 401, `DPoP realm="api", algs="${ALGS}"`, {
        error: 'unauthorized',
        error_description: 'no DPoP access token in the request',
      });
    });

    it("'required': accepts a DPoP token", async () => {
      const app = dpopApp({ mode: 'required' });
      expect((await send(app, await boundToken())).status).toBe(200);
    });

    it("'disabled': the DPoP scheme counts as no credentials, challenged for Bearer only", async () => {
      const app = dpopApp({ mode: 'disabled' });
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token }));
      expectRefusal(res, 401, 'Bearer realm="api"', { error: 'unauthorized', error_description: 'no Bearer access token in the request' });
    });

    it("'disabled': still refuses a DPoP-bound token sent as Bearer", async () => {
      const app = dpopApp({ mode: 'disabled' });
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundToken()}`);
      const description = 'DPoP-bound token sent with the Bearer scheme';
      expectRefusal(res, 401, `Bearer realm="api", error="invalid_token", error_description="${description}"`, {
        error: 'invalid_token',
        error_description: description,
      });
    });

    it('answers a malformed DPoP header in the DPoP scheme (400 invalid_request)', async () => {
      const res = await request(dpopApp()).get('/api/me').set('Authorization', 'DPoP');
      const description = 'DPoP credentials without a token';
      expectRefusal(res, 400, `DPoP realm="api", error="invalid_request", error_description="${description}", algs="${ALGS}"`, {
        error: 'invalid_request',
        error_description: description,
      });
    });
  });

  describe('option credentialsRequired: false (optional authentication)', () => {
    it('still refuses a present invalid DPoP proof', async () => {
      const app = dpopApp({}, { credentialsRequired: false });
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, method: 'DELETE' }));
      expectDpopRefusal(res, 'invalid_dpop_proof', 'DPoP proof htm does not match the request method');
    });

    it('passes a request without credentials', async () => {
      const res = await request(dpopApp({}, { credentialsRequired: false })).get('/api/me');
      expect([res.status, res.body.present]).toEqual([200, false]);
    });
  });

  describe('RFC 9449 §4.3 htu: the external URL of the app', () => {
    const routes = (app: express.Express, options: BearerOptions) => {
      app.use('/api', requireBearer({ logger: memoryLogger(), ...options }));
      app.get('/api/me', (_req, res) => res.send('ok'));
      return app;
    };

    it('honours a path prefix in dpop.baseURL', async () => {
      const app = routes(express(), { ...explicit(), dpop: { baseURL: 'https://gw.example.test/orders/' } });
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, url: 'https://gw.example.test/orders/api/me' }));
      expect(res.status).toBe(200);
    });

    /** A DPoP request to an app behind a proxy (trust proxy on) for https://public.example.test, its proof for `proofUrl`. */
    async function throughProxy(proofUrl: string) {
      const app = express();
      app.set('trust proxy', 'loopback');
      routes(app, explicit());
      const token = await boundToken();
      return request(app)
        .get('/api/me')
        .set('X-Forwarded-Proto', 'https')
        .set('X-Forwarded-Host', 'public.example.test')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, url: proofUrl }));
    }

    it('derives it from X-Forwarded-Proto and X-Forwarded-Host when trust proxy is set', async () => {
      const res = await throughProxy('https://public.example.test/api/me');
      expect(res.status).toBe(200);
    });

    it('with trust proxy, refuses a proof for the URL the client claims behind the proxy', async () => {
      const res = await throughProxy('https://other.example.test/api/me');
      expectDpopRefusal(res, 'invalid_dpop_proof', 'DPoP proof htu does not match the request URL');
    });

    describe('with trust proxy and no dpop.baseURL, a Host that is not a bare host[:port] (issue 15 §10)', () => {
      const hostApp = () => {
        const app = express();
        app.set('trust proxy', 'loopback');
        app.get('/api/other', (_req, res, next) => next());
        return routes(app, explicit()).get('/api/other', (_req, res) => res.send('ok'));
      };
      const refusal = { error: 'invalid_request', error_description: 'the Host of the request is not a host name with an optional port' };
      /** GET /api/other with `header` set to `host` and a DPoP proof for `http://<host>/api/other`. */
      const sendWithHost = async (header: 'Host' | 'X-Forwarded-Host', host: string) => {
        const token = await boundToken();
        return request(hostApp())
          .get('/api/other')
          .set(header, host)
          .set('Authorization', `DPoP ${token}`)
          .set('DPoP', await proof({ token, url: `http://${host}/api/other` }));
      };

      it('refuses a Host of "localhost/intendedPath?" with 400: a proof for /intendedPath is not valid at /other', async () => {
        const token = await boundToken();
        const res = await request(hostApp())
          .get('/api/other')
          .set('Host', 'localhost/intendedPath?')
          .set('Authorization', `DPoP ${token}`)
          .set('DPoP', await proof({ token, url: 'http://localhost/intendedPath' }));
        expectRefusal(res, 400, dpopChallenge('invalid_request', refusal.error_description), refusal);
      });

      it.each(['public.example.test/api/me#', 'user@public.example.test', 'public.example.test:443/x'])(
        'refuses an X-Forwarded-Host of %p from the trusted proxy with 400',
        async (host) => {
          expectRefusal(
            await sendWithHost('X-Forwarded-Host', host),
            400,
            dpopChallenge('invalid_request', refusal.error_description),
            refusal,
          );
        },
      );

      it.each(['localhost', 'localhost:3000', 'api.example.test', '127.0.0.1:8080', '[::1]:8443'])('accepts a Host of %p', async (host) => {
        expect((await sendWithHost('Host', host)).status).toBe(200);
      });
    });

    it('answers 500 without a challenge when neither dpop.baseURL nor trust proxy is set', async () => {
      const app = routes(express(), explicit());
      const token = await boundToken();
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await proof({ token, url: 'http://127.0.0.1/api/me' }));
      expect([res.status, res.headers['www-authenticate'], res.body]).toEqual([
        500,
        undefined,
        { error: 'server_error', error_description: 'the server cannot check DPoP proofs: its external URL is not configured' },
      ]);
    });
  });

  describe('RFC 9449 §9 server nonces (dpop.nonce)', () => {
    it('answers use_dpop_nonce with a DPoP-Nonce header, then accepts a proof with that nonce', async () => {
      const app = dpopApp({ nonce: true });
      const token = await boundToken();
      const first = await send(app, token);
      expectDpopRefusal(first, 'use_dpop_nonce', 'DPoP proof requires the server nonce');
      const nonce = first.headers['dpop-nonce'];
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const second = await send(app, token, { claims: { nonce } });
      expect(second.status).toBe(200);
      expect(second.headers['dpop-nonce']).toBeUndefined();
    });

    it('refuses a nonce it did not issue', async () => {
      const app = dpopApp({ nonce: true });
      const token = await boundToken();
      const res = await send(app, token, { claims: { nonce: base64url.encode('made-up-nonce-made-up-nonce-made-up') } });
      expectDpopRefusal(res, 'use_dpop_nonce', 'DPoP proof nonce is not current');
      expect(res.headers['dpop-nonce']).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it("accepts the previous window's nonce and hands out a fresh one; instances sharing the secret agree", async () => {
      const secret = 'a-shared-nonce-secret-of-32-bytes-or-more';
      const app = dpopApp({ nonce: { secret, windowSeconds: 60 } });
      const other = dpopApp({ nonce: { secret, windowSeconds: 60 } });
      const nonces = new DpopNonces(new TextEncoder().encode(secret), 60);
      const token = await boundToken();
      const previous = nonces.current(Date.now() - 60_000);
      const res = await send(app, token, { claims: { nonce: previous } });
      expect(res.status).toBe(200);
      expect(res.headers['dpop-nonce']).toBe(nonces.current());
      expect((await send(other, token, { claims: { nonce: nonces.current() } })).status).toBe(200);
      const tooOld = await send(app, token, { claims: { nonce: nonces.current(Date.now() - 120_000) } });
      expectDpopRefusal(tooOld, 'use_dpop_nonce', 'DPoP proof nonce is not current');
    });
  });

  describe('RFC 9449 §11.1 jti replay record on Redis (dpop.redis)', () => {
    let client: Redis;
    const prefix = testPrefix('bearer-dpop');
    beforeAll(async () => {
      client = await connect();
    });
    afterAll(async () => {
      await cleanup(prefix, client);
    });

    it('refuses a proof replayed at another instance sharing the Redis, and records the jti with a TTL', async () => {
      const one = dpopApp({ redis: client, redisKeyPrefix: prefix });
      const two = dpopApp({ redis: client, redisKeyPrefix: prefix });
      const token = await boundToken();
      const dpop = await proof({ token });
      const first = await request(one).get('/api/me').set('Authorization', `DPoP ${token}`).set('DPoP', dpop);
      expect(first.status).toBe(200);
      const replay = await request(two).get('/api/me').set('Authorization', `DPoP ${token}`).set('DPoP', dpop);
      expectDpopRefusal(replay, 'invalid_dpop_proof', 'DPoP proof replayed');
      const keys = await client.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      const ttl = await client.pttl(keys[0]!);
      // maxProofAge 60 s + 2 x clockTolerance 5 s + 1 s.
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(71_000);
    });
  });

  describe('MemoryDpopReplayStore', () => {
    it('forgets a jti after its TTL and refuses (503) rather than forget one when full', async () => {
      let now = 1_000_000;
      const store = new MemoryDpopReplayStore(2, () => now);
      expect(await store.useOnce('a', 1000)).toBe(true);
      expect(await store.useOnce('a', 1000)).toBe(false);
      expect(await store.useOnce('b', 1000)).toBe(true);
      await expect(store.useOnce('c', 1000)).rejects.toMatchObject({ status: 503, code: 'temporarily_unavailable' });
      now += 1001;
      expect(await store.useOnce('a', 1000)).toBe(true);
      expect(store.size).toBe(1);
    });
  });

  describe('normaliseHtu', () => {
    it.each<[string, string | undefined]>([
      ['https://API.Example.test:443/a/../b?x=1#y', 'https://api.example.test/b'],
      ['http://api.example.test:80', 'http://api.example.test/'],
      ['https://api.example.test:8443/%7euser/%2f', 'https://api.example.test:8443/~user/%2F'],
      ['https://user:pw@api.example.test/', undefined],
      ['ftp://api.example.test/', undefined],
      ['/relative', undefined],
    ])('%s -> %s', (input, output) => {
      expect(normaliseHtu(input)).toBe(output);
    });
  });

  describe('options are checked at mount time', () => {
    const make =
      (dpop: unknown, extra: Record<string, unknown> = {}) =>
      () =>
        requireBearer({ ...explicit(), logger: memoryLogger(), dpop, ...extra } as BearerOptions);
    it.each<[string, unknown, RegExp]>([
      ['an unknown mode', { mode: 'sometimes' }, /Option "dpop.mode" must be "allowed", "required" or "disabled"/],
      ['an HMAC algorithm', { algorithms: ['HS256'] }, /Option "dpop.algorithms" must be a list of ES256.*asymmetric/],
      ['alg none', { algorithms: ['none'] }, /Option "dpop.algorithms"/],
      ['an empty algorithm list', { algorithms: [] }, /Option "dpop.algorithms" must be a non-empty/],
      ['maxProofAge 0', { maxProofAge: 0 }, /Option "dpop.maxProofAge" must be a number of seconds from 1 to 3600/],
      ['a relative baseURL', { baseURL: '/api' }, /Option "dpop.baseURL" must be an absolute URL/],
      ['a baseURL with a query', { baseURL: 'https://api.example.test/?x=1' }, /Option "dpop.baseURL" must be a URL without a query/],
      ['a plain-http baseURL', { baseURL: 'http://api.example.test' }, /Option "dpop.baseURL" must be an https: URL/],
      ['redis that is not a client', { redis: {} }, /Option "dpop.redis" must be an ioredis client/],
      [
        'a short nonce secret',
        { nonce: { secret: 'short' } },
        /Option "dpop.nonce.secret" must be a string or Uint8Array of at least 32 bytes/,
      ],
      ['a nonce window of 1 s', { nonce: { windowSeconds: 1 } }, /Option "dpop.nonce.windowSeconds"/],
      ['an unknown member', { modes: 'required' }, /Option "dpop.modes" is not a known option/],
      ['not an object', 'required', /Option "dpop" must be an object/],
    ])('throws a TypeError for %s', (_name, dpop, message) => {
      expect(make(dpop)).toThrow(TypeError);
      expect(make(dpop)).toThrow(message);
    });

    it('warns at start-up about the in-memory jti store and the per-process nonce secret', () => {
      const logger = memoryLogger();
      requireBearer({ ...explicit(), logger, dpop: { mode: 'required', nonce: true } });
      expect(logger.lines.filter((l) => l.startsWith('warn'))).toEqual([
        expect.stringContaining('remembered in memory'),
        expect.stringContaining('per-process secret'),
      ]);
    });
  });
});
