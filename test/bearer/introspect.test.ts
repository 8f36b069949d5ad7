import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import {
  startIntrospectionProvider,
  CLIENTS,
  OPAQUE_API,
  JWT_API,
  type IntrospectionProvider as TestProvider,
} from '../support/provider.js';
import { guardedApp, expectRefusal, challengeFor } from './fixtures.js';
import { introspectAccessToken } from '../../src/bearer/introspect.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { nowSeconds } from '../support/tokens.js';

const OPAQUE = 'opaque-token-value_0123456789';
const AS_ISSUER = 'https://as.example.test';

describe('RFC 7662 token introspection against oidc-provider', () => {
  let provider: TestProvider;
  beforeAll(async () => {
    provider = await startIntrospectionProvider();
  });
  afterAll(async () => {
    await provider.close();
  });

  const options = (extra: Record<string, unknown> = {}) => ({
    issuerBaseURL: provider.issuer,
    audience: OPAQUE_API,
    introspection: { clientId: CLIENTS.resourceServer.id, clientSecret: CLIENTS.resourceServer.secret },
    ...extra,
  });

  it('accepts an active opaque token and sets req.auth from the answer', async () => {
    const { app } = guardedApp(options());
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read');
    expect(token.split('.')).toHaveLength(1);
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ present: true, kind: 'introspection', scopes: ['read'], issuer: provider.issuer, tokenMatches: true });
    expect((res.body as { kid?: string }).kid).toBeUndefined();
  });

  it('reuses the answer from the cache instead of asking again', async () => {
    const { app, guard } = guardedApp(options());
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read admin');
    const before = provider.introspections();
    for (let i = 0; i < 3; i += 1) expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(provider.introspections()).toBe(before + 1);
    const entry = guard.verifier.cache?.get(token, 0, Date.now() + 59_000);
    expect(entry?.payload.client_id).toBe(CLIENTS.machine.id);
    expect(guard.verifier.cache?.get(token, 0, Date.now() + 61_000)).toBeUndefined();
  });

  it('authenticates with client_secret_post when configured', async () => {
    const { app } = guardedApp(
      options({
        introspection: {
          clientId: CLIENTS.resourceServerPost.id,
          clientSecret: CLIENTS.resourceServerPost.secret,
          authMethod: 'client_secret_post',
        },
      }),
    );
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read');
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('answers 401 invalid_token "token is not active" for an unknown opaque token', async () => {
    const { app } = guardedApp(options());
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${OPAQUE}`);
    expectRefusal(res, 401, challengeFor('invalid_token', 'token is not active'), {
      error: 'invalid_token',
      error_description: 'token is not active',
    });
  });

  it('answers 401 invalid_token for a token addressed to another audience', async () => {
    const { app } = guardedApp(options({ audience: 'https://another-api.example.test' }));
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read');
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expectRefusal(res, 401, challengeFor('invalid_token', 'unexpected audience'), {
      error: 'invalid_token',
      error_description: 'unexpected audience',
    });
  });

  it('answers 502 server_error (no challenge) when the endpoint refuses our client credentials', async () => {
    const { app } = guardedApp(options({ introspection: { clientId: CLIENTS.resourceServer.id, clientSecret: 'wrong-secret' } }));
    const token = await provider.clientCredentialsToken(OPAQUE_API, 'read');
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expectRefusal(res, 502, undefined, {
      error: 'server_error',
      error_description: 'The token introspection endpoint gave an invalid answer.',
    });
  });

  it("verifies the provider's JWT access tokens locally (RFC 9068 strict) without introspection", async () => {
    const { app } = guardedApp(options({ audience: JWT_API, strict: true }));
    const token = await provider.clientCredentialsToken(JWT_API, 'read admin');
    const before = provider.introspections();
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ kind: 'jwt', scopes: ['read', 'admin'], issuer: provider.issuer, kid: 'provider-rs256' });
    expect(provider.introspections()).toBe(before);
  });
});

/** A hostile introspection endpoint: answers whatever the test sets. */
describe('RFC 7662 §2.2 introspection answers are checked', () => {
  let server: Server;
  let endpoint: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('{"active":false}');
  let seen: { authorization?: string; body: string }[] = [];
  let keys: JwksServer;
  const hanging = new Set<ServerResponse>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        seen.push({ authorization: req.headers.authorization, body });
        answer(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`;
    keys = await startJwksServer({ algorithms: ['ES256'] });
  });
  afterAll(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await keys.close();
  });
  beforeEach(() => {
    seen = [];
  });

  const json =
    (body: unknown, status = 200) =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
  const app = (extra: Record<string, unknown> = {}) =>
    guardedApp({
      issuer: AS_ISSUER,
      jwksUri: keys.jwksUri,
      audience: 'https://api.example.test',
      introspection: { endpoint, clientId: 'rs id', clientSecret: 'p@ss:word', timeoutMs: 300 },
      ...extra,
    }).app;
  const call = (extra?: Record<string, unknown>) => request(app(extra)).get('/api/me').set('Authorization', `Bearer ${OPAQUE}`);
  const active = (extra: Record<string, unknown> = {}) => ({
    active: true,
    iss: AS_ISSUER,
    exp: nowSeconds() + 300,
    scope: 'read',
    ...extra,
  });

  it('POSTs token and token_type_hint with RFC 6749 §2.3.1 Basic client authentication', async () => {
    answer = json(active());
    expect((await call()).status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(new URLSearchParams(seen[0]!.body).get('token')).toBe(OPAQUE);
    expect(new URLSearchParams(seen[0]!.body).get('token_type_hint')).toBe('access_token');
    expect(seen[0]!.authorization).toBe(`Basic ${Buffer.from('rs+id:p%40ss%3Aword').toString('base64')}`);
  });

  it.each<[string, unknown, string]>([
    ['active: false', { active: false }, 'token is not active'],
    ['an expired exp', active({ exp: nowSeconds() - 60 }), 'token expired'],
    ['a future nbf', active({ nbf: nowSeconds() + 600 }), 'token not yet valid'],
    ['another iss', active({ iss: 'https://evil.example.test' }), 'unexpected issuer'],
    ['another aud', active({ aud: ['https://other.example.test'] }), 'unexpected audience'],
    ['token_type DPoP', active({ token_type: 'DPoP' }), 'token is not a Bearer token'],
    ['a cnf member (sender-constrained)', active({ cnf: { jkt: 'abc' } }), 'token is sender-constrained'],
  ])('answers 401 invalid_token for %s', async (_label, body, description) => {
    answer = json(body);
    expectRefusal(await call(), 401, challengeFor('invalid_token', description), {
      error: 'invalid_token',
      error_description: description,
    });
  });

  it('accepts a matching aud and token_type Bearer', async () => {
    answer = json(active({ aud: 'https://api.example.test', token_type: 'Bearer' }));
    expect((await call()).status).toBe(200);
  });

  it.each<[string, (req: IncomingMessage, res: ServerResponse) => void]>([
    ['active as a string', json({ active: 'true' })],
    ['a body that is not JSON', json('<html>')],
    ['HTTP 400', json({ error: 'invalid_request' }, 400)],
  ])('answers 502 server_error for %s', async (_label, handler) => {
    answer = handler;
    expectRefusal(await call(), 502, undefined, {
      error: 'server_error',
      error_description: 'The token introspection endpoint gave an invalid answer.',
    });
  });

  it.each<[string, (req: IncomingMessage, res: ServerResponse) => void]>([
    ['HTTP 500', json({ error: 'server_error' }, 500)],
    ['a hang (bounded by timeoutMs)', (_req, res) => void hanging.add(res)],
    ['a dropped connection', (req) => req.socket.destroy()],
  ])('answers 503 temporarily_unavailable for %s', async (_label, handler) => {
    answer = handler;
    const res = await call();
    expect([res.status, (res.body as { error: string }).error, res.headers['retry-after'], res.headers['www-authenticate']]).toEqual([
      503,
      'temporarily_unavailable',
      '5',
      undefined,
    ]);
  });

  it('never sends a JWT-shaped token to the introspection endpoint', async () => {
    answer = json(active());
    const res = await request(app()).get('/api/me').set('Authorization', 'Bearer aaa.bbb.ccc');
    expect(res.status).toBe(401);
    expect(seen).toHaveLength(0);
  });

  it('caches an answer without exp no longer than cacheMaxTtlSeconds', async () => {
    answer = json({ active: true, scope: 'read' });
    const { guard } = guardedApp({
      issuer: AS_ISSUER,
      jwksUri: keys.jwksUri,
      audience: 'a',
      introspection: { endpoint, clientId: 'c', clientSecret: 's', cacheMaxTtlSeconds: 5 },
    });
    await guard.verifier.verify(OPAQUE);
    expect(guard.verifier.cache?.get(OPAQUE, 0, Date.now() + 4_000)).toBeDefined();
    expect(guard.verifier.cache?.get(OPAQUE, 0, Date.now() + 5_500)).toBeUndefined();
  });

  it('introspectAccessToken() works without Express', async () => {
    answer = json(active({ sub: 'u1' }));
    const auth = await introspectAccessToken(OPAQUE, {
      endpoint,
      clientId: 'c',
      clientSecret: 's',
      authMethod: 'client_secret_post',
      timeoutMs: 1000,
      issuer: AS_ISSUER,
      audience: ['a'],
      clockTolerance: 0,
    });
    expect(auth).toMatchObject({ kind: 'introspection', header: undefined, scopes: ['read'], payload: { sub: 'u1' } });
    expect(auth.payload).not.toHaveProperty('active');
    expect(new URLSearchParams(seen[0]!.body).get('client_secret')).toBe('s');
  });

  it('answers 401 "malformed token" for an opaque token when no introspection is configured', async () => {
    const { app: plain } = guardedApp({ issuer: AS_ISSUER, jwksUri: keys.jwksUri, audience: 'a' });
    const res = await request(plain).get('/api/me').set('Authorization', `Bearer ${OPAQUE}`);
    expectRefusal(res, 401, challengeFor('invalid_token', 'malformed token'), {
      error: 'invalid_token',
      error_description: 'malformed token',
    });
  });
});
