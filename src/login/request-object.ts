import type { KeyObject } from 'node:crypto';
import { SignJWT, type JWK } from 'jose';
import { randomToken } from '../crypto/random.js';
import { signingKey } from './client-auth.js';

/** Who signs a request object, for whom, and for how long (RFC 9101 §4). */
export interface RequestObjectInput {
  clientID: string;
  /** The issuer identifier: the request object's audience (RFC 9101 §4). */
  issuer: string;
  key: JWK | KeyObject;
  alg: string;
  lifetimeSeconds: number;
}

/** Members that are numbers, not strings, inside a request object (OIDC Core §3.1.2.1, §6.1). */
const NUMERIC = new Set(['max_age']);

/**
 * Signs the authorization parameters into a request object (JAR, RFC 9101 §4; OIDC Core §6.1):
 * header `typ: oauth-authz-req+jwt`, `alg` and the JWK's `kid`; claims are the parameters (`max_age`
 * as a number, `resource` as an array when repeated) plus `iss` (the client), `aud` (the issuer),
 * `iat`, `nbf`, `exp` and a random `jti`.
 *
 * Not encrypted (no JWE): the parameters are integrity-protected, not hidden.
 */
export async function signRequestObject(params: Array<[string, string]>, input: RequestObjectInput): Promise<string> {
  const claims: Record<string, unknown> = {};
  for (const [name, value] of params) {
    if (name === 'resource') {
      const current = claims.resource;
      claims.resource = current === undefined ? value : Array.isArray(current) ? [...current, value] : [current, value];
    } else {
      claims[name] = NUMERIC.has(name) && /^\d+$/.test(value) ? Number(value) : value;
    }
  }
  claims.client_id = input.clientID;
  const key = await signingKey(input.key, input.alg);
  const kid = 'kid' in input.key && typeof input.key.kid === 'string' ? input.key.kid : undefined;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: input.alg, typ: 'oauth-authz-req+jwt', ...(kid ? { kid } : {}) })
    .setIssuer(input.clientID)
    .setAudience(input.issuer)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + input.lifetimeSeconds)
    .setJti(randomToken(16))
    .sign(key);
}
