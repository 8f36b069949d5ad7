import type { Request, RequestHandler, Response } from 'express';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { isPlainObject } from '../../config/assert.js';
import { noStore } from '../../util/no-store.js';
import { authorizationRedirect, authorizationRequest } from '../authorize.js';
import { dpopJkt, generateDpopKey, type DpopPrivateJwk } from '../dpop.js';
import { checkAuthorizationParams, type LoginOptions } from '../options.js';
import { safeReturnTo } from '../return-to.js';
import type { LoginRuntime, StartLoginMode } from '../runtime.js';
import { sessionEndsAt, type OidcSessionData } from '../session-data.js';
import { capLifetime } from '../session-layer.js';
import { saveSession } from '../session-ops.js';
import { addPendingLogin } from '../transactions.js';
import { needSession, route } from './route.js';

/** What `getLoginState` returned, checked: a JSON object within the size limit (a copy). */
function checkedLoginState(value: unknown): Record<string, unknown> {
  const json = isPlainObject(value) ? JSON.stringify(value) : undefined;
  if (json === undefined) throw new TypeError('getLoginState() must return a plain object');
  if (Buffer.byteLength(json, 'utf8') > LOGIN_DEFAULTS.loginStateMaxBytes) {
    throw new TypeError(`getLoginState() must return at most ${LOGIN_DEFAULTS.loginStateMaxBytes} bytes of JSON`);
  }
  return JSON.parse(json) as Record<string, unknown>;
}

/** Where a sign-in without (or with an unsafe) returnTo ends: the root of baseURL. */
function homePath(baseURL: string): string {
  return `${new URL(baseURL).pathname.replace(/\/+$/, '')}/`;
}

/** A fresh DPoP key and its thumbprint for the sign-in (RFC 9449 §10), when `dpop` is on. */
async function dpopKeyFor(runtime: LoginRuntime): Promise<{ key: DpopPrivateJwk; jkt: string } | undefined> {
  if (!runtime.config.dpop) return undefined;
  const key = await generateDpopKey();
  return { key, jkt: await dpopJkt(key) };
}

/** The runtimes that already warned about a plain-http request to an https baseURL. */
const warnedInsecure = new WeakSet<LoginRuntime>();

/**
 * An https `baseURL` gets a Secure session cookie, which is never set on a plain-http request: a
 * TLS-terminating proxy without `app.set('trust proxy', ...)` makes every sign-in fail at the
 * callback with no hint. Said once per `auth()`.
 */
function warnUntrustedProxy(runtime: LoginRuntime, req: Request): void {
  if (!runtime.config.https || req.secure || warnedInsecure.has(runtime)) return;
  warnedInsecure.add(runtime);
  runtime.config.logger.warn(
    "baseURL is https but this request arrived over plain http, so the Secure session cookie is not set and sign-ins will fail. Behind a TLS-terminating proxy, call app.set('trust proxy', 1) (or your proxy's address) so Express reads X-Forwarded-Proto.",
  );
}

/**
 * Starts a sign-in (OIDC Core §3.1.2.1, RFC 7636; RFC 9126 / RFC 9101 / RFC 9449 when on): the
 * pending sign-in is sealed into the session only once the issuer accepted a pushed request,
 * so a refused one leaves nothing behind. What `GET /login`, `res.oidc.login()` and (with
 * `mode.silent`, `prompt=none`) `attemptSilentLogin()` run. Rejects on failure, with nothing sent.
 */
export async function startLogin(
  runtime: LoginRuntime,
  req: Request,
  res: Response,
  options: LoginOptions,
  mode: StartLoginMode = {},
): Promise<void> {
  const { config } = runtime;
  noStore(res);
  needSession(req);
  if (!config.useExistingSession) warnUntrustedProxy(runtime, req);
  if (!isPlainObject(options)) throw new TypeError('res.oidc.login() takes an options object');
  const call =
    options.authorizationParams === undefined ? undefined : checkAuthorizationParams('authorizationParams', options.authorizationParams);
  let returnTo = safeReturnTo(options.returnTo) ?? homePath(config.baseURL);
  let appState: Record<string, unknown> | undefined;
  if (config.getLoginState) {
    appState = checkedLoginState(config.getLoginState(req, options));
    returnTo = safeReturnTo(appState.returnTo) ?? returnTo;
  }
  const metadata = await runtime.discovery.metadata();
  const dpop = await dpopKeyFor(runtime);
  const maxAge = call?.maxAge ?? config.maxAge;
  const request = authorizationRequest(metadata, {
    clientID: config.clientID,
    redirectUri: config.redirectUri,
    scope: call?.scope ?? config.scope,
    responseMode: call?.responseMode ?? config.responseMode,
    extra: { ...config.extraAuthorizationParams, ...call?.extra },
    ...(maxAge !== undefined ? { maxAge } : {}),
    returnTo,
    ...(appState !== undefined ? { appState } : {}),
    ...(dpop !== undefined ? { dpop } : {}),
    ...(mode.silent === true ? { silent: true } : {}),
  });
  const url = await authorizationRedirect(metadata, request, {
    clientID: config.clientID,
    client: runtime.client,
    pushed: config.pushedAuthorizationRequests,
    ...(config.requestObject
      ? { requestObject: { ...config.requestObject, lifetimeSeconds: LOGIN_DEFAULTS.requestObjectLifetimeSeconds } }
      : {}),
    timeoutMs: config.httpTimeout,
  });
  const data: OidcSessionData = { ...req.session!.oidc };
  addPendingLogin(data, request.pending, runtime.sealer, {
    max: LOGIN_DEFAULTS.maxPendingLogins,
    ttlMs: LOGIN_DEFAULTS.pendingLoginTtlSeconds * 1000,
  });
  req.session!.oidc = data;
  // The app's own session (useExistingSession) holding only sign-ins in flight ends with them.
  const pendingEnd = config.useExistingSession
    ? sessionEndsAt(runtime.sealer, req.session!, req.sessionID, config.session.absoluteDuration)
    : undefined;
  if (pendingEnd !== undefined) capLifetime(req, config, pendingEnd);
  await saveSession(req, LOGIN_DEFAULTS.sessionTimeoutMs);
  res.redirect(302, url.href);
}

/** `GET /login`: starts the authorization code flow with the global parameters. */
export function loginRoute(runtime: LoginRuntime): RequestHandler {
  return route(runtime, 'oidcLogin', async (req, res) => {
    const returnTo = typeof req.query.returnTo === 'string' ? req.query.returnTo : undefined;
    await startLogin(runtime, req, res, returnTo === undefined ? {} : { returnTo });
  });
}
