import { createLocalJWKSet, errors as joseErrors, type FlattenedJWSInput, type JSONWebKeySet, type JWSHeaderParameters } from 'jose';
import { ServiceUnavailableError } from '../errors/index.js';
import { fetchJson, type Transport } from './http.js';
import { isPlainObject } from '../config/assert.js';
import { ISSUER_DEFAULTS } from '../config/defaults.js';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';

export interface RemoteKeySetOptions {
  /** Timeout of one JWKS request, in ms. Default 5000. */
  timeoutMs?: number;
  /**
   * Least time between two fetches triggered by a token whose `kid` is unknown, in ms. Bounds
   * what an attacker sending random `kid`s can make us fetch. Default 30000.
   */
  cooldownMs?: number;
  /**
   * Least time between two fetches that `getKeyPromptly` (the sign-in path) starts for an
   * unknown `kid`, in ms. Default 1000.
   */
  promptFloorMs?: number;
  /** Keys older than this are refreshed in the background, in ms. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** After a failed fetch, requests that need a fetch fail fast for this long, in ms. Default 1000. */
  failureBackoffMs?: number;
  /** Largest accepted JWKS document, in bytes. Default 512 KiB. */
  maxBytes?: number;
  logger?: Logger;
  /** How the requests travel (the app's `fetch`, or a proxy). Default: Node's fetch, direct. */
  transport?: Transport | undefined;
  /**
   * Told, after a fetch, the `kid`s the previous set had and the new one lacks (`undefined` for a
   * withdrawn key without a `kid`), so results verified with a withdrawn key can be forgotten.
   */
  onKeysWithdrawn?: (kids: ReadonlySet<string | undefined>) => void;
}

type KeyGetter = ReturnType<typeof createLocalJWKSet>;
type Key = Awaited<ReturnType<KeyGetter>>;

/** One fetched key set: jose's selection over it, when it was fetched, and what it has picked. */
interface LocalKeys {
  get: KeyGetter;
  at: number;
  /**
   * The key jose's selection returned, by `alg` and then `kid` (`undefined` for none), so
   * `keyFor()` can answer synchronously. Only successful selections are kept, and a selection
   * needs a `kid` of this set (or none), so the map is bounded by keys × algorithms.
   */
  selected: Map<string, Map<string | undefined, Key>>;
  /** Each key of the set by an identity (its `kid`, else its public members), to its `kid`. */
  ids: Map<string, string | undefined>;
}

/** The keys of a JWKS by identity: `kid:<kid>`, or the key's own members when it has no `kid`. */
function keyIds(keys: Array<Record<string, unknown>>): Map<string, string | undefined> {
  const ids = new Map<string, string | undefined>();
  for (const key of keys) {
    if (typeof key.kid === 'string') ids.set(`kid:${key.kid}`, key.kid);
    else ids.set(`jwk:${JSON.stringify([key.kty, key.crv, key.n, key.e, key.x, key.y])}`, undefined);
  }
  return ids;
}

/**
 * An issuer's JSON Web Key Set, fetched from `jwks_uri` and kept in memory. Unlike jose's own
 * remote set it keeps the last good keys when the endpoint fails, so tokens signed by known keys
 * go on verifying through a JWKS outage; it fetches again on an unknown `kid` at most once per
 * cooldown; and when no key fits and none can be fetched it fails with a 503
 * (`ServiceUnavailableError`), because the token may well be valid.
 *
 * Header members that point at other keys (`jku`, `x5u`, `jwk`, `x5c`) are never used: keys come
 * only from the configured `jwks_uri`.
 */
export class RemoteKeySet {
  private readonly resolveUri: () => Promise<string>;
  private readonly timeoutMs: number;
  private readonly cooldownMs: number;
  private readonly cacheMaxAgeMs: number;
  private readonly failureBackoffMs: number;
  private readonly maxBytes: number;
  private readonly logger: Logger;
  private readonly transport: Transport | undefined;
  private readonly onKeysWithdrawn: ((kids: ReadonlySet<string | undefined>) => void) | undefined;
  /** Least time between two fetches for an unknown `kid` that `getKeyPromptly` starts, in ms. */
  readonly promptFloorMs: number;
  private local: LocalKeys | undefined;
  private inFlight: Promise<void> | undefined;
  private lastAttemptAt = -Infinity;
  private lastFailureAt = -Infinity;
  /** When a fetch for an unknown `kid` was last started (by either path; not the first load, nor a refresh of stale keys). */
  private lastRefetchAt = -Infinity;
  /** How many JWKS fetches were started (for tests and metrics). */
  fetchCount = 0;

  /** @param uri the `jwks_uri`, or a function that resolves it (from discovery) when first needed. */
  constructor(uri: string | URL | (() => Promise<string>), options: RemoteKeySetOptions = {}) {
    this.resolveUri = typeof uri === 'function' ? uri : () => Promise.resolve(String(uri));
    this.timeoutMs = options.timeoutMs ?? ISSUER_DEFAULTS.httpTimeoutMs;
    this.cooldownMs = options.cooldownMs ?? ISSUER_DEFAULTS.jwksCooldownMs;
    this.cacheMaxAgeMs = options.cacheMaxAgeMs ?? ISSUER_DEFAULTS.jwksCacheMaxAgeMs;
    this.failureBackoffMs = options.failureBackoffMs ?? ISSUER_DEFAULTS.jwksFailureBackoffMs;
    this.maxBytes = options.maxBytes ?? ISSUER_DEFAULTS.jwksMaxBytes;
    this.logger = options.logger ?? defaultLogger;
    this.transport = options.transport;
    this.promptFloorMs = options.promptFloorMs ?? ISSUER_DEFAULTS.jwksPromptFloorMs;
    this.onKeysWithdrawn = options.onKeysWithdrawn;
  }

  /** A key resolver for jose's `jwtVerify(token, keySet.getKey)`. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> => {
    if (!this.local) {
      await this.reload(true);
    } else if (Date.now() - this.local.at > this.cacheMaxAgeMs) {
      void this.reload(false).catch(() => undefined);
    }
    try {
      return await this.select(this.local!, header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (Date.now() - this.lastAttemptAt < this.cooldownMs) throw err;
      this.lastRefetchAt = Date.now();
      await this.reload(true);
      return this.select(this.local!, header, token);
    }
  };

  /**
   * `getKey` for a token that came over the back channel (an ID token from the token endpoint):
   * an unknown `kid` refetches the set at once rather than after the cooldown, because such a
   * token is the issuer's own answer and cannot be sent in floods, and a key rotated just after
   * the last fetch must not refuse sign-ins. Single-flight (callers join the fetch under way),
   * and at most one such fetch per `promptFloorMs`. Never give this to a path anyone can send
   * tokens to (the Bearer guard, back-channel logout): those keep the cooldown.
   */
  readonly getKeyPromptly = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> => {
    try {
      return await this.getKey(header, token);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (this.inFlight === undefined) {
        if (Date.now() - this.lastRefetchAt < this.promptFloorMs) throw err;
        this.lastRefetchAt = Date.now();
      }
      await this.reload(true);
      return this.select(this.local!, header, token);
    }
  };

  /**
   * Synchronously, the key `getKey` already selected for this `alg` and `kid` from the current
   * keys, or `undefined` (no keys yet, or this pair not selected yet: ask `getKey`). Stale keys
   * are refreshed in the background, as `getKey` does, and still answered meanwhile.
   */
  keyFor(alg: string, kid: string | undefined): Key | undefined {
    const local = this.local;
    if (!local) return undefined;
    const key = local.selected.get(alg)?.get(kid);
    if (key !== undefined && Date.now() - local.at > this.cacheMaxAgeMs) {
      void this.reload(false).catch(() => undefined);
    }
    return key;
  }

  /** jose's selection (`createLocalJWKSet`), remembering its answer for `keyFor()`. */
  private async select(local: LocalKeys, header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<Key> {
    const key = await local.get(header, token);
    // jose selects on the protected header merged with the unprotected one; compact tokens
    // have none, and only then does the answer depend on `alg` and `kid` alone.
    const { alg, kid } = header;
    if (token?.header === undefined && typeof alg === 'string' && (kid === undefined || typeof kid === 'string')) {
      let byKid = local.selected.get(alg);
      if (byKid === undefined) local.selected.set(alg, (byKid = new Map()));
      byKid.set(kid, key);
    }
    return key;
  }

  /** Fetches the set now (once, even when many callers ask at the same moment). */
  private async reload(mustSucceed: boolean): Promise<void> {
    if (!this.inFlight) {
      if (Date.now() - this.lastFailureAt < this.failureBackoffMs) {
        if (!mustSucceed) return;
        throw new ServiceUnavailableError("The issuer's signing keys cannot be fetched.");
      }
      this.inFlight = this.fetchSet().finally(() => {
        this.inFlight = undefined;
      });
    }
    try {
      await this.inFlight;
    } catch (err) {
      if (mustSucceed) throw new ServiceUnavailableError("The issuer's signing keys cannot be fetched.", { cause: err });
    }
  }

  private async fetchSet(): Promise<void> {
    this.fetchCount += 1;
    this.lastAttemptAt = Date.now();
    try {
      const uri = await this.resolveUri();
      const res = await fetchJson(uri, { timeoutMs: this.timeoutMs, maxBytes: this.maxBytes, transport: this.transport });
      if (res.status !== 200) throw new Error(`JWKS endpoint answered HTTP ${res.status}`);
      const body = res.body;
      if (!isPlainObject(body) || !Array.isArray(body.keys)) throw new Error('JWKS document has no "keys" array');
      const keys = (body.keys as unknown[]).filter(isPlainObject);
      const previous = this.local;
      this.local = { get: createLocalJWKSet({ keys } as JSONWebKeySet), at: Date.now(), selected: new Map(), ids: keyIds(keys) };
      if (previous !== undefined && this.onKeysWithdrawn !== undefined) {
        const withdrawn = new Set<string | undefined>();
        for (const [id, kid] of previous.ids) if (!this.local.ids.has(id)) withdrawn.add(kid);
        if (withdrawn.size > 0) this.onKeysWithdrawn(withdrawn);
      }
    } catch (err) {
      this.lastFailureAt = Date.now();
      this.logger.warn('JWKS fetch failed; keeping the last good keys', describeCause(err));
      throw err;
    }
  }
}
