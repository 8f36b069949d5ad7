import { decodeJwt } from 'jose';
import { InvalidTokenError, IssuerResponseError } from '../errors/index.js';
import { IssuerDiscovery, issuerMatches, type IssuerMetadata } from '../issuer/discovery.js';
import { RemoteKeySet } from '../issuer/jwks.js';
import { VerifiedTokenCache } from './cache.js';
import { resolveBearerOptions, type ResolvedBearerConfig, type ResolvedIssuer } from './config.js';
import { DEFAULT_ASYMMETRIC_ALGORITHMS, ISSUER_SIGNING_ALG_MEMBERS } from './defaults.js';
import { introspectAccessToken, type IntrospectionConfig } from './introspect.js';
import { verifyAccessToken, type JwtVerifyConfig } from './verify.js';
import type { BearerAuth, BearerOptions } from './types.js';

/**
 * The default allow-list narrowed to what the issuer says it signs with (its
 * `*_signing_alg_values_supported` members, see `ISSUER_SIGNING_ALG_MEMBERS`). When the issuer
 * advertises nothing usable, the defaults stay.
 */
export function algorithmsFor(metadata: IssuerMetadata | undefined): string[] {
  if (!metadata) return [...DEFAULT_ASYMMETRIC_ALGORITHMS];
  const advertised = new Set<string>();
  for (const member of ISSUER_SIGNING_ALG_MEMBERS) {
    const list = metadata[member];
    if (Array.isArray(list)) for (const alg of list) if (typeof alg === 'string') advertised.add(alg);
  }
  const narrowed = DEFAULT_ASYMMETRIC_ALGORITHMS.filter((alg) => advertised.has(alg));
  return narrowed.length > 0 ? narrowed : [...DEFAULT_ASYMMETRIC_ALGORITHMS];
}

/** One trusted issuer at run time: its metadata, keys and (optional) introspection. */
class IssuerTrust {
  readonly discovery: IssuerDiscovery | undefined;
  readonly keySet: RemoteKeySet | undefined;
  private metadataAlgorithms: { from: IssuerMetadata; list: string[] } | undefined;

  constructor(
    readonly resolved: ResolvedIssuer,
    private readonly config: ResolvedBearerConfig,
  ) {
    const { jwks, logger } = config;
    if (resolved.issuerBaseURL !== undefined) {
      this.discovery = new IssuerDiscovery(resolved.issuerBaseURL, { timeoutMs: jwks.timeoutMs, logger });
    }
    if (resolved.secret === undefined) {
      const discovery = this.discovery;
      const uri = resolved.jwksUri ?? (async (): Promise<string> => {
        const metadata = await discovery!.metadata();
        if (typeof metadata.jwks_uri !== 'string') throw new IssuerResponseError('The issuer metadata has no jwks_uri.');
        return metadata.jwks_uri;
      });
      this.keySet = new RemoteKeySet(uri, { timeoutMs: jwks.timeoutMs, cooldownMs: jwks.cooldownMs, cacheMaxAgeMs: jwks.cacheMaxAgeMs, logger });
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
    let algorithms = this.resolved.algorithms;
    if (algorithms === undefined) {
      if (this.resolved.secret !== undefined) algorithms = ['HS256', 'HS384', 'HS512'];
      else if (metadata && this.metadataAlgorithms?.from === metadata) algorithms = this.metadataAlgorithms.list;
      else {
        algorithms = algorithmsFor(metadata);
        if (metadata) this.metadataAlgorithms = { from: metadata, list: algorithms };
      }
    }
    const { clockTolerance, maxTokenAge, requiredClaims, strict } = this.config;
    return {
      issuer: metadata?.issuer ?? this.resolved.issuer ?? this.resolved.label,
      audience: this.resolved.audience,
      algorithms,
      key: this.resolved.secret ?? this.keySet!.getKey,
      clockTolerance,
      ...(maxTokenAge !== undefined ? { maxTokenAge } : {}),
      requiredClaims,
      strict,
    };
  }

  async introspectionConfig(): Promise<IntrospectionConfig & { cacheMaxTtlSeconds: number }> {
    const options = this.resolved.introspection!;
    const metadata = await this.metadata();
    const endpoint = options.endpoint ?? metadata?.introspection_endpoint;
    if (endpoint === undefined) throw new IssuerResponseError('The issuer metadata has no introspection_endpoint.');
    return {
      endpoint,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authMethod: options.authMethod,
      timeoutMs: options.timeoutMs,
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
  /** The cached result for `token` (a copy), or `undefined` on a miss. Synchronous. */
  cached(token: string): BearerAuth | undefined;
  /** `verify()` without the cache lookup (the caller just missed); caches an accepted token. */
  verifyUncached(token: string): Promise<BearerAuth>;
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

/** The checker for options already resolved by `resolveBearerOptions()`. */
export function verifierFor(config: ResolvedBearerConfig): InternalBearerVerifier {
  const trusts = config.issuers.map((issuer) => new IssuerTrust(issuer, config));
  const introspecting = trusts.find((t) => t.resolved.introspection !== undefined);
  const cache = config.cache === false ? undefined : new VerifiedTokenCache(config.cache);

  function pickIssuer(token: string): IssuerTrust {
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

  function cached(token: string): BearerAuth | undefined {
    return cache?.get(token, config.clockTolerance);
  }

  async function verify(token: string): Promise<BearerAuth> {
    return cached(token) ?? verifyUncached(token);
  }

  async function verifyUncached(token: string): Promise<BearerAuth> {
    const now = Date.now();
    if (token.split('.').length === 3) {
      const trust = pickIssuer(token);
      const auth = await verifyAccessToken(token, await trust.jwtConfig());
      const { exp, iat } = auth.payload;
      let notAfter = typeof exp === 'number' ? exp * 1000 : now;
      if (config.maxTokenAge !== undefined && typeof iat === 'number') {
        notAfter = Math.min(notAfter, (iat + config.maxTokenAge + config.clockTolerance) * 1000);
      }
      cache?.set(auth, notAfter, now);
      return auth;
    }
    if (!introspecting) throw new InvalidTokenError('malformed token');
    const introspection = await introspecting.introspectionConfig();
    const auth = await introspectAccessToken(token, introspection);
    const { exp } = auth.payload;
    const limit = now + introspection.cacheMaxTtlSeconds * 1000;
    cache?.set(auth, typeof exp === 'number' ? Math.min(exp * 1000, limit) : limit, now);
    return auth;
  }

  return {
    verify,
    cached,
    verifyUncached,
    config,
    cache,
    jwksFetchCount: () => trusts.reduce((sum, t) => sum + (t.keySet?.fetchCount ?? 0), 0),
  };
}
