import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isPlainObject } from '../config/assert.js';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import { InvalidRequestError, isAuthError } from '../errors/index.js';
import type { IdTokenChecks } from './id-token.js';

/** The event member a Logout Token must carry (Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * What a logout token is checked against (OIDC Back-Channel Logout 1.0 §2.6): the request-independent
 * ID token checks (key, issuer, audience, algorithms, clock tolerance).
 */
export type LogoutTokenChecks = Pick<IdTokenChecks, 'getKey' | 'issuer' | 'clientID' | 'algorithms' | 'clientSecret' | 'clockTolerance'> & {
  /** `backchannelLogout.allowMissingExp`: a token without `exp` passes (draft 06 issuers). */
  allowMissingExp?: boolean;
};

/** The claims of a valid Logout Token. */
export interface LogoutTokenClaims extends JWTPayload {
  iss: string;
  jti: string;
  iat: number;
  /** Always there, unless `backchannelLogout.allowMissingExp` let a token without one in. */
  exp?: number;
  sub?: string;
  sid?: string;
}

/**
 * Validates a Logout Token per OpenID Connect Back-Channel Logout 1.0 §2.6: signature with the
 * issuer's keys and an allowed algorithm, `iss`, `aud` contains the client, `exp` (REQUIRED by
 * §2.4) not passed, `iat` neither in the future nor older than
 * `LOGIN_DEFAULTS.logoutTokenMaxAgeSeconds` (5 minutes; both with `clockTolerance`), a `jti`,
 * the back-channel logout event, `sub` and/or `sid`, and no `nonce`. The `iat` bound limits how
 * long a token captured in transit stays usable when its issuer gave it a distant `exp`.
 *
 * With `checks.allowMissingExp`, a token without `exp` (draft 06 of the spec) passes the same
 * checks, its lifetime then bounded by the `iat` check alone.
 *
 * Does not check `jti` replay (the caller does, with `useOnce` for `replayRecordTtlMs`).
 *
 * @throws InvalidRequestError (400 `invalid_request`) for any failed check.
 */
export async function validateLogoutToken(token: string, checks: LogoutTokenChecks): Promise<LogoutTokenClaims> {
  const getKey: JWTVerifyGetKey = (header, input) => {
    if (typeof header.alg === 'string' && /^HS/.test(header.alg) && checks.algorithms.includes(header.alg) && checks.clientSecret) {
      return new TextEncoder().encode(checks.clientSecret);
    }
    return checks.getKey(header, input);
  };
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, getKey, {
      issuer: checks.issuer,
      audience: checks.clientID,
      algorithms: checks.algorithms,
      clockTolerance: checks.clockTolerance,
      maxTokenAge: LOGIN_DEFAULTS.logoutTokenMaxAgeSeconds,
      requiredClaims: checks.allowMissingExp === true ? ['iss', 'aud', 'iat', 'jti'] : ['iss', 'aud', 'iat', 'exp', 'jti'],
    }));
  } catch (err) {
    if (isAuthError(err) && err.status >= 500) throw err;
    if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'exp' && err.reason === 'missing') {
      throw new InvalidRequestError('The logout token has no exp.', { cause: err });
    }
    throw new InvalidRequestError('The logout token is not valid.', { cause: err });
  }
  const events = payload.events;
  if (!isPlainObject(events) || !isPlainObject(events[BACKCHANNEL_LOGOUT_EVENT])) {
    throw new InvalidRequestError('The logout token has no back-channel logout event.');
  }
  if (payload.nonce !== undefined) throw new InvalidRequestError('The logout token must not have a nonce.');
  const sub = payload.sub;
  const sid = payload.sid;
  if ((sub !== undefined && (typeof sub !== 'string' || sub === '')) || (sid !== undefined && (typeof sid !== 'string' || sid === ''))) {
    throw new InvalidRequestError('The logout token has an invalid sub or sid.');
  }
  if (sub === undefined && sid === undefined) throw new InvalidRequestError('The logout token names no sub or sid.');
  if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 512)
    throw new InvalidRequestError('The logout token has an invalid jti.');
  return payload as LogoutTokenClaims;
}

/**
 * How long the `jti` of an accepted logout token is remembered against replay, in ms: until its
 * `exp` plus `clockTolerance`, the last moment `validateLogoutToken` could accept it again; for a
 * token without `exp` (`backchannelLogout.allowMissingExp`), until its `iat` plus
 * `LOGIN_DEFAULTS.logoutTokenMaxAgeSeconds` plus `clockTolerance`, when the `iat` check ends it.
 */
export function replayRecordTtlMs(claims: Pick<LogoutTokenClaims, 'exp' | 'iat'>, clockTolerance: number, now = Date.now()): number {
  const lastValidS = claims.exp ?? claims.iat + LOGIN_DEFAULTS.logoutTokenMaxAgeSeconds;
  return Math.max(lastValidS * 1000 - now + clockTolerance * 1000, 1000);
}
