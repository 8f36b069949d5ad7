/**
 * DPoP (RFC 9449) on the resource server: the proof JWT of one request (§4.3, §7.1), the server
 * nonce (§9), the `jti` replay record (§11.1) and the key binding of the access token (§6.1, §7.1).
 * Plain functions of strings and claims; `middleware.ts` adapts Express.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import { constantEqual } from '../crypto/constant-equal.js';
import { AuthError, InvalidDpopProofError, InvalidTokenError, ServiceUnavailableError, UseDpopNonceError } from '../errors/index.js';
import { useOnce } from '../redis/replay.js';
import { confirmationOf } from './confirmation.js';
import { dpopAccessTokenHash, DpopNonces, normaliseHtu } from '../crypto/dpop.js';

export { dpopAccessTokenHash, DpopNonces, normaliseHtu };
import { BEARER_DEFAULTS } from '../config/defaults.js';
import type { BearerPayload } from './types.js';

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** What a proof is checked against: the request it came with and the guard's settings. */
export interface DpopProofExpectations {
  /** The request method, compared with `htm` exactly. */
  method: string;
  /** The request's absolute external URL (query and fragment are ignored). */
  url: string;
  /** The access token of the `Authorization: DPoP` header, for `ath`. */
  accessToken: string;
  /** Accepted proof algorithms (asymmetric only). */
  algorithms: readonly string[];
  /** Largest accepted `now - iat`, in seconds. */
  maxProofAge: number;
  /** Seconds of accepted clock skew, on top of `maxProofAge` and for an `iat` in the future. */
  clockTolerance: number;
  /** Server nonces, when the guard requires them. */
  nonces?: DpopNonces;
  /** The clock, for tests. */
  now?: () => number;
}

/** A proof that passed every check of `verifyDpopProof`. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof key, to compare with the token's `cnf.jkt`. */
  jkt: string;
  jti: string;
  iat: number;
  /** The proof used the previous window's nonce: send a fresh `DPoP-Nonce` with the answer. */
  nonceStale: boolean;
}

/** Reads the single `DPoP` header of a request (RFC 9449 §4.3 check 1). */
export function dpopProofOf(headers: Record<string, string | string[] | undefined>): string {
  let value = headers.dpop;
  if (Array.isArray(value)) {
    if (value.length > 1) throw new InvalidDpopProofError('more than one DPoP header');
    value = value[0];
  }
  if (value === undefined || value.trim() === '') throw new InvalidDpopProofError('no DPoP proof in the request');
  return value.trim();
}

function mapProofError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const claim = (err as { claim?: unknown } | null)?.claim;
  const reason = (err as { reason?: unknown } | null)?.reason;
  const fail = (description: string): InvalidDpopProofError => new InvalidDpopProofError(description, { cause: err });
  switch (code) {
    case joseErrors.JWSSignatureVerificationFailed.code:
      return fail('DPoP proof signature verification failed');
    case joseErrors.JWTExpired.code:
      return fail(claim === 'iat' ? 'DPoP proof iat outside the accepted window' : 'DPoP proof expired');
    case joseErrors.JWTClaimValidationFailed.code:
      if (reason === 'missing' && typeof claim === 'string') return fail(`DPoP proof lacks the ${claim.replace(/[^\w-]/g, '')} claim`);
      if (claim === 'iat') return fail('DPoP proof iat outside the accepted window');
      return fail('DPoP proof claims check failed');
    case joseErrors.JOSEAlgNotAllowed.code:
      return fail('DPoP proof algorithm not allowed');
    default:
      return fail('malformed DPoP proof');
  }
}

/**
 * Verifies the DPoP proof of a request to a protected resource, RFC 9449 §4.3 checks 2-12 and
 * §7.1: one well-formed JWT; `typ` `dpop+jwt`; an allowed asymmetric `alg` (never `none`, never
 * a MAC); a public `jwk` header (no private members) that verifies the signature; `jti`, `htm`,
 * `htu`, `iat` and `ath` present; `htm` equal to the method; `htu` equal to the request URL
 * (normalised, see `normaliseHtu`); `iat` no older than `maxProofAge` and not in the future
 * (both with `clockTolerance`); `ath` equal to the hash of the access token; the server nonce
 * when `nonces` is given.
 *
 * Does not check the `jti` against replays (see `recordDpopProof`, after the token is accepted)
 * nor the token's `cnf.jkt` (see `checkDpopBinding`).
 *
 * @throws InvalidDpopProofError (401 `invalid_dpop_proof`); UseDpopNonceError (401 `use_dpop_nonce`).
 * @example
 * ```ts
 * const proof = await verifyDpopProof(dpopProofOf(headers), { method: 'GET', url: 'https://api.example/me', accessToken, algorithms: ['ES256'], maxProofAge: 60, clockTolerance: 5 });
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function verifyDpopProof(proof: string, expected: DpopProofExpectations): Promise<VerifiedDpopProof> {
  if (proof.length > BEARER_DEFAULTS.dpopProofMaxBytes) throw new InvalidDpopProofError('DPoP proof too large');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(proof)) throw new InvalidDpopProofError('malformed DPoP proof');
  let header;
  try {
    header = decodeProtectedHeader(proof);
  } catch (err) {
    throw new InvalidDpopProofError('malformed DPoP proof', { cause: err });
  }
  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt')
    throw new InvalidDpopProofError('DPoP proof typ is not dpop+jwt');
  if (typeof header.alg !== 'string' || !expected.algorithms.includes(header.alg))
    throw new InvalidDpopProofError('DPoP proof algorithm not allowed');
  const jwk: unknown = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new InvalidDpopProofError('DPoP proof lacks the jwk header');
  if (PRIVATE_JWK_MEMBERS.some((member) => Object.hasOwn(jwk, member))) {
    throw new InvalidDpopProofError('DPoP proof key contains private key material');
  }

  const nowMs = (expected.now ?? Date.now)();
  let payload: BearerPayload;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, {
      algorithms: [...expected.algorithms],
      requiredClaims: ['jti', 'htm', 'htu', 'iat'],
      maxTokenAge: expected.maxProofAge,
      clockTolerance: expected.clockTolerance,
      currentDate: new Date(nowMs),
    }));
  } catch (err) {
    throw mapProofError(err);
  }
  // jose checks `iat` against `maxTokenAge` only in the past direction; a proof from the future is refused here.
  const iat = payload.iat as number;
  if (iat > nowMs / 1000 + expected.clockTolerance) throw new InvalidDpopProofError('DPoP proof iat outside the accepted window');
  const { jti, htm, htu, ath } = payload;
  if (typeof jti !== 'string' || jti === '' || jti.length > 512) throw new InvalidDpopProofError('DPoP proof has an invalid jti claim');
  if (htm !== expected.method) throw new InvalidDpopProofError('DPoP proof htm does not match the request method');
  const requestUrl = normaliseHtu(expected.url);
  if (typeof htu !== 'string' || requestUrl === undefined || normaliseHtu(htu) !== requestUrl) {
    throw new InvalidDpopProofError('DPoP proof htu does not match the request URL');
  }
  if (ath === undefined) throw new InvalidDpopProofError('DPoP proof lacks the ath claim');
  if (typeof ath !== 'string' || !constantEqual(ath, dpopAccessTokenHash(expected.accessToken))) {
    throw new InvalidDpopProofError('DPoP proof ath does not match the access token');
  }
  let nonceStale = false;
  if (expected.nonces) {
    const nonce = payload.nonce;
    const state = typeof nonce === 'string' ? expected.nonces.check(nonce, nowMs) : undefined;
    if (state === undefined) {
      throw new UseDpopNonceError(
        expected.nonces.current(nowMs),
        nonce === undefined ? 'DPoP proof requires the server nonce' : 'DPoP proof nonce is not current',
      );
    }
    nonceStale = state === 'previous';
  }
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
  } catch (err) {
    throw new InvalidDpopProofError('DPoP proof key is not usable', { cause: err });
  }
  return { jkt, jti, iat, nonceStale };
}

/**
 * Checks that the token's binding fits the scheme it came with (RFC 9449 §7.1, §7.2): a token
 * with `cnf.jkt` must come with the `DPoP` scheme and its proof key's thumbprint must equal
 * `cnf.jkt`; a token without `cnf.jkt` must not come with the `DPoP` scheme. Constant time.
 *
 * @throws InvalidTokenError (401 `invalid_token`)
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function checkDpopBinding(payload: BearerPayload, scheme: 'Bearer' | 'DPoP', proof: VerifiedDpopProof | undefined): void {
  const { jkt } = confirmationOf(payload);
  if (scheme === 'Bearer') {
    if (jkt !== undefined) throw new InvalidTokenError('DPoP-bound token sent with the Bearer scheme');
    return;
  }
  if (jkt === undefined) throw new InvalidTokenError('token is not DPoP-bound');
  if (proof === undefined || !constantEqual(proof.jkt, jkt)) throw new InvalidTokenError('DPoP proof key does not match the token binding');
}

/** Where used proof `jti`s are recorded: `useOnce` answers true the first time within `ttlMs`. */
export interface DpopReplayStore {
  useOnce(key: string, ttlMs: number): Promise<boolean>;
}

/** A replay store on Redis (`SET NX PX`): shared by every instance of the API. */
export function redisDpopReplayStore(client: Redis | Cluster): DpopReplayStore {
  return { useOnce: (key, ttlMs) => useOnce(client, key, ttlMs) };
}

/**
 * A bounded in-memory replay store, correct for a single instance only (another instance does
 * not see its records). When it is full of unexpired records it refuses new proofs (503) rather
 * than forget one that could then be replayed.
 */
export class MemoryDpopReplayStore implements DpopReplayStore {
  private readonly entries = new Map<string, number>();

  constructor(
    private readonly max: number = BEARER_DEFAULTS.dpopMemoryReplayMax,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  useOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    // Records share one TTL, so insertion order is expiry order: drop the expired from the front.
    for (const [oldKey, expiresAt] of this.entries) {
      if (expiresAt > now) break;
      this.entries.delete(oldKey);
    }
    const seen = this.entries.get(key);
    if (seen !== undefined && seen > now) return Promise.resolve(false);
    if (this.entries.size >= this.max) {
      return Promise.reject(new ServiceUnavailableError('Too many recent DPoP proofs; try again shortly.'));
    }
    this.entries.set(key, now + ttlMs);
    return Promise.resolve(true);
  }
}

/**
 * Records the proof's `jti` (per proof key) for as long as the proof could be accepted, and
 * refuses a proof seen before (RFC 9449 §11.1). Call it last, after the token and its binding
 * were accepted, so only holders of a valid bound token can add records.
 *
 * @throws InvalidDpopProofError (401) for a replay; ServiceUnavailableError (503) when the store fails.
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-11.1
 */
export async function recordDpopProof(store: DpopReplayStore, keyPrefix: string, proof: VerifiedDpopProof, ttlMs: number): Promise<void> {
  const key = `${keyPrefix}${createHash('sha256').update(`${proof.jkt}.${proof.jti}`).digest('base64url')}`;
  if (!(await store.useOnce(key, ttlMs))) throw new InvalidDpopProofError('DPoP proof replayed');
}
