import { isPlainObject } from '../config/assert.js';
import type { Sealer } from '../session/seal.js';
import type { DpopPrivateJwk } from './dpop.js';

/**
 * What the sign-in half keeps in `req.session.oidc`. The session store is outside the trust
 * boundary: the signed-in record is sealed as a whole (AES-256-GCM, see `session/seal.ts`) with
 * the session id as associated data, so a record edited in the store, or copied there from
 * another session's key, does not open; each pending sign-in is sealed too. What stays in clear
 * is bookkeeping an attacker gains nothing by changing.
 */
export interface OidcSessionData {
  /** Sign-ins in flight (one per tab), oldest first. */
  pending?: PendingLoginRecord[];
  /** Present once a user signed in: the sealed `SignedInRecord` (see `sealSignedIn`). */
  login?: string;
}

/** One sign-in in flight, as stored. */
export interface PendingLoginRecord {
  /** SHA-256 of the `state` (base64url): finds the record without storing the state in clear. */
  id: string;
  /** The sealed `PendingLogin`. */
  sealed: string;
  /** When it stops being accepted, ms since the epoch. */
  expiresAt: number;
}

/** One sign-in in flight, unsealed. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** `max_age` sent, if any (OIDC Core §3.1.2.1): `auth_time` is then required. */
  maxAge?: number;
  /** What `getLoginState` returned at login, handed to `afterCallback`. */
  appState?: Record<string, unknown>;
  /** The DPoP key made for this sign-in (RFC 9449), whose thumbprint went out as `dpop_jkt`. */
  dpopKey?: DpopPrivateJwk;
  /**
   * A silent sign-in (`prompt=none`, started by `attemptSilentLogin()`): an answer that the user
   * must interact (OIDC Core §3.1.2.6) ends quietly at `returnTo`, signed out.
   */
  silent?: true;
}

/** A signed-in user, as sealed into `OidcSessionData.login`. */
export interface SignedInRecord {
  sub: string;
  /** The OP session id (`sid` claim), for back-channel logout. */
  sid?: string;
  /** The ID token's claims without the protocol ones (nonce, at_hash, c_hash). */
  claims: Record<string, unknown>;
  /** The token set. */
  tokens: TokenSet;
  /** When the user signed in, ms since the epoch (absolute session lifetime). */
  createdAt: number;
  /**
   * When the sign-in ends at the latest, ms since the epoch, when the issuer said so with a
   * `session_expiry` claim earlier than `createdAt + absoluteDuration`.
   */
  expiresAt?: number;
}

/** The tokens of a sign-in (RFC 6749 §5.1, OIDC Core §3.1.3.3), unsealed. */
export interface TokenSet {
  access_token: string;
  token_type: string;
  id_token: string;
  refresh_token?: string;
  /** Seconds since the epoch. */
  expires_at?: number;
  /** The access token's lifetime as issued (`expires_in`), in seconds. */
  expires_in?: number;
  scope?: string;
  /** The session's DPoP private key (RFC 9449), when `dpop` is on; the tokens are bound to it. */
  dpop_key?: DpopPrivateJwk;
}

/** The sealing context (HKDF info) of everything `auth()` seals into the session. */
export const SESSION_SEAL_CONTEXT = 'express-oidc-guard session v1';

/** What the signed-in record is sealed to: its purpose and the session id (see `sealSignedIn`). */
function signedInAad(sessionId: string): string {
  return `oidc-guard signed-in session\0${sessionId}`;
}

/** Seals a signed-in record for the session `sessionId`: it opens under that id only. */
export function sealSignedIn(sealer: Sealer, record: SignedInRecord, sessionId: string): string {
  return sealer.seal(record, signedInAad(sessionId));
}

/**
 * The signed-in record stored for `sessionId`, opened: `record`, or why there is none to trust.
 * - `none`: the session holds no sign-in;
 * - `earlier-format`: a record of version 0.1 (claims in clear, only the tokens sealed): not
 *   trusted either, since nothing bound it to its session;
 * - `untrusted`: it does not open for this id (edited, copied from another session's key, or
 *   sealed under a secret no longer configured), or opened to something that is not a record.
 * Opened values are remembered by the sealer: a page view costs a map lookup, not a decryption.
 * With `shared`, not a parse either (`Sealer.unsealShared`): the record is then deeply frozen and
 * shared between the requests of the session (read it, copy what you hand out); without, it is
 * a fresh copy. Never logs (the caller says it once per request).
 */
export function openSignedIn(
  sealer: Sealer,
  stored: unknown,
  sessionId: string | undefined,
  shared = false,
): { record: SignedInRecord } | { failure: 'none' | 'earlier-format' | 'untrusted' } {
  if (stored === undefined || stored === null) return { failure: 'none' };
  if (typeof stored !== 'string') return { failure: isPlainObject(stored) ? 'earlier-format' : 'untrusted' };
  if (typeof sessionId !== 'string') return { failure: 'untrusted' };
  const aad = signedInAad(sessionId);
  const record = shared ? sealer.unsealShared<SignedInRecord>(stored, aad) : sealer.unsealRemembered<SignedInRecord>(stored, aad);
  return isSignedInRecord(record) ? { record } : { failure: 'untrusted' };
}

function isSignedInRecord(value: unknown): value is SignedInRecord {
  if (!isPlainObject(value) || typeof value.sub !== 'string' || typeof value.createdAt !== 'number' || !isPlainObject(value.claims))
    return false;
  const tokens = value.tokens;
  return isPlainObject(tokens) && typeof tokens.access_token === 'string' && typeof tokens.id_token === 'string';
}

/** When a sign-in ends at the latest, ms since the epoch: `absoluteDuration` after it began, or earlier by `session_expiry`. */
export function loginEndsAt(record: Pick<SignedInRecord, 'createdAt' | 'expiresAt'>, absoluteDurationSeconds: number): number {
  const absolute = record.createdAt + absoluteDurationSeconds * 1000;
  return typeof record.expiresAt === 'number' ? Math.min(absolute, record.expiresAt) : absolute;
}

/**
 * The latest a session may live, ms since the epoch, or undefined for no cap: a signed-in session
 * ends with its sign-in; one that holds nothing but sign-ins in flight (no other data of the app)
 * ends with the last of them, so a `/login` never completed leaves nothing behind that outlives
 * it (and an emptied one ends at once).
 */
export function sessionEndsAt(
  sealer: Sealer,
  data: object,
  sessionId: string | undefined,
  absoluteDurationSeconds: number,
): number | undefined {
  const oidc = (data as { oidc?: OidcSessionData }).oidc;
  if (oidc?.login !== undefined) {
    const opened = openSignedIn(sealer, oidc.login, sessionId, true);
    return 'record' in opened ? loginEndsAt(opened.record, absoluteDurationSeconds) : undefined;
  }
  for (const key of Object.keys(data)) if (key !== 'cookie' && key !== 'oidc') return undefined;
  // A record from the store may hold anything there (`oidc: null` included): only an object counts.
  if (oidc === null || typeof oidc !== 'object') return undefined;
  let end = 0;
  for (const pending of Array.isArray(oidc.pending) ? oidc.pending : []) {
    if (typeof pending?.expiresAt === 'number' && pending.expiresAt > end) end = pending.expiresAt;
  }
  return end;
}
