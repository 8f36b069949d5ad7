/**
 * The verified-token cache's LRU order when full: hits move an entry to the back only once it has
 * drifted into the older half, and eviction drops a batch at a time (see cache.ts for why: V8
 * Map tombstones). These pin down what that may and may not change.
 */
import { VerifiedTokenCache } from '../../src/bearer/cache.js';
import type { BearerAuth } from '../../src/bearer/types.js';

function auth(token: string): BearerAuth {
  return { payload: { sub: 's' }, header: { alg: 'ES256' }, token, scopes: ['a'], issuer: 'https://i.example.test', kind: 'jwt' };
}

const t0 = 1_700_000_000_000;

describe('VerifiedTokenCache order when full', () => {
  it('keeps a token that is used while many others come and go', () => {
    const cache = new VerifiedTokenCache({ max: 100, maxTtlSeconds: 300 });
    cache.set(auth('hot'), undefined, t0);
    for (let i = 0; i < 2000; i += 1) {
      cache.set(auth(`other-${i}`), undefined, t0);
      if (i % 10 === 0) expect(cache.get('hot', 5, t0)).toBeDefined();
    }
    expect(cache.get('hot', 5, t0)).toMatchObject({ token: 'hot' });
    expect(cache.get('other-0', 5, t0)).toBeUndefined();
  });

  it('drops an unused token after max newer inserts, and stays between 99 % of max and max', () => {
    const cache = new VerifiedTokenCache({ max: 1000, maxTtlSeconds: 300 });
    cache.set(auth('cold'), undefined, t0);
    let smallest = Infinity;
    for (let i = 0; i < 5000; i += 1) {
      cache.set(auth(`other-${i}`), undefined, t0);
      expect(cache.size).toBeLessThanOrEqual(1000);
      if (i >= 1000) smallest = Math.min(smallest, cache.size);
    }
    expect(smallest).toBeGreaterThanOrEqual(990);
    expect(cache.get('cold', 5, t0)).toBeUndefined();
    // The newest are all there.
    for (let i = 4990; i < 5000; i += 1) expect(cache.get(`other-${i}`, 5, t0)).toBeDefined();
  });

  it('an entry used within the last max/2 inserts is not evicted', () => {
    const cache = new VerifiedTokenCache({ max: 100, maxTtlSeconds: 300 });
    for (let i = 0; i < 100; i += 1) cache.set(auth(`t-${i}`), undefined, t0);
    // t-0 is the oldest; a hit moves it to the back, so the next 50 inserts do not drop it.
    expect(cache.get('t-0', 5, t0)).toBeDefined();
    for (let i = 100; i < 150; i += 1) cache.set(auth(`t-${i}`), undefined, t0);
    expect(cache.get('t-0', 5, t0)).toBeDefined();
    expect(cache.get('t-1', 5, t0)).toBeUndefined();
  });

  it('holds no token after a miss and the insert that follows it', () => {
    const cache = new VerifiedTokenCache({ max: 10, maxTtlSeconds: 300 });
    expect(cache.get('secret-token-value', 5, t0)).toBeUndefined();
    cache.set(auth('secret-token-value'), undefined, t0);
    const everything = JSON.stringify({ ...cache, entries: [...(cache as unknown as { entries: Map<string, unknown> }).entries] });
    expect(everything).not.toContain('secret-token-value');
    expect(cache.get('secret-token-value', 5, t0)).toMatchObject({ token: 'secret-token-value' });
  });
});
