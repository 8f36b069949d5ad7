// Public exports of the sign-in half. Re-exports only.
export { auth, type AuthRouter, type SessionAdmin } from './middleware.js';
export { requiresAuth, type RequiresAuthOptions } from './requires-auth.js';
export type { OidcContext, AccessToken } from './context.js';
export type { AuthOptions, AuthorizationParams, RouteOptions, SessionOptions } from './options.js';
export type { OidcSessionData, TokenSet } from './session-data.js';
export { LoginRequiredError } from './errors.js';
export { IdTokenError } from './id-token.js';
export { safeReturnTo } from './return-to.js';
export { LOGIN_DEFAULTS } from '../config/login-defaults.js';
