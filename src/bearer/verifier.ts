import { availableParallelism } from 'node:os';
import { decodeJwt } from 'jose';
import { InvalidTokenError, IssuerResponseError } from '../errors/index.js';
import { IssuerDiscovery, issuerMatches, type IssuerMetadata } from '../issuer/discovery.js';
import { RemoteKeySet } from '../issuer/jwks.js';
import { keyOf, PlainResult, VerifiedTokenCache, type ResultConstructor } from './cache.js';
import { resolveBearerOptions, type ResolvedBearerConfig, type ResolvedIssuer } from './config.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';
import { introspectAndRemember, type IntrospectionConfig } from './introspect.js';
import { acceptPlainJws, acceptPlainJwsLater, parsePlainJws, type SyncKeyLookup } from './jws-fast.js';
import { verifyAccessToken, type JwtVerifyConfig } from './verify.js';
import type { BearerAuth, BearerOptions } from './types.js';

/**
 * The default allow-list narrowed to what the issuer says it signs with (its
 * `*_signing_alg_values_supported` members, see `BEARER_DEFAULTS.issuerSigningAlgMembers`). When the issuer
 * advertises nothing usable, the defaults stay.
 */
export function algorithmsFor(metadata: IssuerMetadata | undefined): string[] {
  if (!metadata) return [...BEARER_DEFAULTS.asymmetricAlgorithms];
  const advertised = new Set<string>();
  for (const member of BEARER_DEFAULTS.issuerSigningAlgMembers) {
    const list = metadata[member];
    if (Array.isArray(list)) for (const alg of list) if (typeof alg === 'string') advertised.add(alg);
  }
  const narrowed = BEARER_DEFAULTS.asymmetricAlgorithms.filter((alg) => advertised.has(alg));
  return narrowed.length > 0 ? narrowed : [...BEARER_DEFAULTS.asymmetricAlgorithms];
}

/** One trusted issuer at run time: its metadata, keys and (optional) introspection. */
class IssuerTrust {
  readonly discovery: IssuerDiscovery | undefined;
  readonly keySet: RemoteKeySet | undefined;
  /** `keySet.keyFor`, bound once. */
  readonly keyFor: SyncKeyLookup | undefined;
  /**
   * The last config built, for the metadata it was built from: one object per metadata, so what
   * depends only on the config (jose options, the fast path's plan) is worked out once.
   */
  private built: { from: IssuerMetadata | undefined; config: JwtVerifyConfig; checkedAt: number } | undefined;

  /** `cache`: the verified-token cache, whose results signed with a withdrawn key are forgotten. */
  constructor(
    readonly resolved: ResolvedIssuer,
    private readonly config: ResolvedBearerConfig,
    cache: VerifiedTokenCache | undefined,
  ) {
    const { jwks, logger, transport } = config;
    if (resolved.issuerBaseURL !== undefined) {
      this.discovery = new IssuerDiscovery(resolved.issuerBaseURL, { timeoutMs: jwks.timeoutMs, logger, transport });
    }
    if (resolved.secret === undefined) {
      const discovery = this.discovery;
      const uri =
        resolved.jwksUri ??
        (async (): Promise<string> => {
          const metadata = await discovery!.metadata();
          if (typeof metadata.jwks_uri !== 'string') throw new IssuerResponseError('The issuer metadata has no jwks_uri.');
          return metadata.jwks_uri;
        });
      const keySet = new RemoteKeySet(uri, {
        timeoutMs: jwks.timeoutMs,
        cooldownMs: jwks.cooldownMs,
        cacheMaxAgeMs: jwks.cacheMaxAgeMs,
        logger,
        transport,
        // A token signed with a key the issuer withdrew must not stay accepted from the cache.
        ...(cache !== undefined ? { onKeysWithdrawn: (kids) => void cache.forgetKeys((iss) => this.matches(iss), kids) } : {}),
      });
      this.keySet = keySet;
      this.keyFor = (alg, kid) => keySet.keyFor(alg, kid);
    }
  }

  /** True when `iss` (unverified) names this issuer. */
  matches(iss: string): boolean {
    if (this.resolved.issuer !== undefined) return iss === this.resolved.issuer;
    const metadata = this.discovery?.peek();
    return metadata ? iss === metadata.issuer : issuerMatches(this.resolved.label, iss);
  }

  private async metadata(): Promise<IssuerMetadata | undefined> {
    return this.discovery ? this.discovery.metadata() : undefined;
  }

  async jwtConfig(): Promise<JwtVerifyConfig> {
    const metadata = await this.metadata();
    const built = this.built;
    if (built !== undefined && built.from === metadata) {
      built.checkedAt = Date.now();
      return built.config;
    }
    let algorithms = this.resolved.algorithms;
    if (algorithms === undefined) {
      algorithms = this.resolved.secret !== undefined ? ['HS256', 'HS384', 'HS512'] : algorithmsFor(metadata);
    }
    const { clockTolerance, maxTokenAge, requiredClaims, strict, validators } = this.config;
    const config: JwtVerifyConfig = {
      issuer: metadata?.issuer ?? this.resolved.issuer ?? this.resolved.label,
      audience: this.resolved.audience,
      algorithms,
      key: this.resolved.secret ?? this.keySet!.getKey,
      clockTolerance,
      ...(maxTokenAge !== undefined ? { maxTokenAge } : {}),
      requiredClaims,
      strict,
      ...(validators !== undefined ? { validators } : {}),
    };
    this.built = { from: metadata, config, checkedAt: Date.now() };
    return config;
  }

  /**
   * `jwtConfig()` without waiting: the config built for the metadata known now, or `undefined`
   * (none built yet, or the metadata changed since). As `jwtConfig()` would, it lets discovery
   * refresh stale metadata in the background, asking at most once a second. `now` is the
   * caller's `Date.now()`.
   */
  jwtConfigNow(now: number): JwtVerifyConfig | undefined {
    const built = this.built;
    if (built === undefined) return undefined;
    if (this.discovery !== undefined) {
      if (this.discovery.peek() !== built.from) return undefined;
      if (now - built.checkedAt > 1000) {
        built.checkedAt = now;
        void this.jwtConfig().catch(() => undefined);
      }
    }
    return built.config;
  }

  async introspectionConfig(): Promise<IntrospectionConfig & { cacheMaxTtlSeconds: number }> {
    const options = this.resolved.introspection!;
    const metadata = await this.metadata();
    const endpoint = options.endpoint ?? metadata?.introspection_endpoint;
    if (endpoint === undefined) throw new IssuerResponseError('The issuer metadata has no introspection_endpoint.');
    return {
      endpoint,
      clientID: options.clientID,
      clientSecret: options.clientSecret,
      authMethod: options.authMethod,
      timeoutMs: options.timeoutMs,
      transport: this.config.transport,
      cacheMaxTtlSeconds: options.cacheMaxTtlSeconds,
      issuer: metadata?.issuer ?? this.resolved.issuer ?? this.resolved.label,
      audience: this.resolved.audience,
      clockTolerance: this.config.clockTolerance,
    };
  }
}

/** A framework-free token checker built from `requireBearer()` options. */
export interface BearerVerifier {
  /**
   * Checks an access token: a JWT (three segments) against the keys of the issuer its `iss`
   * names, an opaque token at the introspection endpoint. Accepted results are cached.
   *
   * @throws InvalidTokenError (401), ServiceUnavailableError (503), IssuerResponseError (502).
   */
  verify(token: string): Promise<BearerAuth>;
  /** The resolved options. */
  readonly config: ResolvedBearerConfig;
  /** The verified-token cache, when enabled. */
  readonly cache: VerifiedTokenCache | undefined;
  /** JWKS fetches started so far, over all issuers (for tests and metrics). */
  jwksFetchCount(): number;
}

/**
 * The checker as `requireBearer()` uses it: `verify()` split into its synchronous cache lookup
 * and the check on a miss, so a cached token can be accepted without a promise hop.
 */
export interface InternalBearerVerifier extends BearerVerifier {
  /**
   * The cache key of `token` (its SHA-256), or `undefined` without a cache. The guard works it
   * out once per request and hands it to `cached()` and, on a miss, `verifyUncached()`, which
   * would otherwise hash the token again to insert it.
   */
  cacheKey(token: string): string | undefined;
  /** The cached result for `token` (a copy), or `undefined` on a miss. Synchronous. `key`: `cacheKey(token)`. */
  cached(token: string, key?: string): BearerAuth | undefined;
  /**
   * Whether `verifyUncached()` tries the fast check of plain JWTs (jws-fast.ts) before jose.
   * Always on; tests turn it off to compare the guard's answers with jose's alone.
   */
  fastPath: boolean;
  /**
   * Whether the fast check verifies the signature on the event loop (`true`) or on libuv's
   * threadpool (`false`). Default (`undefined`): inline for RSA (RS*, PS*) always, and for ECDSA
   * and EdDSA when this process may run on one core only (taskset, a one-CPU container): there
   * the threadpool cannot run beside the event loop, so its hand-off is pure cost, and RSA's
   * verify is cheaper than the hop with two cores too (BENCHMARKS.md, "Verifying on the
   * threadpool or inline"). Tests set it to run the property test both ways.
   */
  inlineSignature: boolean | undefined;
  /**
   * The fast check alone, without the cache: `undefined` when it does not apply, else the
   * accepted result (or a promise of it, on the threadpool), `undefined` when the signature is
   * bad. Does not cache. `now`: `Date.now()`, when the caller has it.
   */
  verifyFast(token: string, now?: number): Promise<BearerAuth | undefined> | BearerAuth | undefined;
  /**
   * `verify()` without the cache lookup (the caller just missed); caches an accepted token.
   * `key`: `cacheKey(token)`, when the caller has it.
   */
  verifyUncached(token: string, key?: string): Promise<BearerAuth>;
  /**
   * `verifyUncached()` without a promise when it can: a token the fast check accepts with its
   * signature checked inline is cached and returned as is (the guard answers it in the same
   * tick); anything else gives `verifyUncached()`'s promise. Does not throw: a refusal rejects.
   */
  beginUncached(token: string, key?: string): BearerAuth | Promise<BearerAuth>;
}

/**
 * Builds the token checker behind `requireBearer()`, for use without Express (a WebSocket
 * upgrade, a queue consumer). Options are those of `requireBearer()` and are checked here.
 *
 * @example
 * ```ts
 * const verifier = createBearerVerifier({ issuerBaseURL: 'https://issuer.example', audience: 'https://api.example' });
 * const auth = await verifier.verify(token); // auth.payload.sub, auth.scopes
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export function createBearerVerifier(options?: BearerOptions): BearerVerifier {
  return verifierFor(resolveBearerOptions(options));
}

/** The trusted issuer a JWT's (unverified) `iss` names; the only one when there is one. */
function pickIssuer(trusts: IssuerTrust[], token: string): IssuerTrust {
  if (trusts.length === 1) return trusts[0]!;
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch (err) {
    throw new InvalidTokenError('malformed token', { cause: err });
  }
  const trust = typeof iss === 'string' ? trusts.find((t) => t.matches(iss)) : undefined;
  if (!trust) throw new InvalidTokenError('unexpected issuer');
  return trust;
}

/** Caches an accepted JWT until its `exp` (and `iat + maxTokenAge`) at the latest. */
function rememberJwt(
  cache: VerifiedTokenCache | undefined,
  config: ResolvedBearerConfig,
  auth: BearerAuth,
  now: number,
  key: string | undefined,
): void {
  if (!cache) return;
  const { exp, iat } = auth.payload;
  let notAfter = typeof exp === 'number' ? exp * 1000 : now;
  if (config.maxTokenAge !== undefined && typeof iat === 'number') {
    notAfter = Math.min(notAfter, (iat + config.maxTokenAge + config.clockTolerance) * 1000);
  }
  cache.set(auth, notAfter, now, key);
}

/**
 * Whether the signature of `alg` is checked inline by default (see `inlineSignature`). RSA
 * (RS*, PS*): always, as its verify is cheap enough that the threadpool hop costs more CPU than
 * it frees for the event loop, with one core or two. ECDSA and EdDSA: only when this process may
 * run on one core (taskset, a one-CPU container); with a second core their slower verify pays
 * for the hop. Measured: BENCHMARKS.md, "Verifying on the threadpool or inline".
 */
function inlineByDefault(alg: string, oneCore: boolean): boolean {
  return oneCore || alg.charCodeAt(0) === 82 /* R */ || alg.charCodeAt(0) === 80; /* P */
}

/**
 * The fast check of a plain JWT (jws-fast.ts): `undefined` at once when it does not apply (not
 * the plain shape, keys or config not known yet, a claim check fails) or its inline signature
 * check fails, the result when accepted inline, else the threadpool check's promise
 * (`undefined` when it fails). jose then gives the verdict. `inline`: see `inlineSignature`.
 */
function fastCheck(
  trusts: IssuerTrust[],
  token: string,
  now: number,
  inline: boolean | undefined,
  oneCore: boolean,
  Result: ResultConstructor,
): Promise<BearerAuth | undefined> | BearerAuth | undefined {
  const jws = parsePlainJws(token);
  if (jws === undefined) return undefined;
  let trust: IssuerTrust | undefined = trusts[0];
  if (trusts.length !== 1) {
    // As pickIssuer(), on the payload already decoded.
    const iss = jws.payload.iss;
    trust = typeof iss === 'string' ? trusts.find((t) => t.matches(iss)) : undefined;
  }
  const jwtConfig = trust?.jwtConfigNow(now);
  // Custom validators replace built-in checks the fast path makes: jose's path alone then.
  if (trust?.keyFor === undefined || jwtConfig === undefined || jwtConfig.validators !== undefined) return undefined;
  // The signature inline or on libuv's threadpool (see `inlineSignature`).
  const clock = jwtConfig.now;
  const at = clock === undefined ? now : clock();
  return (inline ?? inlineByDefault(jws.header.alg, oneCore))
    ? acceptPlainJws(token, jws, jwtConfig, trust.keyFor, at, Result)
    : acceptPlainJwsLater(token, jws, jwtConfig, trust.keyFor, at, Result);
}

/**
 * The checker for options already resolved by `resolveBearerOptions()`. `resultPrototype`: the
 * prototype of the results its cache hands out (see `VerifiedTokenCacheOptions`).
 */
export function verifierFor(config: ResolvedBearerConfig, resultPrototype?: object): InternalBearerVerifier {
  const cache =
    config.cache === false ? undefined : new VerifiedTokenCache({ ...config.cache, ...(resultPrototype ? { resultPrototype } : {}) });
  const trusts = config.issuers.map((issuer) => new IssuerTrust(issuer, config, cache));
  const introspecting = trusts.find((t) => t.resolved.introspection !== undefined);

  function cacheKey(token: string): string | undefined {
    return cache === undefined ? undefined : keyOf(token);
  }

  function cached(token: string, key?: string): BearerAuth | undefined {
    return cache?.get(token, config.clockTolerance, undefined, key);
  }

  async function verify(token: string): Promise<BearerAuth> {
    return cached(token) ?? verifyUncached(token);
  }

  /** Makes the fast path's results: the cache's constructor, so they carry its prototype too. */
  const Result = cache?.Result ?? PlainResult;
  const oneCore = availableParallelism() < 2;

  function beginUncached(token: string, key?: string): BearerAuth | Promise<BearerAuth> {
    const now = Date.now();
    let fast: Promise<BearerAuth | undefined> | BearerAuth | undefined;
    try {
      fast = self.fastPath ? fastCheck(trusts, token, now, self.inlineSignature, oneCore, Result) : undefined;
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (fast === undefined || fast instanceof Promise) return finishUncached(token, key, now, fast);
    // Accepted inline: the result is at hand, no turn through a promise.
    rememberJwt(cache, config, fast, now, key);
    return fast;
  }

  async function verifyUncached(token: string, key?: string): Promise<BearerAuth> {
    return beginUncached(token, key);
  }

  /** The rest of `verifyUncached()`: the threadpool's verdict, else jose or introspection. */
  async function finishUncached(
    token: string,
    key: string | undefined,
    now: number,
    fast: Promise<BearerAuth | undefined> | undefined,
  ): Promise<BearerAuth> {
    const accepted = fast === undefined ? undefined : await fast;
    if (accepted !== undefined) {
      rememberJwt(cache, config, accepted, now, key);
      return accepted;
    }
    if (token.split('.').length === 3) {
      const trust = pickIssuer(trusts, token);
      const auth = await verifyAccessToken(token, await trust.jwtConfig());
      rememberJwt(cache, config, auth, now, key);
      return auth;
    }
    if (!introspecting) throw new InvalidTokenError('malformed token');
    return introspectAndRemember(await introspecting.introspectionConfig(), token, cache, now, key);
  }

  const self: InternalBearerVerifier = {
    verify,
    cacheKey,
    cached,
    verifyUncached,
    beginUncached,
    verifyFast: (token, now = Date.now()) => fastCheck(trusts, token, now, self.inlineSignature, oneCore, Result),
    fastPath: true,
    inlineSignature: undefined,
    config,
    cache,
    jwksFetchCount: () => trusts.reduce((sum, t) => sum + (t.keySet?.fetchCount ?? 0), 0),
  };
  return self;
}
