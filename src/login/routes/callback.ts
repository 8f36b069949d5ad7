import type { Request, RequestHandler, Response } from 'express';
import type { JWTPayload } from 'jose';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { isPlainObject } from '../../config/assert.js';
import { AuthError, InvalidRequestError, isAuthError } from '../../errors/index.js';
import { escapeHtml } from '../../errors/render.js';
import { randomToken } from '../../crypto/random.js';
import { describeCause } from '../../util/logger.js';
import { noStore } from '../../util/no-store.js';
import {
  codeExchange,
  interactionRequired,
  responseState,
  singleParam,
  validateAuthorizationResponse,
  validateResponseIssuer,
} from '../callback.js';
import { publicClaims } from '../context.js';
import { sessionExpiry } from '../id-token.js';
import type { AfterCallback } from '../options.js';
import { userInfoRequest } from '../userinfo.js';
import { baseIdTokenChecks, type LoginRuntime } from '../runtime.js';
import { sealSignedIn } from '../session-data.js';
import type { OidcSessionData, PendingLogin, TokenSet } from '../session-data.js';
import { capLifetime } from '../session-layer.js';
import { ownsSession, sessionStartsOver } from '../../session/middleware.js';
import { regenerateSession, saveSession } from '../session-ops.js';
import { clearSilentLoginMark, markSilentLoginTried } from '../silent-login.js';
import { hasPendingLogins, takePendingLogin } from '../transactions.js';
import { needSession, route } from './route.js';

const timeoutMs = LOGIN_DEFAULTS.sessionTimeoutMs;

/** The page that re-posts a form_post response from our own origin, so the Lax cookie comes along. */
function resubmitPage(res: Response, action: string, params: Record<string, unknown>): void {
  const nonce = randomToken(16);
  const fields = ['code', 'state', 'iss', 'error', 'error_description', 'session_state']
    .map((name) => [name, singleParam(params[name])] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`)
    .join('');
  res.status(200);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', `default-src 'none'; script-src 'nonce-${nonce}'; form-action 'self'`);
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Signing you in</title></head><body>` +
      `<form method="post" action="${escapeHtml(action)}">${fields}<input type="hidden" name="oidc_resubmit" value="1">` +
      `<noscript><button type="submit">Continue</button></noscript></form>` +
      `<script nonce="${nonce}">document.forms[0].submit()</script></body></html>`,
  );
}

/**
 * Runs `afterCallback`: its session's claims become the user's. A throw refuses the sign-in (an
 * `AuthError` as it is, anything else 403 `access_denied`); a hook that answered the request
 * itself (a redirect) ends the callback there, without a session.
 */
async function runAfterCallback(
  hook: AfterCallback,
  req: Request,
  res: Response,
  claims: Record<string, unknown>,
  tokens: TokenSet,
  state: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { dpop_key: _private, ...visible } = tokens;
  let shaped: unknown;
  try {
    shaped = await hook(req, res, { claims: structuredClone(claims), tokenSet: Object.freeze(visible) }, state);
  } catch (err) {
    if (res.headersSent) return claims;
    throw isAuthError(err) ? err : new AuthError('access_denied', 403, 'The sign-in was refused.', { cause: err });
  }
  if (res.headersSent) return claims;
  if (!isPlainObject(shaped) || !isPlainObject(shaped.claims)) {
    throw new AuthError('server_error', 500, 'Something went wrong while signing you in.', {
      cause: new TypeError('afterCallback must return a session with a claims object'),
    });
  }
  return { ...shaped.claims };
}

/**
 * Stores the sign-in in a fresh session (regenerated: no fixation), sealed tokens and all,
 * capped at the IdP's `session_expiry` when that comes first, and adds it to the session index.
 */
async function signIn(
  runtime: LoginRuntime,
  req: Request,
  signedIn: {
    claims: JWTPayload & { sub: string };
    userClaims: Record<string, unknown>;
    tokens: TokenSet;
    now: number;
    idpEnd: number | undefined;
  },
  regenerated: boolean,
): Promise<void> {
  const { config } = runtime;
  const { claims, userClaims, tokens, now, idpEnd } = signedIn;
  const stillPending = req.session!.oidc?.pending;
  if (!regenerated) await regenerateSession(req, timeoutMs);
  const absoluteEnd = now + config.session.absoluteDuration * 1000;
  const expiresAt = idpEnd !== undefined && idpEnd < absoluteEnd ? idpEnd : undefined;
  const sid = typeof claims.sid === 'string' && claims.sid.length > 0 ? claims.sid : undefined;
  req.session!.oidc = {
    ...(stillPending ? { pending: stillPending } : {}),
    login: sealSignedIn(
      runtime.sealer,
      {
        sub: claims.sub,
        ...(sid !== undefined ? { sid } : {}),
        claims: userClaims,
        tokens,
        createdAt: now,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      },
      req.sessionID,
    ),
  };
  if (!config.useExistingSession) capLifetime(req, config, expiresAt ?? absoluteEnd);
  // The index update goes out right behind the session's SET (sent as save() is called), one
  // round trip for both; as before, the record is written first.
  const saved = saveSession(req, timeoutMs);
  const indexed = runtime.index
    ?.add({ sessionId: req.sessionID, sub: claims.sub, ...(sid !== undefined ? { sid } : {}), expiresAt: expiresAt ?? absoluteEnd })
    .catch((err: unknown) => config.logger.warn('session index update failed', describeCause(err)));
  await saved;
  await indexed;
}

/**
 * The pending sign-in the response's `state` names, taken out of the session (saved at once).
 * When the session held nothing else (the usual sign-in), it is regenerated now instead: the old
 * record is deleted, which consumes the state and is the regeneration the sign-in needs anyway
 * (one DEL, where a SET now and a DEL at sign-in were two round trips). `regenerated` says so.
 */
async function takePending(
  runtime: LoginRuntime,
  req: Request,
  params: Record<string, unknown>,
): Promise<{ pending: PendingLogin; regenerated: boolean }> {
  const state = responseState(params);
  const data: OidcSessionData = { ...req.session!.oidc };
  const pending = takePendingLogin(data, state, runtime.sealer);
  if (!pending) throw new InvalidRequestError('The sign-in response does not match a sign-in in progress in this browser.');
  // Consume the state now: a replayed response finds nothing, whatever happens next.
  if (Object.keys(data).length === 0 && ownsSession(req) && Object.keys(req.session!).every((key) => key === 'cookie' || key === 'oidc')) {
    await regenerateSession(req, timeoutMs);
    // Empty and unsaved, like a new visitor's: written only once the sign-in completes.
    sessionStartsOver(req);
    return { pending, regenerated: true };
  }
  req.session!.oidc = data;
  await saveSession(req, timeoutMs);
  return { pending, regenerated: false };
}

/** `GET|POST /callback`: the authorization response (RFC 6749 §4.1.2, form_post, RFC 9207). */
export function callbackRoute(runtime: LoginRuntime): RequestHandler {
  const { config } = runtime;
  return route(runtime, 'oidcCallback', async (req, res) => {
    noStore(res);
    res.setHeader('Referrer-Policy', 'no-referrer');
    needSession(req);
    const params = (req.method === 'POST' ? (req.body ?? {}) : req.query) as Record<string, unknown>;
    const crossSiteDropsCookie = req.method === 'POST' || config.session.cookie.sameSite === 'strict';
    if (crossSiteDropsCookie && !hasPendingLogins(req.session!.oidc) && params.oidc_resubmit === undefined) {
      // A cross-site form_post carries no SameSite=Lax cookie, nor the issuer's redirect a Strict
      // one: post the response again from our own origin, where the cookie comes along.
      resubmitPage(res, req.originalUrl.split('?')[0]!, params);
      return;
    }
    const { pending, regenerated } = await takePending(runtime, req, params);
    const metadata = await runtime.discovery.metadata();
    if (pending.silent === true && interactionRequired(params)) {
      // OIDC Core §3.1.2.6: the silent sign-in needs the user; not an error. Back to the page,
      // signed out, with the marker set (again) so the page does not try once more.
      validateResponseIssuer(params, metadata);
      config.logger.debug('silent sign-in ended: the issuer needs the user to interact', { error: singleParam(params.error) });
      markSilentLoginTried(res, config);
      res.redirect(302, pending.returnTo);
      return;
    }
    const code = validateAuthorizationResponse(params, metadata, { silent: pending.silent === true });
    const { tokens, claims } = await codeExchange({
      metadata,
      client: runtime.client,
      redirectUri: config.redirectUri,
      code,
      pending,
      timeoutMs: config.httpTimeout,
      idToken: baseIdTokenChecks(runtime, metadata),
      params: config.tokenEndpointParams,
      dpopNonces: runtime.dpopNonces,
    });
    const now = Date.now();
    const idpEnd = sessionExpiry(claims, config.clockTolerance, now);
    let userClaims = publicClaims(claims);
    if (config.mergeUserInfo) {
      // Claims the ID token lacks come from UserInfo; the signed ID token's own win.
      const info = await userInfoRequest(runtime, { accessToken: tokens.access_token, dpopKey: tokens.dpop_key }, claims.sub);
      userClaims = { ...publicClaims(info), ...userClaims };
    }
    if (config.afterCallback) {
      userClaims = await runAfterCallback(config.afterCallback, req, res, userClaims, tokens, pending.appState ?? {});
      if (res.headersSent) return;
      userClaims.sub = claims.sub;
    }
    await signIn(runtime, req, { claims, userClaims, tokens, now, idpEnd }, regenerated);
    clearSilentLoginMark(req, res, config);
    res.redirect(302, pending.returnTo);
  });
}
