/** The trusted issuers of `requireBearer()`: one (`issuerBaseURL`, or `issuer` with `jwksUri` or `secret`) or a list (`issuers`), resolved once. */
import {
  assertObject,
  optionError,
  optionalNumber,
  optionalStringList,
  rejectUnknown,
  requiredString,
  requiredUrl,
} from '../config/assert.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';

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
    clientID: string;
    clientSecret: string;
    authMethod: 'client_secret_basic' | 'client_secret_post';
    timeoutMs: number;
    cacheMaxTtlSeconds: number;
  };
}

const ISSUER_KEYS = new Set(['issuerBaseURL', 'issuer', 'jwksUri', 'secret', 'audience', 'algorithms', 'introspection']);
const SINGLE_ISSUER_KEYS = ['issuerBaseURL', 'issuer', 'jwksUri', 'secret', 'introspection'] as const;
const INTROSPECTION_KEYS = new Set(['endpoint', 'clientID', 'clientId', 'clientSecret', 'authMethod', 'timeoutMs', 'cacheMaxTtlSeconds']);

function resolveAlgorithms(path: string, value: unknown, hmac: boolean): string[] | undefined {
  const list = optionalStringList(path, value);
  if (list === undefined) return undefined;
  const allowed = hmac ? BEARER_DEFAULTS.hmacAlgorithms : BEARER_DEFAULTS.asymmetricAlgorithms;
  for (const alg of list) {
    if (!allowed.includes(alg)) {
      throw optionError(
        path,
        `a list of ${allowed.join(', ')}`,
        hmac
          ? 'With "secret" only HMAC algorithms are accepted'
          : `"${alg.replace(/[^\w-]/g, '')}" is not accepted; HMAC needs "secret", and "none" is never accepted`,
      );
    }
  }
  return list;
}

/** A shared secret of at least 32 bytes (RFC 7518 §3.2), as bytes. */
export function resolveSecret(path: string, value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : undefined;
  if (bytes === undefined || bytes.byteLength < 32) {
    throw optionError(path, 'a string or Uint8Array of at least 32 bytes (RFC 7518 §3.2)');
  }
  return new Uint8Array(bytes);
}

/**
 * `introspection.clientID`, or its older spelling `clientId` (an alias: the package spells it as
 * `auth()`'s `clientID` everywhere else). Both given and different is a mistake worth a TypeError.
 */
function resolveClientID(path: string, value: Record<string, unknown>): string {
  if (value.clientID === undefined && value.clientId !== undefined) return requiredString(`${path}.clientId`, value.clientId);
  const clientID = requiredString(`${path}.clientID`, value.clientID);
  if (value.clientId !== undefined && value.clientId !== clientID) {
    throw optionError(`${path}.clientId`, 'left out, or the same as "clientID"', 'It is the older spelling of "clientID"');
  }
  return clientID;
}

function resolveIntrospection(
  path: string,
  value: unknown,
  hasDiscovery: boolean,
  allowInsecure: boolean,
): ResolvedIssuer['introspection'] {
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
    clientID: resolveClientID(path, value),
    clientSecret: requiredString(`${path}.clientSecret`, value.clientSecret),
    authMethod,
    timeoutMs: optionalNumber(`${path}.timeoutMs`, value.timeoutMs, 1, 60_000, 'milliseconds') ?? BEARER_DEFAULTS.introspectionTimeoutMs,
    cacheMaxTtlSeconds:
      optionalNumber(`${path}.cacheMaxTtlSeconds`, value.cacheMaxTtlSeconds, 0, 86_400, 'seconds') ??
      BEARER_DEFAULTS.introspectionCacheMaxTtlSeconds,
  };
}

function resolveIssuer(
  prefix: string,
  value: Record<string, unknown>,
  defaults: { audience: string[] | undefined; algorithms: unknown; allowInsecure: boolean },
): ResolvedIssuer {
  const p = (key: string): string => `${prefix}${key}`;
  const hasExplicit = value.issuer !== undefined || value.jwksUri !== undefined;
  if (value.issuerBaseURL !== undefined && hasExplicit) {
    throw optionError(
      p('issuerBaseURL'),
      'used alone',
      'Give either "issuerBaseURL" (discovery, optionally with "secret") or "issuer" with "jwksUri" or "secret"',
    );
  }
  const audience = optionalStringList(p('audience'), value.audience) ?? defaults.audience;
  if (audience === undefined) {
    throw optionError(p('audience'), 'set', 'Give the audience your API expects in "aud", or set AUDIENCE');
  }
  if (value.issuerBaseURL !== undefined) {
    const url = requiredUrl(p('issuerBaseURL'), value.issuerBaseURL, defaults.allowInsecure);
    // `https://a.example/` and `https://a.example` are one issuer; a path keeps its exact spelling.
    const label = url.pathname === '/' ? url.origin : url.href;
    // With `secret`: HMAC tokens of the discovered issuer (express-oauth2-jwt-bearer allows this).
    const secret = resolveSecret(p('secret'), value.secret);
    const algorithms = resolveAlgorithms(p('algorithms'), value.algorithms ?? defaults.algorithms, secret !== undefined);
    return {
      label,
      issuerBaseURL: label,
      ...(secret !== undefined ? { secret } : {}),
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

/** The environment's fallbacks for the issuer (see `bearerEnv()`). */
export interface IssuerEnv {
  issuerBaseURL?: string | undefined;
  issuer?: string | undefined;
  jwksUri?: string | undefined;
  secret?: string | undefined;
  algorithms?: string | undefined;
}

/**
 * The single issuer the environment names, when the options name none: ISSUER_BASE_URL, else
 * ISSUER with JWKS_URI; SECRET only with an HMAC TOKEN_SIGNING_ALG, because SECRET is also the
 * session secret of `auth()` and must never become a key that mints accepted tokens by accident.
 */
function issuerFromEnv(env: IssuerEnv): Record<string, unknown> {
  const secret = env.algorithms !== undefined && BEARER_DEFAULTS.hmacAlgorithms.includes(env.algorithms) ? env.secret : undefined;
  if (env.issuerBaseURL !== undefined) return { issuerBaseURL: env.issuerBaseURL, secret };
  if (env.issuer !== undefined) return { issuer: env.issuer, jwksUri: env.jwksUri, secret };
  throw optionError(
    'issuerBaseURL',
    'set',
    'Give "issuerBaseURL" (or "issuer" with "jwksUri"), or set ISSUER_BASE_URL (or ISSUER with JWKS_URI)',
  );
}

/**
 * The trusted issuers: the entries of `issuers`, or the single issuer of the top-level options
 * (`ISSUER_BASE_URL` when none is given). Each distinct; at most one introspects.
 */
export function resolveIssuers(
  options: Record<string, unknown>,
  env: IssuerEnv,
  defaults: { audience: string[] | undefined; algorithms: unknown; allowInsecure: boolean },
): ResolvedIssuer[] {
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
      return resolveIssuer(`${path}.`, entry, defaults);
    });
  } else {
    const single: Record<string, unknown> = {
      issuerBaseURL: options.issuerBaseURL,
      issuer: options.issuer,
      jwksUri: options.jwksUri,
      secret: options.secret,
      introspection: options.introspection,
    };
    const named =
      single.issuerBaseURL !== undefined || single.issuer !== undefined || single.jwksUri !== undefined || single.secret !== undefined;
    issuers = [resolveIssuer('', named ? single : { ...single, ...issuerFromEnv(env) }, defaults)];
  }
  const labels = new Set<string>();
  for (const [i, issuer] of issuers.entries()) {
    if (labels.has(issuer.label)) throw optionError(`issuers[${i}]`, 'a different issuer than the ones before it');
    labels.add(issuer.label);
  }
  if (issuers.filter((i) => i.introspection !== undefined).length > 1) {
    throw optionError('issuers', 'a list where at most one issuer has "introspection"', 'An opaque token does not say which issuer to ask');
  }
  return issuers;
}
