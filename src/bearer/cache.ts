import { hash } from 'node:crypto';
import type { BearerAuth, BearerPayload } from './types.js';

/**
 * What the cache keeps: the accepted result without the token itself, and its time limits. One
 * flat object per entry (not an entry holding a result object), sharing what it can with the
 * entry stored before it (see `set()`): every entry lives until it is evicted, so under
 * first-seen load each one is promoted to the old generation and traced by every major GC.
 * (Heap per entry before and after: BENCHMARKS.md, "Guard, first-seen path".)
 */
interface Entry {
  payload: BearerPayload;
  header: BearerAuth['header'];
  scopes: string[];
  issuer: string;
  kind: BearerAuth['kind'];
  scheme: BearerAuth['scheme'];
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
  /**
   * The prototype of the copies `get()` hands out (default `Object.prototype`). `requireBearer()`
   * gives one holding, under a symbol, how its later checks answer a refusal: that rides on
   * `req.auth` instead of a WeakMap entry per request, which costs more than the rest of a hit.
   * Give an object without an own `constructor`, so the copies still look like plain objects.
   */
  resultPrototype?: object;
}

/** Builds the copies `get()` hands out (and the fast path's fresh results), with the given prototype. */
export type ResultConstructor = new (
  payload: BearerPayload,
  header: BearerAuth['header'],
  token: string,
  scopes: string[],
  issuer: string,
  kind: BearerAuth['kind'],
) => BearerAuth;

export function resultConstructor(prototype: object): ResultConstructor {
  // A constructor function, not a class: a class's prototype has its own `constructor`, which
  // would make `util.inspect(req.auth)` print a class name. Members in the order of the literal
  // the cache built before, so `req.auth` looks the same.
  function CachedResult(
    this: BearerAuth,
    payload: BearerPayload,
    header: BearerAuth['header'],
    token: string,
    scopes: string[],
    issuer: string,
    kind: BearerAuth['kind'],
  ): void {
    this.payload = payload;
    this.header = header;
    this.token = token;
    this.scopes = scopes;
    this.issuer = issuer;
    this.kind = kind;
  }
  CachedResult.prototype = prototype;
  return CachedResult as unknown as ResultConstructor;
}

/** Results that look like the object literals jose's path gives (prototype `Object.prototype`). */
export const PlainResult: ResultConstructor = resultConstructor(Object.prototype);

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
  /** The last stored payload, scopes and header, whose strings and objects the next entry may share (see `set()`). */
  private lastPayload: BearerPayload | undefined;
  private lastScopes: string[] | undefined;
  private lastHeader: NonNullable<BearerAuth['header']> | undefined;
  /** Makes the copies `get()` hands out; the verifier makes its fresh fast-path results with it too, so both carry the prototype. */
  readonly Result: ResultConstructor;
  /** Hits and misses (for tests and metrics). */
  hits = 0;
  misses = 0;

  constructor(options: VerifiedTokenCacheOptions) {
    this.Result = resultConstructor(options.resultPrototype ?? Object.prototype);
    this.max = options.max;
    this.maxTtlMs = options.maxTtlSeconds * 1000;
    this.refreshAfter = Math.max(1, Math.floor(this.max / 2));
    this.evictBatch = Math.max(1, Math.floor(this.max / 100));
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached result for `token`, if it is still valid at `now` (default: the clock; with
   * `toleranceS` of skew). `key` is `keyOf(token)` when the caller has it already.
   */
  get(token: string, toleranceS: number, now?: number, key = keyOf(token)): BearerAuth | undefined {
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses += 1;
      return undefined;
    }
    // The clock only for an entry found (a first-seen token needs none).
    const at = now ?? Date.now();
    const { exp, nbf } = entry.payload;
    const nowS = at / 1000;
    if (
      at >= entry.expiresAt ||
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
    // tombstones in a full cache (BENCHMARKS.md, "a cache without Map churn"). An entry used within the
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
    // Built member by member: a constructor of fixed shape costs less than spreading `auth`.
    const { payload, header, scopes, issuer, kind, scheme } = entry;
    const copy = new this.Result({ ...payload }, header && { ...header }, token, [...scopes], issuer, kind);
    if (scheme !== undefined) copy.scheme = scheme;
    return copy;
  }

  /**
   * Remembers an accepted token until `notAfterMs` at the latest (its `exp`, or an earlier
   * limit of the caller), and `maxTtlSeconds` from now. `key` is `keyOf(auth.token)` when the
   * caller has it already (the guard looked the token up just before verifying it).
   */
  set(auth: BearerAuth, notAfterMs: number | undefined, now = Date.now(), key = keyOf(auth.token)): void {
    const expiresAt = Math.min(now + this.maxTtlMs, notAfterMs ?? Infinity);
    if (!(expiresAt > now) || this.max === 0) return;
    const { payload, header, scopes, issuer, kind, scheme } = auth;
    const copy: BearerPayload = { ...payload };
    // Claims that are the same string as in the previous entry (iss, aud, client_id, scope, ...
    // of one client's tokens) point at that entry's string, so the cache keeps one copy of
    // each: a string is a value, and the stored payload is never handed out (see get()).
    const previous = this.lastPayload;
    for (const name in copy) {
      const value = copy[name];
      if (typeof value !== 'string') deepFreeze(value);
      else if (previous !== undefined && previous[name] === value) copy[name] = previous[name];
    }
    this.lastPayload = copy;
    const stored: Entry = {
      payload: copy,
      header: header && this.sharedHeader(header),
      scopes: this.sharedScopes(scopes),
      issuer,
      kind,
      scheme,
      expiresAt,
      seq: ++this.inserts,
    };
    // One Map operation for a new key (the common case: the caller just missed). A key already
    // there (two requests verified the same token at once) keeps its place on `set`, so it is
    // deleted and set again to move it to the back, as before.
    const size = this.entries.size;
    this.entries.set(key, stored);
    if (this.entries.size === size) {
      this.entries.delete(key);
      this.entries.set(key, stored);
    }
    if (this.entries.size > this.max) this.evict();
  }

  /** The stored copy of `scopes`: the previous entry's when equal (never handed out either). */
  private sharedScopes(scopes: readonly string[]): string[] {
    const last = this.lastScopes;
    if (last !== undefined && last.length === scopes.length) {
      let i = 0;
      while (i < last.length && Object.is(last[i], scopes[i])) i += 1;
      if (i === last.length) return last;
    }
    return (this.lastScopes = [...scopes]);
  }

  /**
   * The stored copy of a JWS header: the previous entry's when equal (one issuer's tokens mostly
   * share one `{ alg, kid, typ }`), else a new frozen copy. Stored headers are never handed out
   * (`get()` copies them), so entries may share one; that is one object less per entry to keep.
   */
  private sharedHeader(header: NonNullable<BearerAuth['header']>): NonNullable<BearerAuth['header']> {
    const last = this.lastHeader;
    if (last !== undefined && sameMembers(last, header) && Object.getOwnPropertySymbols(header).length === 0) return last;
    const copy = { ...header };
    for (const name in copy) deepFreeze(copy[name]);
    this.lastHeader = Object.freeze(copy);
    return copy;
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

  /**
   * Drops the JWT results of an issuer (`ofIssuer(result.issuer)` is true) signed with one of `kids` (keys its JWKS no longer lists),
   * and those whose header named no `kid`, since any of the keys may have verified them. A walk
   * over every entry: keys are withdrawn rarely, and the hot paths stay as they are.
   */
  forgetKeys(ofIssuer: (issuer: string) => boolean, kids: ReadonlySet<string | undefined>): number {
    let dropped = 0;
    for (const [key, entry] of this.entries) {
      if (entry.kind !== 'jwt' || !ofIssuer(entry.issuer)) continue;
      const kid = entry.header?.kid;
      if (kid === undefined || kids.has(kid)) {
        this.entries.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  clear(): void {
    this.entries.clear();
    this.lastPayload = undefined;
    this.lastScopes = undefined;
    this.lastHeader = undefined;
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const inner of Object.values(value)) deepFreeze(inner);
}

/** Whether `a` and `b` have the same own enumerable string-keyed members, in the same order, with the same values (`Object.is`). */
function sameMembers(a: object, b: object): boolean {
  const names = Object.keys(a);
  const others = Object.keys(b);
  if (names.length !== others.length) return false;
  for (let i = 0; i < names.length; i += 1) {
    const name = names[i]!;
    if (name !== others[i] || !Object.is((a as Record<string, unknown>)[name], (b as Record<string, unknown>)[name])) return false;
  }
  return true;
}

/** The cache key of a token: its SHA-256, so the cache never holds a token. */
export function keyOf(token: string): string {
  // crypto.hash(): one call, about half the time of createHash().update().digest() on a token.
  return hash('sha256', token, 'base64url');
}
