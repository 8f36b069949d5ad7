import type { RequestHandler } from 'express';
import type session from 'express-session';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import { sessionMiddleware } from '../session/middleware.js';
import { sessionEndsAt } from './session-data.js';
import type { LoginConfig } from './options.js';
import type { LoginRuntime } from './runtime.js';
import type { SessionRequest } from './session-ops.js';

/** How long a session lives without use: the rolling window, or the absolute lifetime. */
function idleMs(config: LoginConfig): number {
  return (config.session.rolling ? config.session.rollingDuration : config.session.absoluteDuration) * 1000;
}

/** The session cookie's fixed attributes (what clearing it must repeat): HttpOnly, Secure on https. */
export function sessionCookieScope(config: LoginConfig): {
  httpOnly: true;
  sameSite: 'lax' | 'strict' | 'none';
  secure: boolean;
  path: '/';
  domain?: string;
} {
  const { domain, sameSite } = config.session.cookie;
  return { httpOnly: true, sameSite, secure: config.https, path: '/', ...(domain !== undefined ? { domain } : {}) };
}

/** The session cookie: HttpOnly, SameSite Lax by default, Secure on https, living `idleMs`. */
export function sessionCookieOptions(config: LoginConfig): session.CookieOptions {
  return { ...sessionCookieScope(config), maxAge: idleMs(config) };
}

/** Caps the session cookie (and so the store record) at what is left of the sign-in's lifetime. */
export function capLifetime(req: SessionRequest, config: LoginConfig, endsAt: number): void {
  const cookie = req.session?.cookie;
  if (!cookie) return;
  const maxAge = Math.max(1000, Math.min(idleMs(config), endsAt - Date.now()));
  cookie.originalMaxAge = maxAge;
  cookie.maxAge = maxAge;
}

/**
 * The session middleware of `auth()` (none with `useExistingSession`): express-session's formats
 * and Session objects, with a cheaper request path (see sessionMiddleware). A store failure
 * leaves the request signed out, never failing the app.
 */
export function sessionLayer(runtime: LoginRuntime): RequestHandler | undefined {
  const { config } = runtime;
  if (config.useExistingSession) return undefined;
  return sessionMiddleware({
    name: config.session.cookieName,
    secrets: config.secrets,
    store: runtime.store!,
    cookie: sessionCookieOptions(config),
    rolling: config.session.rolling,
    touchAfterMs: config.session.touchAfter * 1000,
    timeoutMs: LOGIN_DEFAULTS.sessionTimeoutMs,
    // A signed-in session is written back only over its record: an in-flight request (a token
    // refresh) cannot undo a logout or back-channel logout that ended it meanwhile.
    mustExist: (data) => data.oidc?.login !== undefined,
    // A renewal never takes the cookie (or the record) past the end of the sign-in.
    // A session holding only sign-ins in flight lives no longer than they do.
    expiryCap: (data, sessionId) => sessionEndsAt(runtime.sealer, data, sessionId, config.session.absoluteDuration),
    logger: config.logger,
    transient: config.session.cookie.transient,
  });
}
