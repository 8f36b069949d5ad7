/**
 * RemoteKeySet.keyFor(): the synchronous lookup the Bearer fast path uses. It answers only what
 * jose's own selection (`getKey`) already chose from the current keys, and keeps `getKey`'s
 * background refresh of stale keys.
 */
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { jwtVerify, SignJWT, type FlattenedJWSInput } from 'jose';
import { RemoteKeySet } from '../../src/issuer/jwks.js';
import { eventually } from '../support/eventually.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function until(check: () => boolean, what: string, deadlineMs = 5000): Promise<void> {
  return eventually(check, { timeoutMs: deadlineMs, what, stepMs: 0 });
}

describe('RemoteKeySet.keyFor()', () => {
  let jwks: JwksServer;

  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['ES256', 'RS256'] });
  });
  afterAll(async () => {
    await jwks.close();
  });

  const sign = (index: number, header: Record<string, unknown> = {}): Promise<string> => {
    const key = jwks.keys[index]!;
    return new SignJWT({ sub: 'u' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as { alg: string })
      .setExpirationTime('5m')
      .sign(key.privateKey);
  };

  it('answers nothing before a fetch, and never fetches itself', () => {
    const set = new RemoteKeySet(jwks.jwksUri, { logger: silent });
    expect(set.keyFor('ES256', jwks.keys[0]!.kid)).toBeUndefined();
    expect(set.fetchCount).toBe(0);
  });

  it('answers the key getKey selected for that alg and kid, and only that', async () => {
    const set = new RemoteKeySet(jwks.jwksUri, { logger: silent });
    const [es, rs] = jwks.keys as [(typeof jwks.keys)[0], (typeof jwks.keys)[0]];
    const { key } = await jwtVerify(await sign(0), set.getKey);
    expect(set.keyFor('ES256', es.kid)).toBe(key);
    // Not selected yet: the RS256 key, another alg for the same kid, another kid, no kid.
    expect(set.keyFor('RS256', rs.kid)).toBeUndefined();
    expect(set.keyFor('ES384', es.kid)).toBeUndefined();
    expect(set.keyFor('ES256', 'unknown')).toBeUndefined();
    expect(set.keyFor('ES256', undefined)).toBeUndefined();
    await jwtVerify(await sign(1), set.getKey);
    expect(set.keyFor('RS256', rs.kid)).toBeDefined();
    expect(set.fetchCount).toBe(1);
  });

  it('remembers nothing for a token with an unprotected header (jose selects on both headers)', async () => {
    const set = new RemoteKeySet(jwks.jwksUri, { logger: silent });
    const es = jwks.keys[0]!;
    const flattened = { payload: '', signature: '', header: { kid: es.kid } } as FlattenedJWSInput;
    await expect(set.getKey({ alg: 'ES256' }, flattened)).resolves.toBeDefined();
    expect(set.keyFor('ES256', undefined)).toBeUndefined();
    expect(set.keyFor('ES256', es.kid)).toBeUndefined();
  });

  it('forgets the selections when the keys are fetched again (rotation)', async () => {
    const set = new RemoteKeySet(jwks.jwksUri, { logger: silent, cooldownMs: 0 });
    const before = jwks.keys;
    try {
      await jwtVerify(await sign(0), set.getKey);
      const old = jwks.keys[0]!;
      expect(set.keyFor('ES256', old.kid)).toBeDefined();
      const added = await jwks.rotate({ alg: 'ES256' });
      // An unknown kid makes getKey fetch again: a new key set, nothing selected from it yet.
      await jwtVerify(await sign(0), set.getKey);
      expect(set.fetchCount).toBe(2);
      expect(set.keyFor('ES256', added.kid)).toBeDefined();
      expect(set.keyFor('ES256', old.kid)).toBeUndefined();
    } finally {
      jwks.keys = before;
    }
  });

  it('still answers with stale keys and refreshes them in the background, as getKey does', async () => {
    const set = new RemoteKeySet(jwks.jwksUri, { logger: silent, cacheMaxAgeMs: 0 });
    const es = jwks.keys[0]!;
    const { key } = await jwtVerify(await sign(0), set.getKey);
    const fetches = set.fetchCount;
    let answered: unknown;
    await until(() => {
      answered = set.keyFor('ES256', es.kid);
      return set.fetchCount > fetches;
    }, 'a background refresh');
    // The call that found the keys stale started the fetch and still answered.
    expect(answered).toBe(key);
    // Once the new set is in, keyFor answers only after jose has selected from it.
    await until(() => set.keyFor('ES256', es.kid) === undefined, 'the new key set');
  });
});
