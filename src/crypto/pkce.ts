import { createHash } from 'node:crypto';
import { randomToken } from './random.js';

/** A PKCE verifier: 43 base64url characters from 32 random bytes (RFC 7636 §4.1). */
export function generateCodeVerifier(): string {
  return randomToken(32);
}

/** The `S256` challenge of a verifier: BASE64URL(SHA256(verifier)) (RFC 7636 §4.2). */
export function codeChallengeS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
