import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ServiceUnavailableError, UnauthorizedError } from '../errors/index.js';
import { wantsJson } from '../errors/render.js';
import { asyncHandler } from '../util/async-handler.js';
import { isLoginRequired, RequestContext } from './context.js';
import { handleError } from './handle-error.js';

export interface RequiresAuthOptions {
  /**
   * Also require a usable access token: refresh it first when expired or nearly so. When it
   * cannot be refreshed (`invalid_grant`, no refresh token) the session is signed out and the
   * request is treated as not signed in. Default false.
   */
  accessToken?: boolean;
}

/**
 * Guards a route: a signed-in user passes; otherwise a browser gets a 302 to the login route
 * with `returnTo` set to the current path and query, and a request that wants JSON gets a 401.
 * When the session store is down the answer is a 503. Needs `auth()` mounted before it.
 *
 * @example
 * app.use(auth({ authRequired: false, ... }));
 * app.get('/profile', requiresAuth(), (req, res) => res.send(`Hello ${req.oidc.user?.name}`));
 */
export function requiresAuth(options: RequiresAuthOptions = {}): RequestHandler {
  const needToken = options.accessToken === true;
  return asyncHandler('requiresAuth', async (req: Request, res: Response, next: NextFunction) => {
    const context = RequestContext.from((req as { oidc?: unknown }).oidc);
    if (!context) throw new TypeError('requiresAuth() needs auth() mounted before it');
    if (!context.sessionAvailable) {
      handleError(context.runtime, new ServiceUnavailableError('The session store is unavailable; try again shortly.', { cause: context.sessionError }), req, res, next);
      return;
    }
    let signedIn = context.isAuthenticated();
    if (signedIn && needToken) {
      try {
        await context.getAccessToken();
      } catch (err) {
        if (!isLoginRequired(err)) {
          handleError(context.runtime, err, req, res, next);
          return;
        }
        signedIn = false;
      }
    }
    if (signedIn) {
      next();
      return;
    }
    if (wantsJson(req)) {
      handleError(context.runtime, new UnauthorizedError('Sign-in required.'), req, res, next);
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, context.loginUrl(req.originalUrl));
  });
}
