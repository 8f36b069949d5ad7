import type { Cluster, Redis } from 'ioredis';
import { sessionStoreUnavailable } from '../errors/index.js';

/**
 * Records that a one-time value was used and says whether this was the first use: `true` the
 * first time within `ttlMs`, `false` on a replay. Atomic across processes (`SET NX PX`).
 *
 * For the `jti` of a Logout Token (OpenID Connect Back-Channel Logout 1.0 §2.6, step 6 says
 * a receiver MAY reject a reused `jti`) and of a DPoP proof (RFC 9449 §11.1). Keep `ttlMs` at least
 * as long as the token's acceptance window (its `exp` or `iat` window), or a replay after the
 * record expired would pass.
 *
 * @param key the full Redis key: prefix it per purpose, e.g. `oidc:jti:logout:<issuer-hash>:<jti>`.
 * @throws ServiceUnavailableError (503) when Redis fails: the caller must not accept the token.
 * @example
 * if (!(await useOnce(client, `oidc:jti:logout:${jti}`, 5 * 60_000))) throw new InvalidRequestError('Logout token replayed.');
 */
export async function useOnce(client: Redis | Cluster, key: string, ttlMs: number): Promise<boolean> {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('key must be a non-empty string');
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 1) {
    throw new TypeError('ttlMs must be a number of milliseconds of at least 1');
  }
  try {
    const answer = await client.set(key, '1', 'PX', Math.ceil(ttlMs), 'NX');
    return answer === 'OK';
  } catch (err) {
    throw sessionStoreUnavailable(err);
  }
}
