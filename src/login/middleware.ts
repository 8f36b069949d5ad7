import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response, type Router } from 'express';
import session, { type Store } from 'express-session';
import { LOGIN_DEFAULTS } from '../config/login-defaults.js';
import { AuthError, InvalidRequestError, ServiceUnavailableError, isAuthError } from '../errors/index.js';
import { escapeHtml, renderError } from '../errors/render.js';
import { isPlainObject } from '../config/assert.js';
import { IssuerDiscovery } from '../issuer/discovery.js';
import { RemoteKeySet } from '../issuer/jwks.js';
import { IssuerResponseError } from '../errors/index.js';
import { randomToken } from '../crypto/random.js';
import { RefreshCoordinator } from '../redis/refresh-coordinator.js';
import { closeRedisClient, createRedisClient, pingRedis } from '../redis/client.js';
import { useOnce } from '../redis/replay.js';
import { createSealer } from '../session/seal.js';
import { sessionData, sessionMiddleware, sessionStoreError } from '../session/middleware.js';
import { InvalidationFeed } from '../session/invalidations.js';
import { closeSessionStore, createSessionStore, isCluster } from '../session/store.js';
import { SessionIndex } from '../redis/session-index.js';
import { MemorySessionIndex, memoryUseOnce, type SessionIndexApi } from '../redis/in-process.js';
import { asyncHandler } from '../util/async-handler.js';
import { describeCause } from '../util/logger.js';
import { authorizationRedirect, authorizationRequest } from './authorize.js';
import { validateLogoutToken } from './backchannel-logout.js';
import { codeExchange, interactionRequired, responseState, singleParam, validateAuthorizationResponse, validateResponseIssuer } from './callback.js';
import { loginEndsAt, publicClaims, RequestContext } from './context.js';
import { dpopJkt, DpopNonces, generateDpopKey, type DpopPrivateJwk } from './dpop.js';
import { handleError } from './handle-error.js';
import { sessionExpiry } from './id-token.js';
import { endSessionUrl, revokeToken } from './logout.js';
import { checkAuthorizationParams, resolveLoginConfig, type AfterCallback, type AuthOptions, type LoginConfig, type LoginOptions } from './options.js';
import { requiresAuth } from './requires-auth.js';
import { safeReturnTo } from './return-to.js';
import { baseIdTokenChecks, TOKENS_AAD, type LoginRuntime, type StartLoginMode } from './runtime.js';
import type { OidcSessionData, TokenSet } from './session-data.js';
import './response-context.js';
import { destroyById, destroySession, regenerateSession, saveSession, type SessionRequest } from './session-ops.js';
import { clearSilentLoginMark, markSilentLoginTried } from './silent-login.js';
import { addPendingLogin, hasPendingLogins, takePendingLogin } from './transactions.js';

/** Managing sessions from outside a request (admin pages, account deletion). Needs `session.redis`. */
export interface SessionAdmin {
  /** Ids of the user's live sessions. */
  listBySub(sub: string): Promise<string[]>;
  /** Ends every session of the user; returns how many were ended. */
  destroyAllForSub(sub: string): Promise<number>;
  /** Ends one session by id. */
  destroy(sessionId: string): Promise<void>;
}

/** The router `auth()` returns, with lifecycle extras. */
export interface AuthRouter extends Router {
  /** Releases refresh locks and quits the Redis client `auth()` created (not one you passed). */
  close(): Promise<void>;
  /** True when the session store answers (a readiness probe). */
  health(): Promise<boolean>;
  sessions: SessionAdmin;
}

function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

/** A route path as Express compares it: case-insensitive, a trailing slash optional. */
function normalizeRoutePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

function cookieOptions(config: LoginConfig): session.CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'lax',
    secure: config.https,
    path: '/',
    maxAge: (config.session.rolling ? config.session.rollingDuration : config.session.absoluteDuration) * 1000,
  };
}

/** Caps the session cookie (and so the store record) at what is left of the sign-in's lifetime. */
function capLifetime(req: SessionRequest, config: LoginConfig, endsAt: number): void {
  const cookie = req.session?.cookie;
  if (!cookie) return;
  const idle = (config.session.rolling ? config.session.rollingDuration : config.session.absoluteDuration) * 1000;
  const left = endsAt - Date.now();
  const maxAge = Math.max(1000, Math.min(idle, left));
  cookie.originalMaxAge = maxAge;
  cookie.maxAge = maxAge;
}

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

/** What `getLoginState` returned, checked: a JSON object within the size limit (a copy). */
function checkedLoginState(value: unknown): Record<string, unknown> {
  const json = isPlainObject(value) ? JSON.stringify(value) : undefined;
  if (json === undefined) throw new TypeError('getLoginState() must return a plain object');
  if (Buffer.byteLength(json, 'utf8') > LOGIN_DEFAULTS.loginStateMaxBytes) {
    throw new TypeError(`getLoginState() must return at most ${LOGIN_DEFAULTS.loginStateMaxBytes} bytes of JSON`);
  }
  return JSON.parse(json) as Record<string, unknown>;
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
    throw new AuthError('server_error', 500, 'Something went wrong while signing you in.', { cause: new TypeError('afterCallback must return a session with a claims object') });
  }
  return { ...shaped.claims };
}

/**
 * The sign-in middleware (OpenID Connect Core 1.0 §3.1, authorization code flow with PKCE):
 * returns a Router serving the login, callback, logout and back-channel logout routes, keeping
 * sessions in express-session (Redis by default, tokens sealed), setting `req.oidc` on every
 * request, and — with `authRequired` (default true) — requiring sign-in on every other route.
 *
 * Options are checked once, here (TypeError naming the option). Unset ones fall back to
 * ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, BASE_URL and SECRET.
 *
 * @example
 * const oidc = auth({ authRequired: false, session: { redis: 'redis://127.0.0.1:6379' } });
 * app.use(oidc);
 * app.get('/profile', requiresAuth(), (req, res) => res.json(req.oidc.user));
 * process.on('SIGTERM', () => server.close(() => void oidc.close()));
 */
export function auth(options?: AuthOptions): AuthRouter {
  const config = resolveLoginConfig(options);
  const { logger } = config;
  if (config.allowInsecureHttp) {
    logger.warn('allowInsecureHttp is on: tokens and session cookies may travel over plain HTTP. Never use this in production.');
  }
  const sealer = createSealer(config.secrets, 'express-oidc-guard session v1');
  const discovery = new IssuerDiscovery(config.issuerBaseURL, {
    timeoutMs: config.httpTimeout,
    logger,
    ...(config.discovery.retryMinDelayMs !== undefined ? { retryMinDelayMs: config.discovery.retryMinDelayMs } : {}),
    ...(config.discovery.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: config.discovery.retryMaxDelayMs } : {}),
    ...(config.discovery.cacheMaxAgeMs !== undefined ? { cacheMaxAgeMs: config.discovery.cacheMaxAgeMs } : {}),
  });
  const keys = new RemoteKeySet(
    async () => {
      const metadata = await discovery.metadata();
      if (!metadata.jwks_uri) throw new IssuerResponseError('The authorization server has no jwks_uri.');
      return metadata.jwks_uri;
    },
    { timeoutMs: config.httpTimeout, cooldownMs: config.discovery.jwksCooldownMs, logger },
  );

  const redis = config.session.redis !== undefined ? createRedisClient(config.session.redis, logger, 'session.redis') : undefined;
  const prefix = config.session.prefix;
  let store: Store | undefined = config.session.store;
  // Redis's invalidation messages for the session records (the local cache) and the refresh
  // results (waiters wake at once): one connection per process, single node only.
  const invalidations =
    redis && config.session.localCache !== false && !isCluster(redis.client)
      ? new InvalidationFeed(redis.client, [`${prefix}sess:`, `${prefix}refresh:`], undefined, logger)
      : undefined;
  if (!store && redis) {
    store = createSessionStore({
      client: redis.client,
      prefix: `${prefix}sess:`,
      ttlSeconds: config.session.rollingDuration,
      logger,
      localCache: config.session.localCache,
      ...(invalidations ? { invalidations } : {}),
    });
  }
  if (!store && !config.useExistingSession) {
    logger.warn('session.allowMemoryStore is on: sessions live in process memory, are lost on restart and are not shared between processes. Never use this in production.');
    store = new session.MemoryStore();
  }

  const runtime: LoginRuntime = {
    config,
    discovery,
    keys,
    sealer,
    client: {
      method: config.clientAuthMethod,
      clientID: config.clientID,
      ...(config.clientSecret !== undefined ? { clientSecret: config.clientSecret } : {}),
      ...(config.clientAssertionSigningKey !== undefined ? { signingKey: config.clientAssertionSigningKey } : {}),
      signingAlg: config.clientAssertionSigningAlg,
      assertionLifetimeSeconds: LOGIN_DEFAULTS.clientAssertionLifetimeSeconds,
      ...(config.mtls !== undefined ? { tls: config.mtls } : {}),
    },
    store,
    redis: redis?.client,
    coordinator: redis
      ? new RefreshCoordinator(redis.client, {
          prefix: `${prefix}refresh:`,
          lockTtlMs: LOGIN_DEFAULTS.refreshLockTtlMs,
          waitMs: LOGIN_DEFAULTS.refreshWaitMs,
          ...(invalidations ? { invalidations } : {}),
        })
      : undefined,
    // Without Redis (one process, development) the index and the replay guard live in memory, so
    // back-channel logout and sessions.* still work for the sessions of this process.
    index: redis ? new SessionIndex(redis.client, { prefix: `${prefix}idx:` }) : config.useExistingSession ? undefined : new MemorySessionIndex(),
    useOnce: redis ? (key, ttlMs) => useOnce(redis.client, key, ttlMs) : memoryUseOnce(),
    localRefreshes: new Map(),
    dpopNonces: new DpopNonces(),
    startLogin,
  };
  const parseForm = express.urlencoded({ extended: false, limit: LOGIN_DEFAULTS.formBodyLimit, parameterLimit: 50 });
  const storeOf = (req: SessionRequest): Store | undefined => runtime.store ?? req.sessionStore;
  const timeoutMs = LOGIN_DEFAULTS.sessionTimeoutMs;
  /** Where a sign-in without (or with an unsafe) returnTo ends: the root of baseURL. */
  const homePath = `${new URL(config.baseURL).pathname.replace(/\/+$/, '')}/`;

  const router = express.Router() as AuthRouter;

  let sessions: RequestHandler | undefined;
  if (!config.useExistingSession) {
    // express-session's formats and Session objects, with a cheaper request path (see
    // sessionMiddleware): a store failure leaves the request signed out, never failing the app.
    sessions = sessionMiddleware({
      name: config.session.cookieName,
      secrets: config.secrets,
      store: store!,
      cookie: cookieOptions(config),
      rolling: config.session.rolling,
      touchAfterMs: config.session.touchAfter * 1000,
      timeoutMs: LOGIN_DEFAULTS.sessionTimeoutMs,
      // A signed-in session is written back only over its record: an in-flight request (a token
      // refresh) cannot undo a logout or back-channel logout that ended it meanwhile.
      mustExist: (data) => data.oidc?.login !== undefined,
      // A renewal never takes the cookie (or the record) past the end of the sign-in.
      expiryCap: (data) => {
        const login = data.oidc?.login;
        return login && typeof login.createdAt === 'number' ? loginEndsAt(login, config.session.absoluteDuration) : undefined;
      },
      logger,
    });
  }

  // The sign-in routes live on their own router, entered only for their paths: a page view
  // passes one layer of ours, not one per route.
  const routes = express.Router();
  const guardPage = config.authRequired ? requiresAuth() : undefined;
  const routePaths = [config.routes.login, config.routes.callback, config.routes.logout, config.routes.backchannelLogout]
    .filter((path): path is string => typeof path === 'string');
  // Express matches routes case-insensitively and with or without a trailing slash; a path with
  // pattern characters is left to Express alone (every request then enters the routes router).
  const plainPaths = routePaths.every((path) => /^[A-Za-z0-9/_.~-]*$/.test(path));
  const ownPaths = new Set(routePaths.map((path) => normalizeRoutePath(path)));
  // Most requests are for other paths: a length check spares them the lower-casing.
  const ownLengths = new Set(routePaths.flatMap((path) => [path.length, path.length + 1]));

  // One layer: the session, then the request's context (not two router layers per request).
  router.use(oidc);
  function oidc(req: Request, res: Response, next: NextFunction): void {
    if (!sessions) {
      oidcRequest(req, res, next);
      return;
    }
    sessions(req, res, (err?: unknown) => {
      if (err !== undefined && err !== null) next(err);
      else oidcRequest(req, res, next);
    });
  }

  function oidcRequest(req: Request, res: Response, next: NextFunction): void {
    res.oidc = new ResponseLogin(req, res);
    const sessionError = sessionStoreError(req) ??
      (config.useExistingSession && !req.session ? new Error('useExistingSession is set but req.session is missing') : undefined);
    const context = new RequestContext(req, runtime, sessionError);
    req.oidc = context;
    const login = sessionData(req)?.oidc?.login;
    if (login && !context.isAuthenticated()) {
      // Past the absolute lifetime, or sealed under a secret no longer configured: signed out.
      const rest = { ...req.session!.oidc };
      delete rest.login;
      req.session!.oidc = rest;
      void runtime.index?.remove({ sessionId: req.sessionID!, sub: login.sub, ...(login.sid !== undefined ? { sid: login.sid } : {}) }).catch(() => undefined);
    } else if (login && config.useExistingSession) {
      capLifetime(req, config, loginEndsAt(login, config.session.absoluteDuration));
    }
    const pages = (err?: unknown): void => {
      if (err !== undefined && err !== null) {
        next(err);
        return;
      }
      if (!guardPage) {
        next();
        return;
      }
      // A signed-in user passes at once; everything else takes the full guard (login redirect, 401, 503).
      if (context.sessionAvailable && context.isAuthenticated()) {
        next();
        return;
      }
      guardPage(req, res, next);
    };
    const path = req.path;
    if (!plainPaths || (ownLengths.has(path.length) && ownPaths.has(normalizeRoutePath(path)))) {
      routes(req, res, pages);
      return;
    }
    pages();
  }

  /** `res.oidc`: starts a sign-in from any route. */
  class ResponseLogin {
    constructor(
      private readonly req: Request,
      private readonly res: Response,
    ) {}

    async login(options?: LoginOptions): Promise<void> {
      const { req, res } = this;
      try {
        await startLogin(req, res, options ?? {});
      } catch (err) {
        handleError(runtime, err, req, res, (late?: unknown) => {
          if (!res.headersSent) renderError(req, res, isAuthError(late) ? late : new AuthError('server_error', 500, 'Something went wrong while signing you in.'));
        });
      }
    }
  }

  /**
   * Our routes answer their own errors (renderError or the app's errorHandler): an error-handling
   * middleware on the router would also catch errors of the app's middleware mounted before it.
   */
  const route = (name: string, fn: (req: Request, res: Response) => Promise<void>): RequestHandler =>
    asyncHandler(name, async (req, res, next) => {
      try {
        await fn(req, res);
      } catch (err) {
        handleError(runtime, err, req, res, next);
      }
    });
  const formBody = (req: Request, res: Response, next: NextFunction): void => {
    parseForm(req, res, (err?: unknown) => {
      if (err === undefined || err === null) return next();
      const refused = new InvalidRequestError('The form body is invalid or too large.', { cause: err });
      if (req.path === config.routes.backchannelLogout) {
        res.setHeader('Cache-Control', 'no-store');
        res.status(400).json(refused.toJSON());
        return;
      }
      handleError(runtime, refused, req, res, next);
    });
  };

  const needSession = (req: Request): void => {
    const context = RequestContext.from(req.oidc);
    if (!context?.sessionAvailable) {
      throw new ServiceUnavailableError('The session store is unavailable; try again shortly.', { cause: context?.sessionError });
    }
  };

  /**
   * Starts a sign-in (OIDC Core §3.1.2.1, RFC 7636; RFC 9126 / RFC 9101 / RFC 9449 when on): the
   * pending sign-in is sealed into the session only once the issuer accepted a pushed request,
   * so a refused one leaves nothing behind. `mode.silent`: `prompt=none` (`attemptSilentLogin()`).
   */
  async function startLogin(req: Request, res: Response, options: LoginOptions, mode: StartLoginMode = {}): Promise<void> {
    noStore(res);
    needSession(req);
    if (!isPlainObject(options)) throw new TypeError('res.oidc.login() takes an options object');
    const call = options.authorizationParams === undefined ? undefined : checkAuthorizationParams('authorizationParams', options.authorizationParams);
    let returnTo = safeReturnTo(options.returnTo) ?? homePath;
    let appState: Record<string, unknown> | undefined;
    if (config.getLoginState) {
      appState = checkedLoginState(config.getLoginState(req, options));
      returnTo = safeReturnTo(appState.returnTo) ?? returnTo;
    }
    const metadata = await discovery.metadata();
    let dpop: { key: DpopPrivateJwk; jkt: string } | undefined;
    if (config.dpop) {
      const key = await generateDpopKey();
      dpop = { key, jkt: await dpopJkt(key) };
    }
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
    addPendingLogin(data, request.pending, sealer, { max: LOGIN_DEFAULTS.maxPendingLogins, ttlMs: LOGIN_DEFAULTS.pendingLoginTtlSeconds * 1000 });
    req.session!.oidc = data;
    await saveSession(req, timeoutMs);
    res.redirect(302, url.href);
  }

  // GET /login: start the authorization code flow with the global parameters.
  routes.get(
    config.routes.login,
    route('oidcLogin', async (req, res) => {
      const returnTo = typeof req.query.returnTo === 'string' ? req.query.returnTo : undefined;
      await startLogin(req, res, returnTo === undefined ? {} : { returnTo });
    }),
  );

  // GET|POST /callback: the authorization response (RFC 6749 §4.1.2, form_post, RFC 9207).
  const callback = route('oidcCallback', async (req, res) => {
    noStore(res);
    res.setHeader('Referrer-Policy', 'no-referrer');
    needSession(req);
    const params = (req.method === 'POST' ? req.body ?? {} : req.query) as Record<string, unknown>;
    if (req.method === 'POST' && !hasPendingLogins(req.session!.oidc) && params.oidc_resubmit === undefined) {
      // A cross-site form_post carries no SameSite=Lax cookie: post it again from our own origin.
      resubmitPage(res, req.originalUrl, params);
      return;
    }
    const state = responseState(params);
    const data: OidcSessionData = { ...req.session!.oidc };
    const pending = takePendingLogin(data, state, sealer);
    if (!pending) throw new InvalidRequestError('The sign-in response does not match a sign-in in progress in this browser.');
    // Consume the state now: a replayed response finds nothing, whatever happens next.
    req.session!.oidc = data;
    await saveSession(req, timeoutMs);

    const metadata = await discovery.metadata();
    if (pending.silent === true && interactionRequired(params)) {
      // OIDC Core §3.1.2.6: the silent sign-in needs the user; not an error. Back to the page,
      // signed out, with the marker set (again) so the page does not try once more.
      validateResponseIssuer(params, metadata);
      logger.debug('silent sign-in ended: the issuer needs the user to interact', { error: singleParam(params.error) });
      markSilentLoginTried(res, config);
      res.redirect(302, pending.returnTo);
      return;
    }
    const code = validateAuthorizationResponse(params, metadata);
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
    if (config.afterCallback) {
      userClaims = await runAfterCallback(config.afterCallback, req, res, userClaims, tokens, pending.appState ?? {});
      if (res.headersSent) return;
      userClaims.sub = claims.sub;
    }

    const stillPending = req.session!.oidc?.pending;
    await regenerateSession(req, timeoutMs);
    const absoluteEnd = now + config.session.absoluteDuration * 1000;
    const expiresAt = idpEnd !== undefined && idpEnd < absoluteEnd ? idpEnd : undefined;
    const sid = typeof claims.sid === 'string' && claims.sid.length > 0 ? claims.sid : undefined;
    req.session!.oidc = {
      ...(stillPending ? { pending: stillPending } : {}),
      login: {
        sub: claims.sub,
        ...(sid !== undefined ? { sid } : {}),
        claims: userClaims,
        tokens: sealer.seal(tokens, TOKENS_AAD),
        ...(tokens.expires_at !== undefined ? { accessTokenExpiresAt: tokens.expires_at } : {}),
        createdAt: now,
        ...(expiresAt !== undefined ? { expiresAt } : {}),
      },
    };
    if (!config.useExistingSession) capLifetime(req, config, expiresAt ?? absoluteEnd);
    await saveSession(req, timeoutMs);
    if (runtime.index) {
      await runtime.index
        .add({ sessionId: req.sessionID, sub: claims.sub, ...(sid !== undefined ? { sid } : {}), expiresAt: expiresAt ?? absoluteEnd })
        .catch((err: unknown) => logger.warn('session index update failed', describeCause(err)));
    }
    clearSilentLoginMark(req, res, config);
    res.redirect(302, pending.returnTo);
  });
  routes.get(config.routes.callback, callback);
  routes.post(config.routes.callback, formBody, callback);

  // GET|POST /logout: end the session here, then at the issuer (RP-Initiated Logout 1.0 §2).
  const logout = route('oidcLogout', async (req, res) => {
    noStore(res);
    needSession(req);
    const context = RequestContext.from(req.oidc)!;
    const login = req.session!.oidc?.login;
    const tokens = context.tokenSet();
    const metadata = await discovery.metadata().catch(() => discovery.peek());
    if (login && runtime.index) {
      await runtime.index
        .remove({ sessionId: req.sessionID, sub: login.sub, ...(login.sid !== undefined ? { sid: login.sid } : {}) })
        .catch((err: unknown) => logger.warn('session index update failed', describeCause(err)));
    }
    if (tokens?.refresh_token && metadata && (config.revokeOnLogout ?? Boolean(metadata.revocation_endpoint))) {
      await revokeToken(metadata, runtime.client, tokens.refresh_token, config.httpTimeout);
    }
    await destroySession(req, timeoutMs);
    if (!config.useExistingSession) {
      res.clearCookie(config.session.cookieName, { path: '/', httpOnly: true, secure: config.https, sameSite: 'lax' });
    }
    // No silent sign-in right after a logout: the issuer's session may still be alive.
    markSilentLoginTried(res, config);
    const idpLogout = config.idpLogout ?? Boolean(metadata?.end_session_endpoint);
    const target =
      tokens && metadata && idpLogout
        ? endSessionUrl(metadata, { clientID: config.clientID, idToken: tokens.id_token, postLogoutRedirectUri: config.postLogoutRedirectUri })
        : undefined;
    res.redirect(302, target?.href ?? config.localPostLogoutPath);
  });
  routes.get(config.routes.logout, logout);
  routes.post(config.routes.logout, logout);

  // POST /backchannel-logout: OpenID Connect Back-Channel Logout 1.0 §2.5-§2.8.
  if (config.routes.backchannelLogout !== false) {
    if (!runtime.index) {
      logger.warn('back-channel logout is off: with useExistingSession it needs session.redis (for the session index and jti replay checks)');
    } else {
      if (!runtime.redis) logger.warn('back-channel logout without session.redis reaches only the sessions of this process');
      const index = runtime.index;
      routes.post(
        config.routes.backchannelLogout,
        formBody,
        route('oidcBackchannelLogout', async (req, res) => {
          noStore(res);
          try {
            const token = singleParam((req.body as Record<string, unknown> | undefined)?.logout_token);
            if (token === undefined || token.length > 16_384) throw new InvalidRequestError('The request has no logout_token.');
            const metadata = await discovery.metadata();
            // The same key, issuer, audience and algorithm checks as for ID tokens.
            const claims = await validateLogoutToken(token, baseIdTokenChecks(runtime, metadata));
            const nowS = Math.floor(Date.now() / 1000);
            const ttlS = typeof claims.exp === 'number' ? Math.max(claims.exp - nowS, 0) + config.clockTolerance : LOGIN_DEFAULTS.logoutTokenReplayTtlSeconds;
            const jtiKey = createHash('sha256').update(`${claims.iss}\0${claims.jti}`, 'utf8').digest('base64url');
            if (!(await runtime.useOnce(`${prefix}bcl-jti:${jtiKey}`, Math.max(ttlS, 1) * 1000))) {
              throw new InvalidRequestError('The logout token was already used.');
            }
            const ids = claims.sid !== undefined ? await index.listBySid(claims.sid) : await index.listBySub(claims.sub!);
            const target = storeOf(req);
            for (const id of ids) {
              if (target) await destroyById(target, id, timeoutMs);
              await index.remove({ sessionId: id, ...(claims.sub !== undefined ? { sub: claims.sub } : {}), ...(claims.sid !== undefined ? { sid: claims.sid } : {}) });
            }
            logger.info('back-channel logout', { sessions: ids.length });
            res.status(200).end();
          } catch (err) {
            const known = isAuthError(err) ? err : new InvalidRequestError('The logout request failed.', { cause: err });
            if (known.status >= 500) logger.error('back-channel logout failed', { status: known.status, ...describeCause(known.cause ?? known) });
            else logger.debug('back-channel logout refused', describeCause(known.cause ?? known));
            const answer = known.status >= 500 ? known : new InvalidRequestError(known.description);
            for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
            res.status(answer.status).json({ error: answer.code, error_description: answer.description });
          }
        }),
      );
    }
  }

  const adminStore = (): Store => {
    if (!runtime.store) throw new Error('sessions.* needs a session store (not available with useExistingSession)');
    return runtime.store;
  };
  const requireIndex = (): SessionIndexApi => {
    if (!runtime.index) throw new Error('sessions.* needs session.redis when useExistingSession is set');
    return runtime.index;
  };

  router.sessions = {
    listBySub: (sub) => requireIndex().listBySub(sub),
    async destroyAllForSub(sub) {
      const index = requireIndex();
      const ids = await index.listBySub(sub);
      for (const id of ids) {
        await destroyById(adminStore(), id, timeoutMs);
        await index.remove({ sessionId: id, sub });
      }
      return ids.length;
    },
    destroy: (sessionId) => destroyById(adminStore(), sessionId, timeoutMs),
  };
  router.health = async () => {
    if (redis) return pingRedis(redis.client, 1000);
    const probe = runtime.store;
    if (!probe) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      probe.get('oidc-guard-health-probe', (err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    });
  };
  router.close = async () => {
    await runtime.coordinator?.close();
    if (store) await closeSessionStore(store);
    await invalidations?.close();
    if (redis?.owned) await closeRedisClient(redis.client);
  };
  // What auth() returns is called straight into `oidc` while the router holds only that layer:
  // a router's dispatch (state saved and restored around each layer) costs a page view more than
  // the layer itself. It inherits the router, so it still is one (router methods, `stack`); a
  // layer added to it later goes through the router as usual.
  const direct = function auth(req: Request, res: Response, next: NextFunction): void {
    if (router.stack.length === 1) oidc(req, res, next);
    else router(req, res, next);
  } as unknown as AuthRouter;
  Object.setPrototypeOf(direct, router);
  direct.sessions = router.sessions;
  direct.health = router.health;
  direct.close = router.close;
  return direct;
}
