import { createHash } from 'node:crypto';
import type { BearerAuth } from './types.js';

/** What the cache keeps: the accepted result without the token itself, and its time limits. */
interface Entry {
  auth: Omit<BearerAuth, 'token'>;
  /** Epoch ms after which the entry is dropped. */
  expiresAt: number;
}

export interface VerifiedTokenCacheOptions {
  /** Most entries; the least recently used go first. */
  max: number;
  /** Longest an entry lives, in seconds. */
  maxTtlSeconds: number;
}

/**
 * A bounded LRU of accepted tokens, so a token seen again skips the signature check (or the
 * introspection request). Keys are the SHA-256 of the token, so the cache never holds a token.
 *
 * An entry lives no longer than `maxTtlSeconds` and never past the token's own `exp` (nor its
 * `iat + maxTokenAge`); on every hit `exp` and `nbf` are checked against the clock again, so an
 * entry can never outlive the token. Refused tokens are not cached: they fail before or at the
 * signature check, which is cheap, and unknown `kid`s are bounded by the JWKS cooldown.
 */
export class VerifiedTokenCache {
  private readonly max: number;
  private readonly maxTtlMs: number;
  private readonly entries = new Map<string, Entry>();
  /** Hits and misses (for tests and metrics). */
  hits = 0;
  misses = 0;

  constructor(options: VerifiedTokenCacheOptions) {
    this.max = options.max;
    this.maxTtlMs = options.maxTtlSeconds * 1000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached result for `token`, if it is still valid at `now` (with `toleranceS` of skew). */
  get(token: string, toleranceS: number, now = Date.now()): BearerAuth | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses += 1;
      return undefined;
    }
    const { exp, nbf } = entry.auth.payload;
    const nowS = now / 1000;
    if (
      now >= entry.expiresAt ||
      (typeof exp === 'number' && exp <= nowS - toleranceS) ||
      (typeof nbf === 'number' && nbf > nowS + toleranceS)
    ) {
      this.entries.delete(key);
      this.misses += 1;
      return undefined;
    }
    // Refresh its place in the LRU order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits += 1;
    // A copy: an app that edits `req.auth` must not change what later requests see. Top-level
    // members are copied (cheap, unlike structuredClone on every hit); nested claim objects
    // were frozen when the entry was stored.
    const { payload, header, scopes } = entry.auth;
    return { ...entry.auth, payload: { ...payload }, header: header && { ...header }, scopes: [...scopes], token };
  }

  /**
   * Remembers an accepted token until `notAfterMs` at the latest (its `exp`, or an earlier
   * limit of the caller), and `maxTtlSeconds` from now.
   */
  set(auth: BearerAuth, notAfterMs: number | undefined, now = Date.now()): void {
    const expiresAt = Math.min(now + this.maxTtlMs, notAfterMs ?? Infinity);
    if (!(expiresAt > now) || this.max === 0) return;
    const key = keyOf(auth.token);
    const { token: _token, ...rest } = auth;
    const stored = { ...rest, payload: { ...rest.payload }, header: rest.header && { ...rest.header }, scopes: [...rest.scopes] };
    for (const value of Object.values(stored.payload)) deepFreeze(value);
    for (const value of Object.values(stored.header ?? {})) deepFreeze(value);
    this.entries.delete(key);
    this.entries.set(key, { auth: stored, expiresAt });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
}

function keyOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}
