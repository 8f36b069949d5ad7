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
} from '../config/assert.js';
import { bearerEnv } from '../config/from-env.js';
import type { Transport } from '../issuer/http.js';
import { transportConfig } from '../issuer/transport.js';
import { defaultLogger, type Logger } from '../util/logger.js';
import { resolveIssuers, type ResolvedIssuer } from './config-issuers.js';
import { resolveDpop, resolveMtls, type ResolvedDpopConfig, type ResolvedMtlsConfig } from './config-sender.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';
import type { BearerErrorHandler, BearerOptions, ClaimValidator } from './types.js';

export type { ResolvedIssuer } from './config-issuers.js';
export type { ResolvedDpopConfig, ResolvedMtlsConfig } from './config-sender.js';

/** `requireBearer()` options with every default applied. */
export interface ResolvedBearerConfig {
  issuers: ResolvedIssuer[];
  clockTolerance: number;
  maxTokenAge?: number;
  requiredClaims: string[];
  /** Custom claim validators, replacing the built-in check of their claim. */
  validators?: Record<string, ClaimValidator>;
  strict: boolean;
  realm: string;
  allowFormBody: boolean;
  /** Longest accepted access token, in characters. */
  maxTokenLength: number;
  credentialsRequired: boolean;
  cache: { max: number; maxTtlSeconds: number } | false;
  jwks: { timeoutMs: number; cooldownMs: number; cacheMaxAgeMs: number };
  /** How issuer calls travel: the `fetch` option, or the environment's proxy. */
  transport: Transport;
  allowInsecureHttp: boolean;
  logger: Logger;
  errorHandler?: BearerErrorHandler;
  passErrors: boolean;
  dpop: ResolvedDpopConfig;
  mtls: ResolvedMtlsConfig;
}

const TOP_LEVEL_KEYS = new Set([
  'issuerBaseURL',
  'issuer',
  'jwksUri',
  'secret',
  'audience',
  'algorithms',
  'introspection',
  'issuers',
  'clockTolerance',
  'maxTokenAge',
  'requiredClaims',
  'validators',
  'strict',
  'realm',
  'allowFormBody',
  'maxTokenLength',
  'credentialsRequired',
  'cache',
  'jwks',
  'fetch',
  'allowInsecureHttp',
  'logger',
  'errorHandler',
  'passErrors',
  'dpop',
  'mtls',
]);

function resolveMaxTokenLength(value: unknown): number {
  const max =
    optionalNumber('maxTokenLength', value, 1, BEARER_DEFAULTS.maxTokenLengthLimit, 'characters') ?? BEARER_DEFAULTS.maxTokenLength;
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

function resolveCache(value: unknown): ResolvedBearerConfig['cache'] {
  if (value === false) return false;
  if (value === undefined) return { max: BEARER_DEFAULTS.cacheMax, maxTtlSeconds: BEARER_DEFAULTS.cacheMaxTtlSeconds };
  assertObject('cache', value);
  rejectUnknown('cache.', value, new Set(['max', 'maxTtlSeconds']));
  const max = optionalNumber('cache.max', value.max, 0, 10_000_000, 'entries') ?? BEARER_DEFAULTS.cacheMax;
  if (!Number.isInteger(max)) throw optionError('cache.max', 'a whole number of entries');
  return {
    max,
    maxTtlSeconds: optionalNumber('cache.maxTtlSeconds', value.maxTtlSeconds, 0, 86_400, 'seconds') ?? BEARER_DEFAULTS.cacheMaxTtlSeconds,
  };
}

function resolveJwks(value: unknown): ResolvedBearerConfig['jwks'] {
  let jwks: Record<string, unknown> = {};
  if (value !== undefined) {
    assertObject('jwks', value);
    rejectUnknown('jwks.', value, new Set(['timeoutMs', 'cooldownMs', 'cacheMaxAgeMs']));
    jwks = value;
  }
  return {
    timeoutMs: optionalNumber('jwks.timeoutMs', jwks.timeoutMs, 1, 60_000, 'milliseconds') ?? BEARER_DEFAULTS.jwksTimeoutMs,
    cooldownMs: optionalNumber('jwks.cooldownMs', jwks.cooldownMs, 0, 86_400_000, 'milliseconds') ?? BEARER_DEFAULTS.jwksCooldownMs,
    cacheMaxAgeMs:
      optionalNumber('jwks.cacheMaxAgeMs', jwks.cacheMaxAgeMs, 0, 7 * 86_400_000, 'milliseconds') ?? BEARER_DEFAULTS.jwksCacheMaxAgeMs,
  };
}

/** `validators`: each a string, `false` or a function; never for `alg` or `exp`. */
function resolveValidators(value: unknown): Record<string, ClaimValidator> | undefined {
  if (value === undefined) return undefined;
  assertObject('validators', value);
  const out: Record<string, ClaimValidator> = {};
  for (const [claim, validator] of Object.entries(value)) {
    if (claim === 'alg' || claim === 'exp') {
      throw optionError(
        `validators.${claim}`,
        'left out',
        'The signature algorithm allow-list and the expiry cannot be relaxed (use "algorithms", "clockTolerance")',
      );
    }
    if (typeof validator !== 'string' && validator !== false && typeof validator !== 'function') {
      throw optionError(`validators.${claim}`, 'a string, false, or a function (value, claims, header) => boolean');
    }
    out[claim] = validator as ClaimValidator;
  }
  return out;
}

/** How refused requests are answered: `errorHandler`, or `passErrors`, or neither. */
function resolveAnswer(options: Record<string, unknown>): Pick<ResolvedBearerConfig, 'errorHandler' | 'passErrors'> {
  const errorHandler = optionalFunction<BearerErrorHandler>('errorHandler', options.errorHandler);
  const passErrors = optionalBoolean('passErrors', options.passErrors) ?? false;
  if (errorHandler !== undefined && passErrors) {
    throw optionError('passErrors', 'left out when "errorHandler" is given', 'Choose one way to answer refused requests');
  }
  return { ...(errorHandler !== undefined ? { errorHandler } : {}), passErrors };
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
  const audience = optionalStringList('audience', options.audience) ?? (env.audience !== undefined ? [env.audience] : undefined);
  const algorithms = options.algorithms ?? (env.algorithms !== undefined ? [env.algorithms] : undefined);
  const issuers = resolveIssuers(options, env, { audience, algorithms, allowInsecure });
  const strict = optionalBoolean('strict', options.strict) ?? false;
  const requiredClaims = optionalStringList('requiredClaims', options.requiredClaims) ?? [];
  const validators = resolveValidators(options.validators);
  const cache = resolveCache(options.cache);
  const jwks = resolveJwks(options.jwks);
  const answer = resolveAnswer(options);
  if (allowInsecure) {
    logger.warn('requireBearer: allowInsecureHttp is on; issuer keys and introspection may travel over plain http');
  }
  const maxTokenAge = optionalNumber('maxTokenAge', options.maxTokenAge, 1, 10 * 365 * 86_400, 'seconds');
  return {
    issuers,
    clockTolerance: optionalNumber('clockTolerance', options.clockTolerance, 0, 300, 'seconds') ?? BEARER_DEFAULTS.clockToleranceSeconds,
    ...(maxTokenAge !== undefined ? { maxTokenAge } : {}),
    requiredClaims,
    ...(validators !== undefined ? { validators } : {}),
    strict,
    realm: optionalString('realm', options.realm) ?? BEARER_DEFAULTS.realm,
    allowFormBody: optionalBoolean('allowFormBody', options.allowFormBody) ?? false,
    maxTokenLength: resolveMaxTokenLength(options.maxTokenLength),
    credentialsRequired: optionalBoolean('credentialsRequired', options.credentialsRequired) ?? true,
    cache,
    jwks,
    transport: transportConfig(options.fetch),
    allowInsecureHttp: allowInsecure,
    logger,
    ...answer,
    dpop: resolveDpop(options.dpop, allowInsecure, logger),
    mtls: resolveMtls(options.mtls),
  };
}
