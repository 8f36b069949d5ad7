/**
 * What an app uses: `auth()` and its page guards (Sign-in), `requireBearer()` and its scope and
 * claim checks (API guard), the session types (Sessions), and the error classes. Building blocks
 * (the verifier without Express, DPoP and mTLS steps, caches, discovery, the challenge builder)
 * are in {@link express-oidc-guard/advanced | `express-oidc-guard/advanced`}.
 *
 * @module express-oidc-guard
 */
// Re-exports only. test/package/exports.test.ts keeps this list short and the two lists complete.
import './augment.js';

// Sign-in
export { auth, requiresAuth, requiresClaim, attemptSilentLogin } from './login/index.js';
export type {
  AccessToken,
  AfterCallback,
  AfterCallbackSession,
  AuthOptions,
  AuthorizationParams,
  AuthRouter,
  BackchannelLogoutOptions,
  ClientAuthMethod,
  LoginOptions,
  LogoutOptions,
  LogoutTokenClaims,
  OidcContext,
  RequiresAuthOptions,
  ResponseContext,
  RouteOptions,
  TlsIdentity,
} from './login/index.js';
export type { UserClaims, AddressClaim, ClaimValue } from './claims.js';
export type { ClaimPredicate } from './login/requires-auth.js';
export type { LogoutConfirmForm } from './login/logout-confirm.js';

// API guard
export { requireBearer, requiredScopes, scopeIncludesAny, claimEquals, claimIncludes, claimCheck } from './bearer/index.js';
export type {
  BearerAuth,
  BearerErrorHandler,
  BearerMiddleware,
  BearerOptions,
  BearerPayload,
  DpopOptions,
  IntrospectionOptions,
  MtlsOptions,
  TrustedIssuerOptions,
} from './bearer/index.js';
export type { ClaimValidator } from './bearer/types.js';

// Sessions
export type { SessionAdmin, SessionOptions, OidcSessionData, TokenSet } from './login/index.js';
export type { SessionCookieOptions } from './login/options.js';

// Errors and logging
export {
  AuthError,
  AuthorizationResponseError,
  InsufficientScopeError,
  InvalidDpopProofError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidTokenError,
  IssuerResponseError,
  ServiceUnavailableError,
  UnauthorizedError,
  UseDpopNonceError,
  isAuthError,
  type AuthErrorCode,
  type AuthErrorOptions,
} from './errors/index.js';
export { LoginRequiredError, IdTokenError } from './login/index.js';
export { renderError, type RenderErrorOptions } from './errors/render.js';
export type { Logger } from './util/logger.js';
export type { FetchFunction, FetchInit, FetchResponse } from './issuer/http.js';
export { VERSION } from './version.js';
