import type { LogoutOptions } from './logout.js';
import type { LoginOptions } from './options.js';

/**
 * `res.oidc`: what `auth()` adds to every response behind it (as express-openid-connect does).
 *
 * @example
 * app.get('/upgrade', (req, res) => res.oidc.login({
 *   returnTo: '/billing',
 *   authorizationParams: { prompt: 'login', acr_values: 'mfa' },
 * }));
 */
export interface ResponseContext {
  /**
   * Starts a sign-in from any route (OIDC Core §3.1.2.1): a 302 to the issuer, with the global
   * `authorizationParams` overlaid by `options.authorizationParams` (checked here: reserved
   * parameters such as `state` or `redirect_uri` are refused) and `options.returnTo` (a same-origin
   * path; anything else falls back to `baseURL`). Never rejects: a failure is answered as an error
   * page (503 when the store or issuer is down, 500 for invalid options).
   */
  login(options?: LoginOptions): Promise<void>;
  /**
   * Logs out from any route, as `/logout` does (RP-Initiated Logout 1.0 §2): the session ends
   * here, then a 302 to the issuer's end-session endpoint with `options.logoutParams` over the
   * `logoutParams` option, and `options.returnTo` (a same-origin path) as the
   * `post_logout_redirect_uri` (register it at the issuer), or straight to `returnTo` without
   * issuer logout. Never rejects: a failure is answered as an error page. Unlike `/logout`, it
   * does not ask a cross-site request to confirm: call it from routes that are not simple links.
   */
  logout(options?: LogoutOptions): Promise<void>;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Response {
      /** The sign-in actions, set by `auth()`. */
      oidc: ResponseContext;
    }
  }
}
