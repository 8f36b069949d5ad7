import { randomBytes } from 'node:crypto';

/**
 * A fresh random value, base64url-encoded, from the OS CSPRNG. 32 bytes (256 bits) by default:
 * state and nonce need at least 128 bits (RFC 6749 §10.10, OIDC Core §15.5.2).
 */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
