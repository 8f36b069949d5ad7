import { errors as joseErrors, jwtVerify, type JWSHeaderParameters, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { AuthError, InvalidTokenError } from '../errors/index.js';
import { scopesOf } from './scopes.js';
import type { BearerAuth, BearerPayload, ClaimValidator } from './types.js';

/** Everything one JWT check needs, resolved (issuer metadata already known). */
export interface JwtVerifyConfig {
  /** The exact `iss` the token must carry. */
  issuer: string;
  /** Any one of these must be in `aud`. */
  audience: readonly string[];
  /** The JWS `alg` allow-list. */
  algorithms: readonly string[];
  /** The issuer's keys (`RemoteKeySet.getKey`), or an HMAC secret. */
  key: JWTVerifyGetKey | Uint8Array;
  /** Seconds of accepted clock skew. */
  clockTolerance: number;
  /** Largest accepted `now - iat`, in seconds. */
  maxTokenAge?: number;
  /** Claims that must be present besides `iss`, `aud`, `exp`. */
  requiredClaims: readonly string[];
  /** RFC 9068 §4 checks: `typ` `at+jwt`; `client_id`, `iat`, `jti`, `sub` required. */
  strict: boolean;
  /** Custom claim validators, each replacing the built-in check of its claim (see `BearerOptions.validators`). */
  validators?: Readonly<Record<string, ClaimValidator>>;
  /** The clock, for tests. */
  now?: () => number;
}

/** RFC 9068 §2.2 claims a strict access token must carry. */
const RFC9068_CLAIMS = ['client_id', 'iat', 'jti', 'sub'];

const CLAIM_FAILURES: Record<string, string> = {
  iss: 'unexpected issuer',
  aud: 'unexpected audience',
  nbf: 'token not yet valid',
  exp: 'token expired',
  iat: 'token issued in the future',
  typ: 'unexpected token type',
  sub: 'unexpected subject',
};

/**
 * Turns a jose failure into an `InvalidTokenError` whose public description names the failed
 * check, switching on the stable `err.code` (never jose's message, which may quote the token).
 * Our own errors (`ServiceUnavailableError` when the keys cannot be fetched) pass through.
 */
export function mapVerifyError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const claim = (err as { claim?: unknown } | null)?.claim;
  const reason = (err as { reason?: unknown } | null)?.reason;
  const fail = (description: string): InvalidTokenError => new InvalidTokenError(description, { cause: err });
  switch (code) {
    case joseErrors.JWTExpired.code:
      return fail(claim === 'iat' ? 'token too old' : 'token expired');
    case joseErrors.JWTClaimValidationFailed.code:
      if (reason === 'missing' && typeof claim === 'string') return fail(`token lacks the ${claim.replace(/[^\w-]/g, '')} claim`);
      if (reason === 'invalid' && typeof claim === 'string') return fail(`token has an invalid ${claim.replace(/[^\w-]/g, '')} claim`);
      return fail((typeof claim === 'string' ? CLAIM_FAILURES[claim] : undefined) ?? 'token claims check failed');
    case joseErrors.JWSSignatureVerificationFailed.code:
      return fail('signature verification failed');
    case joseErrors.JOSEAlgNotAllowed.code:
      return fail('unsupported algorithm');
    case joseErrors.JOSENotSupported.code:
      return fail('unsupported token header or algorithm');
    case joseErrors.JWKSNoMatchingKey.code:
      return fail('no matching signing key');
    case joseErrors.JWKSMultipleMatchingKeys.code:
      return fail('ambiguous signing key');
    case joseErrors.JWKInvalid.code:
    case joseErrors.JWKSInvalid.code:
      return fail('no usable signing key');
    case joseErrors.JWSInvalid.code:
    case joseErrors.JWTInvalid.code:
      return fail('malformed token');
    default:
      // Anything else jose or WebCrypto raise while checking attacker-chosen input (a key that
      // does not fit the algorithm, ...) is still a refused token, never a 500.
      return fail('token could not be verified');
  }
}

type JoseOptions = Omit<JWTVerifyOptions, 'currentDate'>;
const joseOptions = new WeakMap<JwtVerifyConfig, JoseOptions>();

/** jose's options for `config`, built once per config object (the verifier keeps one per issuer metadata). */
function joseOptionsFor(config: JwtVerifyConfig): JoseOptions {
  let options = joseOptions.get(config);
  if (options === undefined) {
    // A custom validator replaces the built-in check of its claim (and its being required).
    const custom = (claim: string): boolean => config.validators !== undefined && Object.hasOwn(config.validators, claim);
    const requiredClaims = new Set(
      ['iss', 'aud', 'exp', ...config.requiredClaims, ...(config.strict ? RFC9068_CLAIMS : [])].filter((c) => !custom(c)),
    );
    options = {
      ...(custom('iss') ? {} : { issuer: config.issuer }),
      ...(custom('aud') ? {} : { audience: [...config.audience] }),
      algorithms: [...config.algorithms],
      clockTolerance: config.clockTolerance,
      requiredClaims: [...requiredClaims],
      ...(config.maxTokenAge !== undefined && !custom('iat') ? { maxTokenAge: config.maxTokenAge } : {}),
      ...(config.strict && !custom('typ') ? { typ: 'at+jwt' } : {}),
    };
    joseOptions.set(config, options);
  }
  return options;
}

/**
 * Runs the custom validators (express-oauth2-jwt-bearer's shape): each passes when it is `false`,
 * a string equal to the value, or a function returning `true`; a function that throws fails.
 */
async function runValidators(
  validators: Readonly<Record<string, ClaimValidator>>,
  payload: BearerPayload,
  header: JWSHeaderParameters,
): Promise<void> {
  for (const [claim, validator] of Object.entries(validators)) {
    const value = claim === 'typ' ? header.typ : payload[claim];
    let ok = validator === false || (typeof validator === 'string' && value === validator);
    if (typeof validator === 'function') {
      try {
        ok = (await validator(value, payload, header)) === true;
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new InvalidTokenError(/^[\w.:-]{1,64}$/.test(claim) ? `unexpected '${claim}' value` : 'a claim is invalid');
  }
}

/**
 * Verifies a JWT access token (RFC 9068) with jose: signature with a key of the configured issuer
 * (the `jku`, `x5u`, `jwk` and `x5c` headers are never used to find keys), an allowed `alg`,
 * `iss`, `aud` and `exp` required, `nbf` and `iat` not in the future beyond the tolerance,
 * `maxTokenAge`, the required claims, unknown `crit` refused, and in strict mode RFC 9068 §4.
 *
 * Does not check scopes or other claims (see `requiredScopes()`, `claimCheck()`), nor whether
 * the token was revoked.
 *
 * @throws InvalidTokenError (401) naming the failed check; ServiceUnavailableError (503) when no
 *   key fits and the JWKS cannot be fetched.
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 */
export async function verifyAccessToken(token: string, config: JwtVerifyConfig): Promise<BearerAuth> {
  const nowMs = (config.now ?? Date.now)();
  let result;
  try {
    const options = { ...joseOptionsFor(config), currentDate: new Date(nowMs) };
    result = config.key instanceof Uint8Array ? await jwtVerify(token, config.key, options) : await jwtVerify(token, config.key, options);
  } catch (err) {
    throw mapVerifyError(err);
  }
  const payload = result.payload as BearerPayload;
  // jose checks `iat` against the clock only with maxTokenAge; a token from the future is refused here.
  const customIat = config.validators !== undefined && Object.hasOwn(config.validators, 'iat');
  if (!customIat && typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + config.clockTolerance) {
    throw new InvalidTokenError('token issued in the future');
  }
  if (config.validators !== undefined) await runValidators(config.validators, payload, result.protectedHeader);
  return {
    payload,
    header: result.protectedHeader,
    token,
    scopes: scopesOf(payload),
    issuer: config.issuer,
    kind: 'jwt',
  };
}
