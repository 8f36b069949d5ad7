// Public exports of the sign-in half. Re-exports only.
export { auth, type AuthRouter, type SessionAdmin } from './middleware.js';
export { requiresAuth, requiresClaim, type RequiresAuthOptions } from './requires-auth.js';
export { attemptSilentLogin } from './silent-login.js';
export type { OidcContext, AccessToken } from './context.js';
export type {
  AfterCallback,
  AfterCallbackSession,
  AuthOptions,
  AuthorizationParams,
  BackchannelLogoutOptions,
  ClientAuthMethod,
  LoginOptions,
  RouteOptions,
  SessionOptions,
} from './options.js';
export type { ResponseContext } from './response-context.js';
export type { LogoutOptions } from './logout.js';
export type { LogoutTokenClaims } from './backchannel-logout.js';
export type { TlsIdentity } from './mtls.js';
export type { OidcSessionData, TokenSet } from './session-data.js';
export { LoginRequiredError } from './errors.js';
export { IdTokenError } from './id-token.js';
export { safeReturnTo } from './return-to.js';
export { LOGIN_DEFAULTS } from '../config/defaults.js';
