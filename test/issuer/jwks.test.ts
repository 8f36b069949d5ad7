import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { RemoteKeySet } from '../../src/issuer/jwks.js';
import { ServiceUnavailableError } from '../../src/errors/index.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return { privateKey, jwk, kid };
}

describe('RemoteKeySet', () => {
  let server: Server;
  let uri: string;
  let keys: JWK[] = [];
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits += 1;
      if (mode === 'hang') return;
      if (mode === 'fail') return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    mode = 'ok';
    hits = 0;
  });

  const sign = (k: { privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']; kid: string }) =>
    new SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256', kid: k.kid }).setExpirationTime('5m').sign(k.privateKey);

  it('verifies with a fetched key and fetches once for concurrent callers', async () => {
    const k = await keyPair('a');
    keys = [k.jwk];
    const set = new RemoteKeySet(uri, { logger: silent });
    const token = await sign(k);
    await Promise.all(Array.from({ length: 10 }, () => jwtVerify(token, set.getKey)));
    expect(set.fetchCount).toBe(1);
  });

  it('refetches on an unknown kid (key rotation) but at most once per cooldown', async () => {
    const a = await keyPair('a');
    const b = await keyPair('b');
    keys = [a.jwk];
    const set = new RemoteKeySet(uri, { logger: silent, cooldownMs: 60_000 });
    await jwtVerify(await sign(a), set.getKey);
    // Rotation is seen at once when the cooldown has passed since the last fetch.
    const rotating = new RemoteKeySet(uri, { logger: silent, cooldownMs: 0 });
    await jwtVerify(await sign(a), rotating.getKey);
    keys = [a.jwk, b.jwk];
    await expect(jwtVerify(await sign(b), rotating.getKey)).resolves.toBeDefined();
    expect(rotating.fetchCount).toBe(2);
    // With the long cooldown, unknown kids do not cause fetches.
    const before = set.fetchCount;
    for (let i = 0; i < 50; i += 1) {
      const stranger = await keyPair(`x${i}`);
      await expect(jwtVerify(await sign(stranger), set.getKey)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    }
    expect(set.fetchCount).toBe(before);
  });

  it('keeps the last good keys when the endpoint fails, and answers 503 for keys it cannot fetch', async () => {
    const a = await keyPair('a');
    keys = [a.jwk];
    const set = new RemoteKeySet(uri, { logger: silent, cooldownMs: 0, cacheMaxAgeMs: 0 });
    await jwtVerify(await sign(a), set.getKey);
    mode = 'fail';
    await expect(jwtVerify(await sign(a), set.getKey)).resolves.toBeDefined();
    const stranger = await keyPair('new');
    await expect(jwtVerify(await sign(stranger), set.getKey)).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('answers 503 (not a hang) when the endpoint never answers and no key is cached', async () => {
    mode = 'hang';
    const a = await keyPair('a');
    const set = new RemoteKeySet(uri, { logger: silent, timeoutMs: 200 });
    await expect(jwtVerify(await sign(a), set.getKey)).rejects.toBeInstanceOf(ServiceUnavailableError);
    // Right after the failure, callers fail fast without another request.
    const hitsAfter = hits;
    await expect(jwtVerify(await sign(a), set.getKey)).rejects.toBeInstanceOf(ServiceUnavailableError);
    expect(hits).toBe(hitsAfter);
    server.closeAllConnections();
  });

  it('treats a document without keys as a failure', async () => {
    const set = new RemoteKeySet(`${uri}`, { logger: silent });
    keys = undefined as unknown as JWK[];
    const a = await keyPair('a');
    await expect(jwtVerify(await sign(a), set.getKey)).rejects.toBeInstanceOf(ServiceUnavailableError);
    keys = [];
  });
});
