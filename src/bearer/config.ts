import {
  assertObject,
  isPlainObject,
  optionError,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  optionalStringList,
  rejectUnknown,
  requiredString,
  requiredUrl,
} from '../config/assert.js';
import { bearerEnv } from '../config/from-env.js';
import { defaultLogger, type Logger } from '../util/logger.js';
import {
  DEFAULT_ASYMMETRIC_ALGORITHMS,
  DEFAULT_CACHE_MAX,
  DEFAULT_CACHE_MAX_TTL_S,
  DEFAULT_CLOCK_TOLERANCE_S,
  DEFAULT_DPOP_ALGORITHMS,
  DEFAULT_DPOP_MAX_PROOF_AGE_S,
  DEFAULT_DPOP_MODE,
  DEFAULT_DPOP_NONCE_WINDOW_S,
  DEFAULT_DPOP_REDIS_KEY_PREFIX,
  DEFAULT_INTROSPECTION_CACHE_MAX_TTL_S,
  DEFAULT_INTROSPECTION_TIMEOUT_MS,
  DEFAULT_JWKS_CACHE_MAX_AGE_MS,
  DEFAULT_JWKS_COOLDOWN_MS,
  DEFAULT_JWKS_TIMEOUT_MS,
  DEFAULT_MAX_TOKEN_LENGTH,
  MAX_MAX_TOKEN_LENGTH,
  DEFAULT_REALM,
  HMAC_ALGORITHMS,
} from './defaults.js';
import type { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { BearerErrorHandler, BearerOptions } from './types.js';

/** `dpop` options with every default applied (RFC 9449). */
export interface ResolvedDpopConfig {
  mode: 'allowed' | 'required' | 'disabled';
  /** Accepted proof algorithms, in the order of the `algs` challenge attribute. */
  algorithms: string[];
  /** Seconds. */
  maxProofAge: number;
  /** The app's external URL (no query, no fragment); undefined: derive it with `trust proxy`. */
  baseURL?: string;
  redis?: Redis | Cluster;
  redisKeyPrefix: string;
  nonce?: { secret: Uint8Array; windowSeconds: number };
}

/** `mtls` options (RFC 8705 §3). */
export interface ResolvedMtlsConfig {
  /** Lower-case header name a trusted proxy puts the client certificate in; undefined: the TLS socket. */
  certificateHeader?: string;
}

/** One trusted issuer, with every option checked. */
export interface ResolvedIssuer {
  /** The configured issuer URL (for logs and `iss` matching before discovery). */
  label: string;
  /** Set when the metadata is discovered. */
  issuerBaseURL?: string;
  /** Set when the issuer is given explicitly. */
  issuer?: string;
  jwksUri?: string;
  secret?: Uint8Array;
  audience: string[];
  /** Explicit allow-list; when undefined the defaults apply (narrowed by the metadata). */
  algorithms?: string[];
  introspection?: {
    endpoint?: string;
    clientId: string;
    clientSecret: string;
    authMethod: 'client_secret_basic' | 'client_secret_post';
    timeoutMs: number;
    cacheMaxTtlSeconds: number;
  };
}

/** `requireBearer()` options with every default applied. */
export interface ResolvedBearerConfig {
  issuers: ResolvedIssuer[];
  clockTolerance: number;
  maxTokenAge?: number;
  requiredClaims: string[];
  strict: boolean;
  realm: string;
  allowFormBody: boolean;
  /** Longest accepted access token, in characters. */
  maxTokenLength: number;
  credentialsRequired: boolean;
  cache: { max: number; maxTtlSeconds: number } | false;
  jwks: { timeoutMs: number; cooldownMs: number; cacheMaxAgeMs: number };
  allowInsecureHttp: boolean;
  logger: Logger;
  errorHandler?: BearerErrorHandler;
  passErrors: boolean;
  dpop: ResolvedDpopConfig;
  mtls: ResolvedMtlsConfig;
}

const TOP_LEVEL_KEYS = new Set([
  'issuerBaseURL', 'issuer', 'jwksUri', 'secret', 'audience', 'algorithms', 'introspection', 'issuers',
  'clockTolerance', 'maxTokenAge', 'requiredClaims', 'strict', 'realm', 'allowFormBody', 'maxTokenLength',
  'credentialsRequired', 'cache', 'jwks', 'allowInsecureHttp', 'logger', 'errorHandler', 'passErrors',
  'dpop', 'mtls',
]);
const DPOP_KEYS = new Set(['mode', 'algorithms', 'maxProofAge', 'baseURL', 'redis', 'redisKeyPrefix', 'nonce']);
/** RFC 7230 §3.2.6 token: a header field name. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function resolveDpop(value: unknown, allowInsecure: boolean, logger: Logger): ResolvedDpopConfig {
  const options: Record<string, unknown> = value === undefined ? {} : (assertObject('dpop', value), value);
  rejectUnknown('dpop.', options, DPOP_KEYS);
  const mode = options.mode ?? DEFAULT_DPOP_MODE;
  if (mode !== 'allowed' && mode !== 'required' && mode !== 'disabled') {
    throw optionError('dpop.mode', '"allowed", "required" or "disabled"');
  }
  const algorithms = optionalStringList('dpop.algorithms', options.algorithms) ?? [...DEFAULT_DPOP_ALGORITHMS];
  for (const alg of algorithms) {
    if (!DEFAULT_DPOP_ALGORITHMS.includes(alg)) {
      throw optionError('dpop.algorithms', `a list of ${DEFAULT_DPOP_ALGORITHMS.join(', ')}`, 'DPoP proofs are signed with an asymmetric key (RFC 9449 §4.2)');
    }
  }
  let baseURL: string | undefined;
  if (options.baseURL !== undefined) {
    const url = requiredUrl('dpop.baseURL', options.baseURL, allowInsecure);
    if (url.search !== '') throw optionError('dpop.baseURL', 'a URL without a query');
    baseURL = url.href.replace(/\/+$/, '');
  }
  const redis = options.redis;
  if (redis !== undefined && (typeof redis !== 'object' || redis === null || typeof (redis as { set?: unknown }).set !== 'function')) {
    throw optionError('dpop.redis', 'an ioredis client (Redis or Cluster)');
  }
  let nonce: ResolvedDpopConfig['nonce'];
  if (options.nonce === true) {
    nonce = { secret: randomBytes(32), windowSeconds: DEFAULT_DPOP_NONCE_WINDOW_S };
  } else if (options.nonce !== undefined && options.nonce !== false) {
    assertObject('dpop.nonce', options.nonce);
    rejectUnknown('dpop.nonce.', options.nonce, new Set(['secret', 'windowSeconds']));
    nonce = {
      secret: resolveSecret('dpop.nonce.secret', options.nonce.secret) ?? randomBytes(32),
      windowSeconds: optionalNumber('dpop.nonce.windowSeconds', options.nonce.windowSeconds, 10, 86_400, 'seconds') ?? DEFAULT_DPOP_NONCE_WINDOW_S,
    };
  }
  if (mode !== 'disabled' && redis === undefined && options.mode !== undefined) {
    logger.warn('requireBearer: DPoP proof jti are remembered in memory; this is correct for a single instance only (set dpop.redis)');
  }
  if (mode !== 'disabled' && nonce !== undefined && (options.nonce === true || (options.nonce as Record<string, unknown>).secret === undefined)) {
    logger.warn('requireBearer: DPoP nonces use a per-process secret; give dpop.nonce.secret when several instances serve the API');
  }
  return {
    mode,
    algorithms,
    maxProofAge: optionalNumber('dpop.maxProofAge', options.maxProofAge, 1, 3600, 'seconds') ?? DEFAULT_DPOP_MAX_PROOF_AGE_S,
    ...(baseURL !== undefined ? { baseURL } : {}),
    ...(redis !== undefined ? { redis: redis as Redis | Cluster } : {}),
    redisKeyPrefix: optionalString('dpop.redisKeyPrefix', options.redisKeyPrefix) ?? DEFAULT_DPOP_REDIS_KEY_PREFIX,
    ...(nonce !== undefined ? { nonce } : {}),
  };
}

function resolveMtls(value: unknown): ResolvedMtlsConfig {
  if (value === undefined) return {};
  assertObject('mtls', value);
  rejectUnknown('mtls.', value, new Set(['certificateHeader']));
  const header = optionalString('mtls.certificateHeader', value.certificateHeader);
  if (header === undefined) return {};
  if (!HEADER_NAME.test(header)) throw optionError('mtls.certificateHeader', 'a header name such as "x-client-cert"');
  const lower = header.toLowerCase();
  if (lower === 'authorization' || lower === 'dpop' || lower === 'host') {
    throw optionError('mtls.certificateHeader', 'a header set by your TLS-terminating proxy', `"${lower}" comes from the client`);
  }
  return { certificateHeader: lower };
}
const ISSUER_KEYS = new Set(['issuerBaseURL', 'issuer', 'jwksUri', 'secret', 'audience', 'algorithms', 'introspection']);
const SINGLE_ISSUER_KEYS = ['issuerBaseURL', 'issuer', 'jwksUri', 'secret', 'introspection'] as const;
const INTROSPECTION_KEYS = new Set(['endpoint', 'clientId', 'clientSecret', 'authMethod', 'timeoutMs', 'cacheMaxTtlSeconds']);

function resolveAlgorithms(path: string, value: unknown, hmac: boolean): string[] | undefined {
  const list = optionalStringList(path, value);
  if (list === undefined) return undefined;
  const allowed = hmac ? HMAC_ALGORITHMS : DEFAULT_ASYMMETRIC_ALGORITHMS;
  for (const alg of list) {
    if (!allowed.includes(alg)) {
      throw optionError(
        path,
        `a list of ${allowed.join(', ')}`,
        hmac ? 'With "secret" only HMAC algorithms are accepted' : `"${alg.replace(/[^\w-]/g, '')}" is not accepted; HMAC needs "secret", and "none" is never accepted`,
      );
    }
  }
  return list;
}

function resolveSecret(path: string, value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : undefined;
  if (bytes === undefined || bytes.byteLength < 32) {
    throw optionError(path, 'a string or Uint8Array of at least 32 bytes (RFC 7518 §3.2)');
  }
  return new Uint8Array(bytes);
}

function resolveIntrospection(path: string, value: unknown, hasDiscovery: boolean, allowInsecure: boolean): ResolvedIssuer['introspection'] {
  if (value === undefined) return undefined;
  assertObject(path, value);
  rejectUnknown(`${path}.`, value, INTROSPECTION_KEYS);
  const endpoint = value.endpoint === undefined ? undefined : requiredUrl(`${path}.endpoint`, value.endpoint, allowInsecure).href;
  if (endpoint === undefined && !hasDiscovery) {
    throw optionError(`${path}.endpoint`, 'set', 'Without "issuerBaseURL" there is no metadata to find it in');
  }
  const authMethod = value.authMethod ?? 'client_secret_basic';
  if (authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') {
    throw optionError(`${path}.authMethod`, '"client_secret_basic" or "client_secret_post"');
  }
  return {
    ...(endpoint !== undefined ? { endpoint } : {}),
    clientId: requiredString(`${path}.clientId`, value.clientId),
    clientSecret: requiredString(`${path}.clientSecret`, value.clientSecret),
    authMethod,
    timeoutMs: optionalNumber(`${path}.timeoutMs`, value.timeoutMs, 1, 60_000, 'milliseconds') ?? DEFAULT_INTROSPECTION_TIMEOUT_MS,
    cacheMaxTtlSeconds:
      optionalNumber(`${path}.cacheMaxTtlSeconds`, value.cacheMaxTtlSeconds, 0, 86_400, 'seconds') ?? DEFAULT_INTROSPECTION_CACHE_MAX_TTL_S,
  };
}

function resolveIssuer(
  prefix: string,
  value: Record<string, unknown>,
  defaults: { audience: string[] | undefined; algorithms: unknown; allowInsecure: boolean },
): ResolvedIssuer {
  const p = (key: string): string => `${prefix}${key}`;
  const hasExplicit = value.issuer !== undefined || value.jwksUri !== undefined || value.secret !== undefined;
  if (value.issuerBaseURL !== undefined && hasExplicit) {
    throw optionError(p('issuerBaseURL'), 'used alone', 'Give either "issuerBaseURL" (discovery) or "issuer" with "jwksUri" or "secret"');
  }
  const audience = optionalStringList(p('audience'), value.audience) ?? defaults.audience;
  if (audience === undefined) {
    throw optionError(p('audience'), 'set', 'Give the audience your API expects in "aud", or set AUDIENCE');
  }
  if (value.issuerBaseURL !== undefined) {
    const url = requiredUrl(p('issuerBaseURL'), value.issuerBaseURL, defaults.allowInsecure);
    // `https://a.example/` and `https://a.example` are one issuer; a path keeps its exact spelling.
    const label = url.pathname === '/' ? url.origin : url.href;
    const algorithms = resolveAlgorithms(p('algorithms'), value.algorithms ?? defaults.algorithms, false);
    return {
      label,
      issuerBaseURL: label,
      audience,
      ...(algorithms ? { algorithms } : {}),
      ...(value.introspection !== undefined
        ? { introspection: resolveIntrospection(p('introspection'), value.introspection, true, defaults.allowInsecure) }
        : {}),
    };
  }
  const issuer = requiredString(p('issuer'), value.issuer, 'Give "issuerBaseURL", or "issuer" with "jwksUri" or "secret"');
  requiredUrl(p('issuer'), issuer, defaults.allowInsecure);
  const secret = resolveSecret(p('secret'), value.secret);
  if (secret !== undefined && value.jwksUri !== undefined) {
    throw optionError(p('secret'), 'used without "jwksUri"', 'A token is checked with either the shared secret or the JWKS');
  }
  const jwksUri = value.jwksUri === undefined ? undefined : requiredUrl(p('jwksUri'), value.jwksUri, defaults.allowInsecure).href;
  if (secret === undefined && jwksUri === undefined) {
    throw optionError(p('jwksUri'), 'set', 'With "issuer", give the keys by "jwksUri" (or an HMAC "secret")');
  }
  const algorithms = resolveAlgorithms(p('algorithms'), value.algorithms ?? defaults.algorithms, secret !== undefined);
  return {
    label: issuer,
    issuer,
    ...(jwksUri !== undefined ? { jwksUri } : {}),
    ...(secret !== undefined ? { secret } : {}),
    audience,
    ...(algorithms ? { algorithms } : {}),
    ...(value.introspection !== undefined
      ? { introspection: resolveIntrospection(p('introspection'), value.introspection, false, defaults.allowInsecure) }
      : {}),
  };
}

function resolveMaxTokenLength(value: unknown): number {
  const max = optionalNumber('maxTokenLength', value, 1, MAX_MAX_TOKEN_LENGTH, 'characters') ?? DEFAULT_MAX_TOKEN_LENGTH;
  if (!Number.isInteger(max)) throw optionError('maxTokenLength', 'a whole number of characters');
  return max;
}

function resolveLogger(value: unknown): Logger {
  if (value === undefined) return defaultLogger;
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (typeof value !== 'object' || value === null || !methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')) {
    throw optionError('logger', 'an object with debug, info, warn and error methods');
  }
  return value as Logger;
}

/**
 * Checks every `requireBearer()` option once, at mount time, applying the defaults of
 * `defaults.ts` and the `ISSUER_BASE_URL` / `AUDIENCE` fallbacks. Throws a TypeError naming the
 * first bad option.
 */
export function resolveBearerOptions(input: BearerOptions | undefined): ResolvedBearerConfig {
  const options: Record<string, unknown> = input === undefined ? {} : (input as unknown as Record<string, unknown>);
  if (!isPlainObject(options)) throw optionError('options', 'an object');
  rejectUnknown('', options, TOP_LEVEL_KEYS);
  const env = bearerEnv();
  const allowInsecure = optionalBoolean('allowInsecureHttp', options.allowInsecureHttp) ?? false;
  const logger = resolveLogger(options.logger);
  const topAudience = optionalStringList('audience', options.audience) ?? (env.audience !== undefined ? [env.audience] : undefined);

  let issuers: ResolvedIssuer[];
  if (options.issuers !== undefined) {
    for (const key of SINGLE_ISSUER_KEYS) {
      if (options[key] !== undefined) {
        throw optionError(key, 'left out when "issuers" is given', 'Put it into the entries of "issuers"');
      }
    }
    if (!Array.isArray(options.issuers) || options.issuers.length === 0) {
      throw optionError('issuers', 'a non-empty array of issuer options');
    }
    issuers = options.issuers.map((entry: unknown, i) => {
      const path = `issuers[${i}]`;
      assertObject(path, entry);
      rejectUnknown(`${path}.`, entry, ISSUER_KEYS);
      return resolveIssuer(`${path}.`, entry, { audience: topAudience, algorithms: options.algorithms, allowInsecure });
    });
  } else {
    const single: Record<string, unknown> = {
      issuerBaseURL: options.issuerBaseURL,
      issuer: options.issuer,
      jwksUri: options.jwksUri,
      secret: options.secret,
      introspection: options.introspection,
    };
    if (single.issuerBaseURL === undefined && single.issuer === undefined && single.jwksUri === undefined && single.secret === undefined) {
      if (env.issuerBaseURL === undefined) {
        throw optionError('issuerBaseURL', 'set', 'Give "issuerBaseURL" (or "issuer" with "jwksUri"), or set ISSUER_BASE_URL');
      }
      single.issuerBaseURL = env.issuerBaseURL;
    }
    issuers = [resolveIssuer('', single, { audience: topAudience, algorithms: options.algorithms, allowInsecure })];
  }
  const labels = new Set<string>();
  for (const [i, issuer] of issuers.entries()) {
    if (labels.has(issuer.label)) throw optionError(`issuers[${i}]`, 'a different issuer than the ones before it');
    labels.add(issuer.label);
  }
  if (issuers.filter((i) => i.introspection !== undefined).length > 1) {
    throw optionError('issuers', 'a list where at most one issuer has "introspection"', 'An opaque token does not say which issuer to ask');
  }

  const strict = optionalBoolean('strict', options.strict) ?? false;
  const requiredClaims = optionalStringList('requiredClaims', options.requiredClaims) ?? [];

  let cache: ResolvedBearerConfig['cache'];
  if (options.cache === false) {
    cache = false;
  } else if (options.cache === undefined) {
    cache = { max: DEFAULT_CACHE_MAX, maxTtlSeconds: DEFAULT_CACHE_MAX_TTL_S };
  } else {
    assertObject('cache', options.cache);
    rejectUnknown('cache.', options.cache, new Set(['max', 'maxTtlSeconds']));
    const max = optionalNumber('cache.max', options.cache.max, 0, 10_000_000, 'entries') ?? DEFAULT_CACHE_MAX;
    if (!Number.isInteger(max)) throw optionError('cache.max', 'a whole number of entries');
    cache = {
      max,
      maxTtlSeconds: optionalNumber('cache.maxTtlSeconds', options.cache.maxTtlSeconds, 0, 86_400, 'seconds') ?? DEFAULT_CACHE_MAX_TTL_S,
    };
  }

  let jwks: Record<string, unknown> = {};
  if (options.jwks !== undefined) {
    assertObject('jwks', options.jwks);
    rejectUnknown('jwks.', options.jwks, new Set(['timeoutMs', 'cooldownMs', 'cacheMaxAgeMs']));
    jwks = options.jwks;
  }

  const errorHandler = optionalFunction<BearerErrorHandler>('errorHandler', options.errorHandler);
  const passErrors = optionalBoolean('passErrors', options.passErrors) ?? false;
  if (errorHandler !== undefined && passErrors) {
    throw optionError('passErrors', 'left out when "errorHandler" is given', 'Choose one way to answer refused requests');
  }
  if (allowInsecure) {
    logger.warn('requireBearer: allowInsecureHttp is on; issuer keys and introspection may travel over plain http');
  }
  const maxTokenAge = optionalNumber('maxTokenAge', options.maxTokenAge, 1, 10 * 365 * 86_400, 'seconds');

  return {
    issuers,
    clockTolerance: optionalNumber('clockTolerance', options.clockTolerance, 0, 300, 'seconds') ?? DEFAULT_CLOCK_TOLERANCE_S,
    ...(maxTokenAge !== undefined ? { maxTokenAge } : {}),
    requiredClaims,
    strict,
    realm: optionalString('realm', options.realm) ?? DEFAULT_REALM,
    allowFormBody: optionalBoolean('allowFormBody', options.allowFormBody) ?? false,
    maxTokenLength: resolveMaxTokenLength(options.maxTokenLength),
    credentialsRequired: optionalBoolean('credentialsRequired', options.credentialsRequired) ?? true,
    cache,
    jwks: {
      timeoutMs: optionalNumber('jwks.timeoutMs', jwks.timeoutMs, 1, 60_000, 'milliseconds') ?? DEFAULT_JWKS_TIMEOUT_MS,
      cooldownMs: optionalNumber('jwks.cooldownMs', jwks.cooldownMs, 0, 86_400_000, 'milliseconds') ?? DEFAULT_JWKS_COOLDOWN_MS,
      cacheMaxAgeMs:
        optionalNumber('jwks.cacheMaxAgeMs', jwks.cacheMaxAgeMs, 0, 7 * 86_400_000, 'milliseconds') ?? DEFAULT_JWKS_CACHE_MAX_AGE_MS,
    },
    allowInsecureHttp: allowInsecure,
    logger,
    ...(errorHandler !== undefined ? { errorHandler } : {}),
    passErrors,
    dpop: resolveDpop(options.dpop, allowInsecure, logger),
    mtls: resolveMtls(options.mtls),
  };
}
