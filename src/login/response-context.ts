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
