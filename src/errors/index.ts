/**
 * Error classes shared by the sign-in middleware and the Bearer guard.
 *
 * Every error carries the RFC error code a client may act on (`code`), the HTTP status
 * (`status`), and a fixed public `description` that never contains a token, a code, a secret or
 * a library's own message. The private reason (a jose error, a network failure) stays in
 * `cause`, for logs. An app's error handler can `switch (err.code)`.
 */

/** RFC error codes this package answers with. */
export type AuthErrorCode =
  // RFC 6750 §3.1
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  // RFC 6750 §3.1: no credentials at all, answered without an error code
  | 'unauthorized'
  // RFC 6749 §4.1.2.1 / §5.2, echoed from or about the authorization server
  | 'access_denied'
  | 'invalid_grant'
  | 'invalid_client'
  | 'server_error'
  | 'temporarily_unavailable'
  // OpenID Connect Core §3.1.2.6
  | 'login_required'
  // RFC 9449 §7.1 (DPoP)
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

export interface AuthErrorOptions {
  /** The private reason: logged, never shown. */
  cause?: unknown;
  /** Extra headers the error wants on the response (e.g. `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

/** Base class: an error with an RFC error code, an HTTP status and a public description. */
export class AuthError extends Error {
  override readonly name: string = 'AuthError';
  /** The RFC error code. */
  readonly code: AuthErrorCode;
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Same as `status`, for handlers written for http-errors. */
  readonly statusCode: number;
  /** True when `description` may be shown to the client (always, by construction). */
  readonly expose = true;
  /** A short, fixed, public reason. Never holds a token or a library's message. */
  readonly description: string;
  readonly headers: Record<string, string>;

  constructor(code: AuthErrorCode, status: number, description: string, options: AuthErrorOptions = {}) {
    super(description, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = status;
    this.statusCode = status;
    this.description = description;
    this.headers = options.headers ?? {};
  }

  /** The JSON body for API clients (RFC 6749 §5.2 shape). */
  toJSON(): { error: string; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}

/** 400 `invalid_request`: the request is malformed (RFC 6750 §3.1, RFC 6749 §4.1.2.1). */
export class InvalidRequestError extends AuthError {
  override readonly name = 'InvalidRequestError';
  constructor(description = 'The request is malformed.', options?: AuthErrorOptions) {
    super('invalid_request', 400, description, options);
  }
}

/** 401 `invalid_token`: the token is expired, revoked, malformed or wrongly addressed (RFC 6750 §3.1). */
export class InvalidTokenError extends AuthError {
  override readonly name = 'InvalidTokenError';
  constructor(description = 'The access token is invalid.', options?: AuthErrorOptions) {
    super('invalid_token', 401, description, options);
  }
}

/** 401 with no error code: the request carried no credentials (RFC 6750 §3.1, last paragraph). */
export class UnauthorizedError extends AuthError {
  override readonly name = 'UnauthorizedError';
  constructor(description = 'Authentication is required.', options?: AuthErrorOptions) {
    super('unauthorized', 401, description, options);
  }
}

/** 403 `insufficient_scope`: the token lacks a scope the resource needs (RFC 6750 §3.1). */
export class InsufficientScopeError extends AuthError {
  override readonly name = 'InsufficientScopeError';
  /** The scopes the resource requires, for the challenge's `scope` attribute. */
  readonly scopes: readonly string[];
  constructor(scopes: readonly string[], description = 'The access token lacks a required scope.', options?: AuthErrorOptions) {
    super('insufficient_scope', 403, description, options);
    this.scopes = scopes;
  }
}

/** 400 `access_denied`, `login_required`, ...: the authorization server refused the login. */
export class AuthorizationResponseError extends AuthError {
  override readonly name = 'AuthorizationResponseError';
  /**
   * True when the issuer answered `access_denied` to an interactive sign-in: the user declined or
   * cancelled there (RFC 6749 §4.1.2.1). The default error page then reads "Sign-in cancelled".
   */
  readonly cancelled: boolean;
  constructor(code: AuthErrorCode, description: string, options?: AuthErrorOptions & { cancelled?: boolean }) {
    super(code, 400, description, options);
    this.cancelled = options?.cancelled === true;
  }
}

/** 400 `invalid_grant`: the issuer refused a code or a refresh token. */
export class InvalidGrantError extends AuthError {
  override readonly name = 'InvalidGrantError';
  constructor(description = 'The authorization grant was refused by the issuer.', options?: AuthErrorOptions) {
    super('invalid_grant', 400, description, options);
  }
}

/** 502 `server_error`: the issuer answered wrongly, or too slowly, at a back-channel endpoint. */
export class IssuerResponseError extends AuthError {
  override readonly name = 'IssuerResponseError';
  constructor(description = 'The authorization server gave an invalid answer.', options?: AuthErrorOptions) {
    super('server_error', 502, description, options);
  }
}

/**
 * 503 `temporarily_unavailable`: a party we depend on (the issuer's metadata or keys, the session
 * store) does not answer. The request may be fine; the client should retry later rather than
 * discard its credentials.
 */
export class ServiceUnavailableError extends AuthError {
  override readonly name = 'ServiceUnavailableError';
  constructor(description = 'A service this request needs is unavailable; try again shortly.', options?: AuthErrorOptions) {
    super('temporarily_unavailable', 503, description, {
      ...options,
      headers: { 'Retry-After': '5', ...(options?.headers ?? {}) },
    });
  }
}

/** The public reason of every "the session store does not answer" error, in one place. */
export const SESSION_STORE_UNAVAILABLE = 'The session store is unavailable; try again shortly.';

/** The 503 for a session store that failed or did not answer in time (`cause`: why, for logs). */
export function sessionStoreUnavailable(cause?: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError(SESSION_STORE_UNAVAILABLE, cause === undefined ? undefined : { cause });
}

/** 401 `invalid_dpop_proof`: the `DPoP` proof is missing, malformed or fails a check (RFC 9449 §7.1). */
export class InvalidDpopProofError extends AuthError {
  override readonly name = 'InvalidDpopProofError';
  constructor(description = 'The DPoP proof is invalid.', options?: AuthErrorOptions) {
    super('invalid_dpop_proof', 401, description, options);
  }
}

/** 401 `use_dpop_nonce` with a fresh `DPoP-Nonce` header: the proof lacks the current server nonce (RFC 9449 §9). */
export class UseDpopNonceError extends AuthError {
  override readonly name = 'UseDpopNonceError';
  constructor(nonce: string, description = 'DPoP proof requires the server nonce', options?: AuthErrorOptions) {
    super('use_dpop_nonce', 401, description, { ...options, headers: { ...(options?.headers ?? {}), 'DPoP-Nonce': nonce } });
  }
}

/** True for errors of this package (also across two loaded copies of it). */
export function isAuthError(err: unknown): err is AuthError {
  return (
    err instanceof AuthError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as AuthError).code === 'string' &&
      typeof (err as AuthError).status === 'number' &&
      typeof (err as AuthError).description === 'string')
  );
}
