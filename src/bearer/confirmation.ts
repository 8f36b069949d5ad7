import { InvalidTokenError } from '../errors/index.js';
import type { BearerPayload } from './types.js';

/** The confirmation methods of a sender-constrained token this guard can check. */
export interface Confirmation {
  /** RFC 9449 §6.1: the RFC 7638 SHA-256 thumbprint of the DPoP public key. */
  jkt?: string;
  /** RFC 8705 §3.1: the SHA-256 thumbprint (base64url) of the DER client certificate. */
  x5tS256?: string;
}

/** RFC 7638 / RFC 8705 thumbprints: 32 bytes of SHA-256, base64url without padding. */
const SHA256_THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Reads the `cnf` claim (RFC 7800 §3.1) of a verified token: `{}` for a token that is not
 * sender-constrained. A `cnf` that is not an object, a malformed `jkt` or `x5t#S256`, or one
 * holding only confirmation methods this guard cannot check (`jwk`, `jwe`, `kid`, ...) is refused:
 * accepting such a token as a plain Bearer token would drop its binding.
 *
 * @throws InvalidTokenError (401)
 * @see https://www.rfc-editor.org/rfc/rfc7800#section-3.1
 */
export function confirmationOf(payload: BearerPayload): Confirmation {
  const cnf: unknown = payload.cnf;
  if (cnf === undefined) return {};
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) throw new InvalidTokenError('token has an invalid cnf claim');
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  if (jkt !== undefined && (typeof jkt !== 'string' || !SHA256_THUMBPRINT.test(jkt)))
    throw new InvalidTokenError('token has an invalid cnf claim');
  if (x5t !== undefined && (typeof x5t !== 'string' || !SHA256_THUMBPRINT.test(x5t)))
    throw new InvalidTokenError('token has an invalid cnf claim');
  if (jkt === undefined && x5t === undefined && Object.keys(cnf).length > 0) {
    throw new InvalidTokenError('token is bound by an unsupported confirmation method');
  }
  return { ...(jkt !== undefined ? { jkt } : {}), ...(x5t !== undefined ? { x5tS256: x5t } : {}) };
}
