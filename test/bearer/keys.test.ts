import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { startJwksServer, generateTestKey, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { AUDIENCE, guardedApp, expectRefusal, challengeFor } from './fixtures.js';
import type { BearerOptions } from '../../src/bearer/types.js';

/** The app behind one listening server, so hundreds of requests reuse it. */
async function listen(options: BearerOptions): Promise<{ server: Server; guard: ReturnType<typeof guardedApp>['guard'] }> {
  const { app, guard } = guardedApp(options);
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, guard };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

const unavailable = { error: 'temporarily_unavailable', error_description: "The issuer's signing keys cannot be fetched." };

describe("the issuer's keys (RFC 7517 JWKS via jwks_uri)", () => {
  let jwks: JwksServer;
  beforeEach(async () => {
    jwks = await startJwksServer({ algorithms: ['ES256'] });
  });
  afterEach(async () => {
    await jwks.close();
  });
  const explicit = (extra: Partial<BearerOptions> = {}): BearerOptions => ({
    issuer: jwks.issuer,
    jwksUri: jwks.jwksUri,
    audience: AUDIENCE,
    ...extra,
  });
  const mint = () => mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE });

  it('fetches the JWKS only a handful of times while 500 requests carry random unknown kids', async () => {
    const { server, guard } = await listen(explicit());
    try {
      const agent = request(server);
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(200);
      const strangers = await Promise.all(Array.from({ length: 5 }, () => generateTestKey('ES256')));
      const statuses: number[] = [];
      for (let batch = 0; batch < 10; batch += 1) {
        const tokens = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            mintToken({
              key: { ...strangers[i % strangers.length]!, kid: `random-${batch}-${i}-${Math.random()}` },
              issuer: jwks.issuer,
              audience: AUDIENCE,
            }),
          ),
        );
        const answers = await Promise.all(tokens.map((t) => agent.get('/api/me').set('Authorization', `Bearer ${t}`)));
        statuses.push(...answers.map((r) => r.status));
      }
      expect(statuses).toHaveLength(500);
      expect(new Set(statuses)).toEqual(new Set([401]));
      expect(jwks.jwksFetches).toBeLessThanOrEqual(3);
      expect(guard.verifier.jwksFetchCount()).toBe(jwks.jwksFetches);
    } finally {
      await close(server);
    }
  });

  it('keeps verifying cached-key tokens while the JWKS endpoint is down, and answers 503 fast for an unknown kid', async () => {
    const { server } = await listen(explicit({ cache: false, jwks: { cooldownMs: 0 } }));
    try {
      const agent = request(server);
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(200);
      jwks.jwksMode = 'reset';
      for (let i = 0; i < 3; i += 1) {
        expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(200);
      }
      const stranger = await mintToken({ key: await generateTestKey('ES256'), issuer: jwks.issuer, audience: AUDIENCE });
      const res = await agent.get('/api/me').set('Authorization', `Bearer ${stranger}`);
      expectRefusal(res, 503, undefined, unavailable);
      expect(res.headers['retry-after']).toBe('5');
      // Within the failure backoff no new fetch is tried: still 503, no request to the endpoint.
      const fetches = jwks.jwksFetches;
      expectRefusal(await agent.get('/api/me').set('Authorization', `Bearer ${stranger}`), 503, undefined, unavailable);
      expect(jwks.jwksFetches).toBe(fetches);
    } finally {
      await close(server);
    }
  });

  it('with the default cooldown, an unknown kid during an outage is refused without another fetch', async () => {
    const { server } = await listen(explicit({ cache: false }));
    try {
      const agent = request(server);
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(200);
      jwks.jwksMode = 'reset';
      const fetches = jwks.jwksFetches;
      const stranger = await mintToken({ key: await generateTestKey('ES256'), issuer: jwks.issuer, audience: AUDIENCE });
      const res = await agent.get('/api/me').set('Authorization', `Bearer ${stranger}`);
      expectRefusal(res, 401, challengeFor('invalid_token', 'no matching signing key'), {
        error: 'invalid_token',
        error_description: 'no matching signing key',
      });
      expect(jwks.jwksFetches).toBe(fetches);
    } finally {
      await close(server);
    }
  });

  it.each<[string, 'reset' | 'error' | 'garbage' | 'hang']>([
    ['refuses connections', 'reset'],
    ['answers HTTP 500', 'error'],
    ['answers a body that is not JSON', 'garbage'],
    ['never answers', 'hang'],
  ])('answers 503 (not 500, no hang) when the JWKS endpoint %s from the start', async (_label, mode) => {
    jwks.jwksMode = mode;
    const { server } = await listen(explicit({ jwks: { timeoutMs: 300 } }));
    try {
      const res = await request(server)
        .get('/api/me')
        .set('Authorization', `Bearer ${await mint()}`);
      expectRefusal(res, 503, undefined, unavailable);
    } finally {
      await close(server);
    }
  });

  it('answers 503 when the JWKS endpoint is an unused port', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { server } = await listen({ issuer: jwks.issuer, jwksUri: `http://127.0.0.1:${port}/jwks`, audience: AUDIENCE });
    try {
      expectRefusal(
        await request(server)
          .get('/api/me')
          .set('Authorization', `Bearer ${await mint()}`),
        503,
        undefined,
        unavailable,
      );
    } finally {
      await close(server);
    }
  });

  it('recovers once the JWKS endpoint is back', async () => {
    jwks.jwksMode = 'error';
    const { server } = await listen(explicit({ cache: false }));
    try {
      const agent = request(server);
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(503);
      jwks.jwksMode = 'ok';
      const deadline = Date.now() + 10_000;
      let status = 0;
      while (Date.now() < deadline) {
        status = (await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status;
        if (status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).toBe(200);
    } finally {
      await close(server);
    }
  });

  it('follows a key rotation once the cooldown has passed: a token with the new kid triggers one refetch', async () => {
    const { server } = await listen(explicit({ jwks: { cooldownMs: 0 } }));
    try {
      const agent = request(server);
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`)).status).toBe(200);
      const fresh = await jwks.rotate({ alg: 'ES256', replace: true });
      const before = jwks.jwksFetches;
      const token = await mintToken({ key: fresh, issuer: jwks.issuer, audience: AUDIENCE });
      expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
      expect(jwks.jwksFetches).toBe(before + 1);
    } finally {
      await close(server);
    }
  });
});
