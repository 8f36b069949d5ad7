import { hash } from 'node:crypto';
import type { BearerAuth } from './types.js';

/** What the cache keeps: the accepted result without the token itself, and its time limits. */
interface Entry {
  auth: Omit<BearerAuth, 'token'>;
  /** Epoch ms after which the entry is dropped. */
  expiresAt: number;
  /** The cache's insert count when the entry was (re)inserted: its place in the LRU order. */
  seq: number;
}

export interface VerifiedTokenCacheOptions {
  /** Most entries; the least recently used go first. */
  max: number;
  /** Longest an entry lives, in seconds. */
  maxTtlSeconds: number;
}

/**
 * A bounded LRU of accepted tokens, so a token seen again skips the signature check (or the
 * introspection request). The order is kept loosely (see `get()` and `evict()`): an entry used
 * within the last `max / 2` inserts is never the one dropped. Keys are the SHA-256 of the token, so the cache never holds a token.
 *
 * An entry lives no longer than `maxTtlSeconds` and never past the token's own `exp` (nor its
 * `iat + maxTokenAge`); on every hit `exp` and `nbf` are checked against the clock again, so an
 * entry can never outlive the token. Refused tokens are not cached: they fail before or at the
 * signature check, which is cheap, and unknown `kid`s are bounded by the JWKS cooldown.
 */
export class VerifiedTokenCache {
  private readonly max: number;
  private readonly maxTtlMs: number;
  /** In LRU order (Map order is insertion order): the least recently used first. */
  private readonly entries = new Map<string, Entry>();
  /** Inserts so far (new entries and moves to the back). */
  private inserts = 0;
  /** How many inserts may pass before a hit moves its entry to the back again. */
  private readonly refreshAfter: number;
  /** How many entries one eviction pass drops. */
  private readonly evictBatch: number;
  /** Hits and misses (for tests and metrics). */
  hits = 0;
  misses = 0;

  constructor(options: VerifiedTokenCacheOptions) {
    this.max = options.max;
    this.maxTtlMs = options.maxTtlSeconds * 1000;
    this.refreshAfter = Math.max(1, Math.floor(this.max / 2));
    this.evictBatch = Math.max(1, Math.floor(this.max / 100));
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
    // Refresh its place in the LRU order, but only once it has drifted into the older half: in
    // V8 a Map delete + set of the same key leaves a tombstone in that key's hash chain until the
    // table is rebuilt, so doing it on every hit makes a hot token's lookup walk thousands of
    // tombstones in a full cache (~35 µs per hit at 10,000 entries). An entry used within the
    // last max/2 inserts is therefore still never evicted.
    if (this.inserts - entry.seq >= this.refreshAfter) {
      this.entries.delete(key);
      entry.seq = ++this.inserts;
      this.entries.set(key, entry);
    }
    this.hits += 1;
    // A copy: an app that edits `req.auth` must not change what later requests see. Top-level
    // members are copied (cheap, unlike structuredClone on every hit); nested claim objects
    // were frozen when the entry was stored.
    // Built member by member: a literal of fixed shape costs less than spreading `auth`.
    const { payload, header, scopes, issuer, kind, scheme } = entry.auth;
    const copy: BearerAuth = { payload: { ...payload }, header: header && { ...header }, token, scopes: [...scopes], issuer, kind };
    if (scheme !== undefined) copy.scheme = scheme;
    return copy;
  }

  /**
   * Remembers an accepted token until `notAfterMs` at the latest (its `exp`, or an earlier
   * limit of the caller), and `maxTtlSeconds` from now.
   */
  set(auth: BearerAuth, notAfterMs: number | undefined, now = Date.now()): void {
    const expiresAt = Math.min(now + this.maxTtlMs, notAfterMs ?? Infinity);
    if (!(expiresAt > now) || this.max === 0) return;
    const key = keyOf(auth.token);
    const { payload, header, scopes, issuer, kind, scheme } = auth;
    const stored: Omit<BearerAuth, 'token'> = { payload: { ...payload }, header: header && { ...header }, scopes: [...scopes], issuer, kind };
    if (scheme !== undefined) stored.scheme = scheme;
    for (const name in stored.payload) deepFreeze(stored.payload[name]);
    if (stored.header) for (const name in stored.header) deepFreeze(stored.header[name]);
    this.entries.delete(key);
    this.entries.set(key, { auth: stored, expiresAt, seq: ++this.inserts });
    if (this.entries.size > this.max) this.evict();
  }

  /**
   * Drops the least recently used entries down to `max`, and a batch more (1 % of `max`): each
   * pass starts a Map iterator, which walks over the tombstones the earlier deletes left at the
   * front of the table, so one pass per insert would cost O(max) each time.
   */
  private evict(): void {
    let drop = this.entries.size - this.max + (this.max >= 100 ? this.evictBatch : 0);
    for (const key of this.entries.keys()) {
      if (drop <= 0) break;
      this.entries.delete(key);
      drop -= 1;
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
  // crypto.hash(): one call, about half the time of createHash().update().digest() on a token.
  return hash('sha256', token, 'base64url');
}
