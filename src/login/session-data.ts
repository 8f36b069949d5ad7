import type { DpopPrivateJwk } from './dpop.js';

/**
 * What the sign-in half keeps in `req.session.oidc`. Everything secret (tokens, PKCE verifiers,
 * nonces) is sealed (AES-256-GCM, see `session/seal.ts`) before it gets here, so the session
 * store only ever holds ciphertext for those; the rest is non-secret bookkeeping.
 */
export interface OidcSessionData {
  /** Sign-ins in flight (one per tab), oldest first. */
  pending?: PendingLoginRecord[];
  /** Present once a user signed in. */
  login?: SignedInRecord;
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

/** A signed-in user, as stored. */
export interface SignedInRecord {
  sub: string;
  /** The OP session id (`sid` claim), for back-channel logout. */
  sid?: string;
  /** The ID token's claims without the protocol ones (nonce, at_hash, c_hash). */
  claims: Record<string, unknown>;
  /** The sealed `TokenSet`. */
  tokens: string;
  /** When the access token expires, seconds since the epoch (not secret; decides refreshes). */
  accessTokenExpiresAt?: number;
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
