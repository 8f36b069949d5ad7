import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { randomToken } from '../crypto/random.js';
import { dpopAccessTokenHash, normaliseHtu } from '../crypto/dpop.js';
import { LOGIN_DEFAULTS } from '../config/defaults.js';

/**
 * The client side of DPoP (RFC 9449): a key pair per session, proofs for the token endpoint and
 * for resource requests, and the server nonces to put in them.
 *
 * What this does NOT do: it does not check that the issuer supports DPoP (an issuer without it
 * answers `token_type: Bearer`, which is accepted, RFC 9449 §5), and it never sends the private
 * key anywhere: only its public part travels, inside each proof's header.
 */

/** The private JWK of a session's DPoP key (sealed with the tokens; never sent). */
export type DpopPrivateJwk = JWK & { kty: string; crv: string; x: string; y: string; d: string };

/** Creates a fresh ES256 DPoP key pair (RFC 9449 §2) and returns its private JWK. */
export async function generateDpopKey(): Promise<DpopPrivateJwk> {
  const { privateKey } = await generateKeyPair(LOGIN_DEFAULTS.dpopAlg, { extractable: true });
  return (await exportJWK(privateKey)) as DpopPrivateJwk;
}

function publicPart(jwk: DpopPrivateJwk): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** The JWK SHA-256 thumbprint (RFC 7638) of the key: the `dpop_jkt` parameter (RFC 9449 §10). */
export function dpopJkt(jwk: DpopPrivateJwk): Promise<string> {
  return calculateJwkThumbprint(publicPart(jwk), 'sha256');
}

/** `htu`: the target URI without query and fragment, normalised as the guard compares it (RFC 9449 §4.2, §4.3). */
export function htuOf(url: string | URL): string {
  const htu = normaliseHtu(String(url));
  if (htu === undefined) throw new TypeError('A DPoP proof needs an absolute http(s) URL.');
  return htu;
}

/** What a DPoP proof covers (RFC 9449 §4.2). */
export interface DpopProofInput {
  /** The HTTP method of the request (`htm`). */
  method: string;
  /** The request URL (`htu` is taken from it). */
  url: string | URL;
  /** The server's latest `DPoP-Nonce` for that origin (RFC 9449 §8). */
  nonce?: string;
  /** For a resource request: the access token, hashed into `ath` (RFC 9449 §4.2). */
  accessToken?: string;
}

/**
 * Creates a DPoP proof JWT (RFC 9449 §4.2): header `typ: dpop+jwt`, `alg: ES256`, the public
 * `jwk`; claims `jti` (random), `htm`, `htu`, `iat`, and `nonce` and `ath` when given.
 */
export async function createDpopProof(jwk: DpopPrivateJwk, input: DpopProofInput): Promise<string> {
  const key = await importJWK(jwk, LOGIN_DEFAULTS.dpopAlg);
  const claims: Record<string, string> = { htm: input.method.toUpperCase(), htu: htuOf(input.url) };
  if (input.nonce !== undefined) claims.nonce = input.nonce;
  if (input.accessToken !== undefined) claims.ath = dpopAccessTokenHash(input.accessToken);
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: LOGIN_DEFAULTS.dpopAlg, jwk: publicPart(jwk) })
    .setJti(randomToken(16))
    .setIssuedAt()
    .sign(key);
}

/**
 * The client's side of server nonces: the latest `DPoP-Nonce` each server gave (RFC 9449 §8, §9),
 * by origin, shared by the requests of one `auth()`, to put in the next proof. A bounded map: a
 * nonce is only an optimisation (a missing one costs a retry). The server's side, issuing and
 * checking nonces, is `DpopNonces` (crypto/dpop.ts), which the guard uses.
 */
export class ReceivedDpopNonces {
  private readonly byOrigin = new Map<string, string>();

  get(url: string | URL): string | undefined {
    return this.byOrigin.get(new URL(url).origin);
  }

  /** Remembers the nonce from a response's `DPoP-Nonce` header, if it has a sane one. */
  remember(url: string | URL, headers: Headers): string | undefined {
    const nonce = headers.get('dpop-nonce');
    if (nonce === null || nonce.length === 0 || nonce.length > 512 || !/^[\x21-\x7e]+$/.test(nonce)) return undefined;
    const origin = new URL(url).origin;
    if (!this.byOrigin.has(origin) && this.byOrigin.size >= 32) this.byOrigin.clear();
    this.byOrigin.set(origin, nonce);
    return nonce;
  }
}
