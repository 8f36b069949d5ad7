import type { Request, RequestHandler, Response } from 'express';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { describeCause } from '../../util/logger.js';
import { noStore } from '../../util/no-store.js';
import { RequestContext } from '../context.js';
import { checkLogoutParams, endSessionUrl, revokeToken, type LogoutOptions } from '../logout.js';
import { safeReturnTo } from '../return-to.js';
import { renderLogoutConfirm, setConfirmPageHeaders, startedCrossSite, type LogoutConfirmForm } from '../logout-confirm.js';
import type { LoginRuntime } from '../runtime.js';
import { sessionCookieScope } from '../session-layer.js';
import { destroySession } from '../session-ops.js';
import { markSilentLoginTried } from '../silent-login.js';
import { needSession, route } from './route.js';

/** `GET|POST /logout`: ends the session here, then at the issuer (RP-Initiated Logout 1.0 §2). */
export function logoutRoute(runtime: LoginRuntime): RequestHandler {
  const { config } = runtime;
  const appOrigin = new URL(config.baseURL).origin;
  const basePath = new URL(config.baseURL).pathname.replace(/\/+$/, '');
  const form: LogoutConfirmForm = { action: `${basePath}${config.routes.logout}`, method: 'post' };
  return route(runtime, 'oidcLogout', async (req, res) => {
    noStore(res);
    // Another site cannot end the session (here and, through id_token_hint, at the issuer): the
    // user confirms with a POST from this origin, which is not cross-site.
    if (startedCrossSite(req.headers, appOrigin)) {
      setConfirmPageHeaders(res);
      if (config.renderLogoutConfirm) await config.renderLogoutConfirm(req, res, { ...form });
      else renderLogoutConfirm(res, form, `${basePath}/`);
      return;
    }
    await performLogout(runtime, req, res);
  });
}

/**
 * Ends the session of this request here, then at the issuer (RP-Initiated Logout 1.0 §2): the
 * `/logout` route and `res.oidc.logout(options)`. Revokes the refresh token where configured.
 */
export async function performLogout(runtime: LoginRuntime, req: Request, res: Response, options: LogoutOptions = {}): Promise<void> {
  const { config, discovery } = runtime;
  noStore(res);
  const returnTo = safeReturnTo(options.returnTo);
  const params = { ...config.logoutParams, ...checkLogoutParams('res.oidc.logout(logoutParams)', options.logoutParams) };
  needSession(req);
  const context = RequestContext.from(req.oidc)!;
  const login = context.storedLogin();
  const tokens = context.tokenSet();
  const metadata = await discovery.metadata().catch(() => discovery.peek());
  if (login && runtime.index) {
    await runtime.index
      .remove({ sessionId: req.sessionID, sub: login.sub, ...(login.sid !== undefined ? { sid: login.sid } : {}) })
      .catch((err: unknown) => config.logger.warn('session index update failed', describeCause(err)));
  }
  if (tokens?.refresh_token && metadata && (config.revokeOnLogout ?? Boolean(metadata.revocation_endpoint))) {
    await revokeToken(metadata, runtime.client, tokens.refresh_token, config.httpTimeout);
  }
  await destroySession(req, LOGIN_DEFAULTS.sessionTimeoutMs);
  if (!config.useExistingSession) {
    res.clearCookie(config.session.cookieName, sessionCookieScope(config));
  }
  // No silent sign-in right after a logout: the issuer's session may still be alive.
  markSilentLoginTried(res, config);
  const idpLogout = config.idpLogout ?? Boolean(metadata?.end_session_endpoint);
  const postLogoutRedirectUri = returnTo ? `${new URL(config.baseURL).origin}${returnTo}` : config.postLogoutRedirectUri;
  const target =
    tokens && metadata && idpLogout
      ? endSessionUrl(metadata, { clientID: config.clientID, idToken: tokens.id_token, postLogoutRedirectUri, params })
      : undefined;
  res.redirect(302, target?.href ?? returnTo ?? config.localPostLogoutPath);
}
