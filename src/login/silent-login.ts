import type { CookieOptions, NextFunction, Request, RequestHandler, Response } from 'express';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import { wantsJson } from '../errors/render.js';
import { asyncHandler } from '../util/async-handler.js';
import { describeCause } from '../util/logger.js';
import { RequestContext } from './context.js';
import type { LoginConfig } from './options.js';
import { safeReturnTo } from './return-to.js';
import { startLogin } from './routes/login.js';

/**
 * The "silent sign-in was tried" marker: a plain cookie holding `1` (no secret; forging it only
 * skips a silent attempt, deleting it only allows one more), HttpOnly, SameSite=Lax, with no
 * expiry, so it lasts the browser session. `__Host-` prefixed (and Secure) on https.
 */
export function silentLoginCookieName(config: Pick<LoginConfig, 'https'>): string {
  return `${config.https ? '__Host-' : ''}${LOGIN_DEFAULTS.silentLoginCookieName}`;
}

function markerOptions(config: Pick<LoginConfig, 'https'>): CookieOptions {
  return { httpOnly: true, sameSite: 'lax', secure: config.https, path: '/' };
}

/** True when the request carries the marker (read from the `Cookie` header; no cookie parser needed). */
export function silentLoginTried(req: Pick<Request, 'headers'>, config: Pick<LoginConfig, 'https'>): boolean {
  const name = silentLoginCookieName(config);
  const header = req.headers.cookie;
  if (typeof header !== 'string') return false;
  return header.split(';').some((pair) => {
    const eq = pair.indexOf('=');
    return eq !== -1 && pair.slice(0, eq).trim() === name;
  });
}

/** Sets the marker: no silent sign-in for the rest of this browser session. */
export function markSilentLoginTried(res: Response, config: Pick<LoginConfig, 'https'>): void {
  res.cookie(silentLoginCookieName(config), '1', markerOptions(config));
}

/** Clears the marker when the request carries it (a sign-in succeeded: a later expiry may try again). */
export function clearSilentLoginMark(req: Request, res: Response, config: Pick<LoginConfig, 'https'>): void {
  if (silentLoginTried(req, config)) res.clearCookie(silentLoginCookieName(config), markerOptions(config));
}

/**
 * A top-level page load by a browser: GET, `Accept` naming `text/html` (and not preferring JSON),
 * and, when the browser sends Fetch Metadata, `Sec-Fetch-Dest: document` (not a `fetch()` or XHR,
 * whose destination is `empty`, nor an iframe: neither can follow a redirect to the issuer usefully).
 */
function isPageNavigation(req: Request): boolean {
  if (req.method !== 'GET') return false;
  const accept = String(req.headers.accept ?? '').toLowerCase();
  if (!accept.includes('text/html') || wantsJson(req)) return false;
  const dest = req.headers['sec-fetch-dest'];
  return dest === undefined || dest === 'document';
}

/**
 * Silent sign-in (OpenID Connect Core 1.0 §3.1.2.1, `prompt=none`), as express-openid-connect's
 * `attemptSilentLogin()`: for a signed-out browser loading a page, try once per browser session to
 * sign in without showing anything, using the session the user may already have at the issuer.
 *
 * When the request is a page load (GET, wants HTML, a top-level navigation), nobody is signed in,
 * and this browser has not tried yet (no marker cookie), it sets the marker and redirects to the
 * issuer with `prompt=none` (the usual state, nonce and PKCE; `returnTo` is the current URL).
 * Every other request passes straight through: signed-in users, other methods, JSON and `fetch()`
 * requests, browsers that already tried, and requests whose session store is down.
 *
 * At the callback, an issuer answer that the user must interact (OIDC Core §3.1.2.6:
 * `login_required`, `consent_required`, `interaction_required`, `account_selection_required`)
 * is not an error: the pending sign-in is consumed and the browser goes back to `returnTo`,
 * signed out; the marker stops a second attempt, so there is no loop. Other errors (e.g.
 * `access_denied`, a wrong `iss`) are answered as for any sign-in. A code signs the user in as usual.
 *
 * The marker is a cookie without expiry (it ends with the browser session). A successful sign-in
 * clears it (so once that sign-in's session ends, the next page load may try again); `/logout` sets
 * it (so a user who just logged out, with the issuer's session perhaps still alive, is not signed
 * straight back in).
 *
 * If the silent sign-in cannot start (issuer down, `getLoginState` throws), the failure is logged
 * and the page is served signed out. Needs `auth()` mounted before it, with `authRequired: false`
 * for the routes it guards (otherwise `requiresAuth()` redirects to the login page first).
 * Browsers that block the issuer's cookies in this redirect (rare for a top-level navigation)
 * simply end signed out.
 *
 * @example
 * app.use(auth({ authRequired: false, session: { redis: 'redis://127.0.0.1:6379' } }));
 * app.get('/', attemptSilentLogin(), (req, res) => {
 *   res.send(req.oidc.isAuthenticated() ? `Hello ${String(req.oidc.user?.name)}` : '<a href="/login">Log in</a>');
 * });
 */
export function attemptSilentLogin(): RequestHandler {
  return asyncHandler('attemptSilentLogin', async (req: Request, res: Response, next: NextFunction) => {
    const context = RequestContext.from((req as { oidc?: unknown }).oidc);
    if (!context) throw new TypeError('attemptSilentLogin() needs auth() mounted before it');
    const { runtime } = context;
    const { config } = runtime;
    if (!isPageNavigation(req) || !context.sessionAvailable || context.isAuthenticated() || silentLoginTried(req, config)) {
      next();
      return;
    }
    const returnTo = safeReturnTo(req.originalUrl);
    if (returnTo === undefined) {
      next();
      return;
    }
    markSilentLoginTried(res, config);
    try {
      await startLogin(runtime, req, res, { returnTo }, { silent: true });
    } catch (err) {
      if (res.headersSent) throw err;
      config.logger.warn('silent sign-in could not start; the page is served signed out', describeCause(err));
      next();
    }
  });
}
