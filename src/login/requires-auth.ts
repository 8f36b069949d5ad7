import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, UnauthorizedError, sessionStoreUnavailable } from '../errors/index.js';
import { noStore } from '../util/no-store.js';
import { optionError } from '../config/assert.js';
import { shortcuts } from '../config/shortcuts.js';
import { wantsJson } from '../errors/render.js';
import { asyncHandler } from '../util/async-handler.js';
import { isLoginRequired, RequestContext } from './context.js';
import { handleError } from './handle-error.js';
import { claimIncludesAll, hasClaimValue, isClaimValue, type ClaimValue } from '../claims.js';

/** Options of `requiresAuth()`. */
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
 * with `returnTo` set to the current path and query (with `routes.login: false`, the sign-in
 * starts right here: a 302 to the issuer, returning to this URL), and a request that wants JSON
 * gets a 401.
 * When the session store is down the answer is a 503. Needs `auth()` mounted before it.
 *
 * @example
 * app.use(auth({ authRequired: false, ... }));
 * app.get('/profile', requiresAuth(), (req, res) => res.send(`Hello ${req.oidc.user?.name}`));
 */
export function requiresAuth(options: RequiresAuthOptions = {}): RequestHandler {
  return guard('requiresAuth', options.accessToken === true, undefined);
}

/** A claim check of a page guard: true lets the signed-in user in. */
export type ClaimPredicate = (req: Request, claims: Record<string, unknown>) => boolean | Promise<boolean>;

function guard(name: string, needToken: boolean, allowed: ClaimPredicate | undefined): RequestHandler {
  const full = asyncHandler(name, async (req: Request, res: Response, next: NextFunction) => {
    const context = RequestContext.from((req as { oidc?: unknown }).oidc);
    if (!context) throw new TypeError('requiresAuth() needs auth() mounted before it');
    if (!context.sessionAvailable) {
      handleError(context.runtime, sessionStoreUnavailable(context.sessionError), req, res, next);
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
      if (allowed && !(await allowed(req, context.user ?? {}))) {
        handleError(context.runtime, new AuthError('access_denied', 403, 'Your account is not allowed to see this page.'), req, res, next);
        return;
      }
      next();
      return;
    }
    if (wantsJson(req)) {
      handleError(context.runtime, new UnauthorizedError('Sign-in required.'), req, res, next);
      return;
    }
    noStore(res);
    // No login route (routes.login: false): start the sign-in here, as express-openid-connect
    // does, with this URL as returnTo; res.oidc.login() answers its own failures.
    if (context.runtime.config.routes.login === false) await res.oidc.login({ returnTo: req.originalUrl });
    else res.redirect(302, context.loginUrl(req.originalUrl));
  });
  // The common case, a signed-in user, passes without the promise of the full check (internal
  // off switch for the comparison test: config/shortcuts.ts).
  if (needToken || allowed || !shortcuts.requiresAuthWithoutPromise) return full;
  const fast = (req: Request, res: Response, next: NextFunction): void => {
    const context = RequestContext.from((req as { oidc?: unknown }).oidc);
    if (context?.sessionAvailable && context.isAuthenticated()) {
      next();
      return;
    }
    full(req, res, next);
  };
  Object.defineProperty(fast, 'name', { value: name });
  return fast;
}

function checkClaimName(path: string, claim: unknown): string {
  if (typeof claim !== 'string' || claim.length === 0) throw optionError(path, 'a claim name (a non-empty string)');
  return claim;
}

/**
 * Page guards on the signed-in user's ID token claims (OIDC Core §2, §5.1), the counterparts of
 * express-openid-connect's `claimEquals`, `claimIncludes` and `claimCheck`. (The names
 * `claimEquals`, `claimIncludes` and `claimCheck` of this package are the Bearer guard's, on
 * `req.auth`; these read `req.oidc.user`.)
 *
 * Each one first acts as `requiresAuth()` (signed out: 302 to the login route, or 401 for JSON;
 * 503 when the store is down); a signed-in user whose claims fail the check gets a 403
 * `access_denied` page. Arguments are checked when the guard is made (TypeError).
 *
 * @example
 * app.get('/admin', requiresClaim.equals('role', 'admin'), adminPage);
 * app.get('/reports', requiresClaim.includes('groups', 'finance', 'audit'), reportsPage);
 * app.get('/beta', requiresClaim.check((req, claims) => claims.email_verified === true), betaPage);
 */
export const requiresClaim = Object.freeze({
  /** The claim must equal `expected` exactly (`===`, so `'1'` is not `1`). */
  equals(claim: string, expected: ClaimValue): RequestHandler {
    const name = checkClaimName('requiresClaim.equals(claim)', claim);
    if (!isClaimValue(expected)) throw optionError('requiresClaim.equals(expected)', 'a string, number, boolean or null');
    return guard('requiresClaimEquals', false, (_req, claims) => hasClaimValue(claims, name, expected));
  },
  /**
   * The claim must contain every one of `expected`: an array claim holding each value, or a
   * space-separated string claim (such as `scope`) holding each word.
   */
  includes(claim: string, ...expected: Array<string | number | boolean>): RequestHandler {
    const name = checkClaimName('requiresClaim.includes(claim)', claim);
    if (expected.length === 0 || !expected.every((value) => value !== null && isClaimValue(value))) {
      throw optionError('requiresClaim.includes(...expected)', 'one or more strings, numbers or booleans');
    }
    return guard('requiresClaimIncludes', false, (_req, claims) => claimIncludesAll(claims, name, expected));
  },
  /** `predicate(req, claims)` must return (or resolve to) `true`; a throw is a 500 page. */
  check(predicate: ClaimPredicate): RequestHandler {
    if (typeof predicate !== 'function') throw optionError('requiresClaim.check(predicate)', 'a function (req, claims) => boolean');
    return guard('requiresClaimCheck', false, async (req, claims) => (await predicate(req, claims)) === true);
  },
});
