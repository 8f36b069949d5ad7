import { createHash } from 'node:crypto';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AuthError, isAuthError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { constantEqual } from '../crypto/constant-equal.js';

/** 400 `invalid_token`: the ID token from the token endpoint failed a check of OIDC Core §3.1.3.7. */
export class IdTokenError extends AuthError {
  override readonly name = 'IdTokenError';
  constructor(reason: string, options?: { cause?: unknown }) {
    super('invalid_token', 400, `The ID token is not valid: ${reason}.`, options);
  }
}

/** What an ID token is checked against (OIDC Core §3.1.3.7, §12.2). */
export interface IdTokenChecks {
  /** Resolves the issuer's signing key (a `RemoteKeySet.getKey`). */
  getKey: JWTVerifyGetKey;
  /**
   * Resolves it for an ID token, which comes over the back channel: may refetch the JWKS at once
   * for an unknown `kid` (a `RemoteKeySet.getKeyPromptly`). Default `getKey`.
   */
  getKeyPromptly?: JWTVerifyGetKey;
  /** The issuer identifier from validated metadata. */
  issuer: string;
  clientID: string;
  /** Accepted `alg` values (see `idTokenAlgorithms`). */
  algorithms: string[];
  /** The client secret, keying `HS*` algorithms when those are explicitly allowed. */
  clientSecret?: string;
  clockTolerance: number;
  /** The nonce sent in the authorization request; undefined for a refresh (OIDC Core §12.2). */
  nonce?: string;
  /** The access token issued with it: `at_hash`, when present, must match (§3.1.3.8). */
  accessToken?: string;
  /** `max_age` sent: `auth_time` is required and must be recent enough (§3.1.3.7 item 13). */
  maxAge?: number;
  /** After a refresh: the `sub` the session had (§12.2). */
  expectedSub?: string;
}

/**
 * The `alg` values accepted for ID tokens: the configured list, or the issuer's
 * `id_token_signing_alg_values_supported` (RS256 when it names none, OIDC Discovery §3), never
 * `none`, and no `HS*` unless configured by name.
 */
export function idTokenAlgorithms(metadata: IssuerMetadata, configured: string[] | undefined): string[] {
  if (configured) return configured.filter((alg) => alg.toLowerCase() !== 'none');
  const advertised = Array.isArray(metadata.id_token_signing_alg_values_supported)
    ? metadata.id_token_signing_alg_values_supported.filter((alg): alg is string => typeof alg === 'string')
    : ['RS256'];
  const allowed = advertised.filter((alg) => alg.toLowerCase() !== 'none' && !/^HS/i.test(alg));
  return allowed.length > 0 ? allowed : ['RS256'];
}

/** The left half of the hash of `value` for `alg` (OIDC Core §3.1.3.6 `at_hash`). */
export function leftHalfHash(value: string, alg: string): string | undefined {
  const size = /(\d{3})$/.exec(alg)?.[1];
  const hash =
    alg === 'EdDSA' || alg === 'Ed25519'
      ? 'sha512'
      : size === '256'
        ? 'sha256'
        : size === '384'
          ? 'sha384'
          : size === '512'
            ? 'sha512'
            : undefined;
  if (!hash) return undefined;
  const digest = createHash(hash).update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

function reasonFor(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  switch (code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'signed with an unknown key';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'signing algorithm not allowed';
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: unknown }).claim;
      return typeof claim === 'string' && /^[a-z_]{1,16}$/.test(claim) ? `wrong or missing ${claim}` : 'a claim is invalid';
    }
    default:
      return 'malformed';
  }
}

/** Google's documented second spelling of its issuer in ID tokens (no scheme). */
const GOOGLE_ISSUER = 'https://accounts.google.com';

/**
 * The `iss` values an ID token may carry: the issuer, exactly; for Google also `accounts.google.com`,
 * which Google documents as valid in its ID tokens although its metadata names the https form.
 */
function acceptedIssuers(issuer: string): string | string[] {
  return issuer === GOOGLE_ISSUER ? [GOOGLE_ISSUER, 'accounts.google.com'] : issuer;
}

/**
 * Validates an ID token per OIDC Core §3.1.3.7 (and §12.2 after a refresh): signature with the
 * issuer's keys and an allowed algorithm (never `none`), `iss` exact (Google's scheme-less spelling
 * aside), `aud` contains the client,
 * `azp` is the client when present or when there are several audiences, `exp`, `iat` (with
 * `clockTolerance`), `nonce` (constant time), `at_hash` when present, `auth_time` when `max_age`
 * was sent, `sub` unchanged after a refresh. Returns the claims.
 *
 * @throws IdTokenError (400) for a token that fails a check; ServiceUnavailableError (503) when
 *   the issuer's keys cannot be fetched.
 */
export async function validateIdToken(idToken: string, checks: IdTokenChecks): Promise<JWTPayload & { sub: string }> {
  const getKey: JWTVerifyGetKey = (header, token) => {
    if (typeof header.alg === 'string' && /^HS/.test(header.alg) && checks.algorithms.includes(header.alg) && checks.clientSecret) {
      return new TextEncoder().encode(checks.clientSecret);
    }
    return (checks.getKeyPromptly ?? checks.getKey)(header, token);
  };
  let payload: JWTPayload;
  let alg: string;
  try {
    const result = await jwtVerify(idToken, getKey, {
      issuer: acceptedIssuers(checks.issuer),
      audience: checks.clientID,
      algorithms: checks.algorithms,
      clockTolerance: checks.clockTolerance,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    });
    payload = result.payload;
    alg = result.protectedHeader.alg;
  } catch (err) {
    if (isAuthError(err)) throw err;
    throw new IdTokenError(reasonFor(err), { cause: err });
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new IdTokenError('wrong or missing sub');
  // jose accepts any past-or-future iat; an ID token issued "later" than now is refused.
  if (typeof payload.iat !== 'number' || payload.iat > Math.floor(Date.now() / 1000) + checks.clockTolerance) {
    throw new IdTokenError('wrong or missing iat');
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (payload.azp !== undefined || audiences.length > 1) {
    if (typeof payload.azp !== 'string' || payload.azp !== checks.clientID) throw new IdTokenError('wrong or missing azp');
  }
  if (checks.nonce !== undefined) {
    if (typeof payload.nonce !== 'string' || !constantEqual(payload.nonce, checks.nonce)) throw new IdTokenError('wrong or missing nonce');
  }
  if (checks.accessToken !== undefined && payload.at_hash !== undefined) {
    const expected = leftHalfHash(checks.accessToken, alg);
    if (typeof payload.at_hash !== 'string' || expected === undefined || !constantEqual(payload.at_hash, expected)) {
      throw new IdTokenError('wrong at_hash');
    }
  }
  if (checks.maxAge !== undefined) {
    if (typeof payload.auth_time !== 'number') throw new IdTokenError('wrong or missing auth_time');
    if (payload.auth_time + checks.maxAge + checks.clockTolerance < Math.floor(Date.now() / 1000)) {
      throw new IdTokenError('authentication too old for max_age');
    }
  }
  if (checks.expectedSub !== undefined && payload.sub !== checks.expectedSub) throw new IdTokenError('wrong or missing sub');
  return payload as JWTPayload & { sub: string };
}

/**
 * When the issuer says the sign-in ends: the ID token's `session_expiry` claim (seconds since the
 * epoch, as some issuers send it), in ms, or `undefined` when the claim is absent.
 *
 * @throws IdTokenError (400) when it is not a number, or already past (beyond `clockTolerance`).
 */
export function sessionExpiry(claims: JWTPayload, clockTolerance: number, now = Date.now()): number | undefined {
  const value = claims.session_expiry;
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new IdTokenError('invalid session_expiry');
  if ((value + clockTolerance) * 1000 <= now) throw new IdTokenError('session already expired (session_expiry)');
  return value * 1000;
}
