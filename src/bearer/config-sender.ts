/** The sender-constraint options of `requireBearer()`: `dpop` (RFC 9449) and `mtls` (RFC 8705 §3), resolved once. */
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Request } from 'express';
import {
  assertObject,
  optionError,
  optionalFunction,
  optionalNumber,
  optionalString,
  optionalStringList,
  rejectUnknown,
  requiredUrl,
} from '../config/assert.js';
import type { Logger } from '../util/logger.js';
import { resolveSecret } from './config-issuers.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';

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
  /** The app's own reader of the client certificate (PEM or DER). */
  getCertificate?: (req: Request) => string | Uint8Array | undefined | null;
}

const DPOP_KEYS = new Set(['mode', 'algorithms', 'maxProofAge', 'baseURL', 'redis', 'redisKeyPrefix', 'nonce']);
/** RFC 7230 §3.2.6 token: a header field name. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** `dpop` with its defaults; warns about a per-process replay record or nonce secret. */
export function resolveDpop(value: unknown, allowInsecure: boolean, logger: Logger): ResolvedDpopConfig {
  const options: Record<string, unknown> = value === undefined ? {} : (assertObject('dpop', value), value);
  rejectUnknown('dpop.', options, DPOP_KEYS);
  const mode = options.mode ?? BEARER_DEFAULTS.dpopMode;
  if (mode !== 'allowed' && mode !== 'required' && mode !== 'disabled') {
    throw optionError('dpop.mode', '"allowed", "required" or "disabled"');
  }
  const algorithms = optionalStringList('dpop.algorithms', options.algorithms) ?? [...BEARER_DEFAULTS.dpopAlgorithms];
  for (const alg of algorithms) {
    if (!BEARER_DEFAULTS.dpopAlgorithms.includes(alg)) {
      throw optionError(
        'dpop.algorithms',
        `a list of ${BEARER_DEFAULTS.dpopAlgorithms.join(', ')}`,
        'DPoP proofs are signed with an asymmetric key (RFC 9449 §4.2)',
      );
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
    nonce = { secret: randomBytes(32), windowSeconds: BEARER_DEFAULTS.dpopNonceWindowSeconds };
  } else if (options.nonce !== undefined && options.nonce !== false) {
    assertObject('dpop.nonce', options.nonce);
    rejectUnknown('dpop.nonce.', options.nonce, new Set(['secret', 'windowSeconds']));
    nonce = {
      secret: resolveSecret('dpop.nonce.secret', options.nonce.secret) ?? randomBytes(32),
      windowSeconds:
        optionalNumber('dpop.nonce.windowSeconds', options.nonce.windowSeconds, 10, 86_400, 'seconds') ??
        BEARER_DEFAULTS.dpopNonceWindowSeconds,
    };
  }
  if (mode !== 'disabled' && redis === undefined && options.mode !== undefined) {
    logger.warn('requireBearer: DPoP proof jti are remembered in memory; this is correct for a single instance only (set dpop.redis)');
  }
  if (
    mode !== 'disabled' &&
    nonce !== undefined &&
    (options.nonce === true || (options.nonce as Record<string, unknown>).secret === undefined)
  ) {
    logger.warn('requireBearer: DPoP nonces use a per-process secret; give dpop.nonce.secret when several instances serve the API');
  }
  return {
    mode,
    algorithms,
    maxProofAge: optionalNumber('dpop.maxProofAge', options.maxProofAge, 1, 3600, 'seconds') ?? BEARER_DEFAULTS.dpopMaxProofAgeSeconds,
    ...(baseURL !== undefined ? { baseURL } : {}),
    ...(redis !== undefined ? { redis: redis as Redis | Cluster } : {}),
    redisKeyPrefix: optionalString('dpop.redisKeyPrefix', options.redisKeyPrefix) ?? BEARER_DEFAULTS.dpopRedisKeyPrefix,
    ...(nonce !== undefined ? { nonce } : {}),
  };
}

/** `mtls`: where the client certificate is read. */
export function resolveMtls(value: unknown): ResolvedMtlsConfig {
  if (value === undefined) return {};
  assertObject('mtls', value);
  rejectUnknown('mtls.', value, new Set(['certificateHeader', 'getCertificate']));
  const getCertificate = optionalFunction<NonNullable<ResolvedMtlsConfig['getCertificate']>>('mtls.getCertificate', value.getCertificate);
  const header = optionalString('mtls.certificateHeader', value.certificateHeader);
  if (getCertificate !== undefined) {
    if (header !== undefined)
      throw optionError(
        'mtls.certificateHeader',
        'left out when "mtls.getCertificate" is given',
        'Choose one source of the client certificate',
      );
    return { getCertificate };
  }
  if (header === undefined) return {};
  if (!HEADER_NAME.test(header)) throw optionError('mtls.certificateHeader', 'a header name such as "x-client-cert"');
  const lower = header.toLowerCase();
  if (lower === 'authorization' || lower === 'dpop' || lower === 'host') {
    throw optionError('mtls.certificateHeader', 'a header set by your TLS-terminating proxy', `"${lower}" comes from the client`);
  }
  return { certificateHeader: lower };
}
