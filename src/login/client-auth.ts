import { createPrivateKey, type KeyObject } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { randomToken } from '../crypto/random.js';
import { applyClientSecret } from '../issuer/client-secret.js';
import type { Transport } from '../issuer/http.js';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import type { TlsIdentity } from './mtls.js';
import type { ClientAuthMethod } from './options.js';

/** How the client authenticates at the token and revocation endpoints (OIDC Core §9). */
export interface ClientAuth {
  method: ClientAuthMethod;
  clientID: string;
  clientSecret?: string;
  signingKey?: JWK | KeyObject;
  signingAlg?: string;
  assertionLifetimeSeconds?: number;
  /** Mutual-TLS identity (RFC 8705): back-channel requests present this certificate. */
  tls?: TlsIdentity;
  /** How back-channel requests travel (the `fetch` option, or the environment's proxy). */
  transport?: Transport;
}

/** `application/x-www-form-urlencoded` encoding of one value (RFC 6749 Appendix B). */
type SigningKey = KeyObject | Awaited<ReturnType<typeof importJWK>>;

const keyCache = new WeakMap<object, Promise<SigningKey>>();

/** Imports a private JWK (or takes a KeyObject) once per key object. */
export function signingKey(key: JWK | KeyObject, alg: string): Promise<SigningKey> {
  let cached = keyCache.get(key);
  if (!cached) {
    cached =
      'type' in key && typeof (key as KeyObject).export === 'function'
        ? Promise.resolve(key as KeyObject)
        : importJWK(key as JWK, alg).catch(() => createPrivateKey({ key: key as JWK & Record<string, string>, format: 'jwk' }));
    keyCache.set(key, cached);
  }
  return cached;
}

/**
 * Adds client authentication to a back-channel request:
 * - `client_secret_basic`: `Authorization: Basic` of the form-urlencoded id and secret
 *   (RFC 6749 §2.3.1: each is encoded before base64, so `:` or `%` in a secret survive);
 * - `client_secret_post`: `client_id` and `client_secret` in the body (RFC 6749 §2.3.1);
 * - `private_key_jwt`: a fresh signed assertion (RFC 7523 §2.2, OIDC Core §9) whose `aud` is
 *   `audience` (the endpoint called, or the issuer for PAR), with a unique `jti` and a one-minute
 *   life; the key's JWK `kid`, when it has one, goes in the header (key rotation);
 * - `client_secret_jwt`: the same assertion, HMAC-signed (HS256 by default) with the client
 *   secret (RFC 7523 §2.2, OIDC Core §9);
 * - `tls_client_auth`, `self_signed_tls_client_auth`: only `client_id` in the body; the TLS
 *   client certificate authenticates (RFC 8705 §2);
 * - `none`: a public client, only `client_id` in the body (RFC 6749 §2.1, §4.1.3); PKCE binds
 *   the code to the sign-in that asked for it.
 */
export async function applyClientAuth(
  auth: ClientAuth,
  audience: string,
  form: Record<string, string>,
  headers: Record<string, string>,
): Promise<void> {
  switch (auth.method) {
    case 'client_secret_basic':
    case 'client_secret_post':
      applyClientSecret(auth.method, auth.clientID, auth.clientSecret ?? '', form, headers);
      return;
    case 'none':
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      form.client_id = auth.clientID;
      return;
    case 'private_key_jwt':
    case 'client_secret_jwt': {
      const symmetric = auth.method === 'client_secret_jwt';
      const alg = auth.signingAlg ?? (symmetric ? 'HS256' : 'RS256');
      const key = symmetric ? new TextEncoder().encode(auth.clientSecret ?? '') : await signingKey(auth.signingKey!, alg);
      const kid =
        !symmetric && auth.signingKey && 'kid' in auth.signingKey && typeof auth.signingKey.kid === 'string'
          ? auth.signingKey.kid
          : undefined;
      const now = Math.floor(Date.now() / 1000);
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
        .setIssuer(auth.clientID)
        .setSubject(auth.clientID)
        .setAudience(audience)
        .setJti(randomToken(16))
        .setIssuedAt(now)
        .setExpirationTime(now + (auth.assertionLifetimeSeconds ?? LOGIN_DEFAULTS.clientAssertionLifetimeSeconds))
        .sign(key);
      form.client_id = auth.clientID;
      form.client_assertion_type = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
      form.client_assertion = assertion;
      return;
    }
  }
}
