import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, isAuthError } from '../errors/index.js';
import { renderError } from '../errors/render.js';
import { sessionData, sessionStoreError } from '../session/middleware.js';
import { loginEndsAt, RequestContext } from './context.js';
import { handleError } from './handle-error.js';
import type { LoginOptions } from './options.js';
import { requiresAuth } from './requires-auth.js';
import type { ResponseContext } from './response-context.js';
import './response-context.js';
import type { SignInRoutes } from './routes/index.js';
import { startLogin } from './routes/login.js';
import { performLogout } from './routes/logout.js';
import type { LogoutOptions } from './logout.js';
import type { LoginRuntime } from './runtime.js';
import { capLifetime } from './session-layer.js';
import { guardStore } from './ended-sessions.js';

/** `res.oidc`: starts a sign-in from any route. */
class ResponseLogin implements ResponseContext {
  constructor(
    private readonly runtime: LoginRuntime,
    private readonly req: Request,
    private readonly res: Response,
  ) {}

  login(options?: LoginOptions): Promise<void> {
    return this.answer(() => startLogin(this.runtime, this.req, this.res, options ?? {}));
  }

  logout(options?: LogoutOptions): Promise<void> {
    return this.answer(() => performLogout(this.runtime, this.req, this.res, options ?? {}));
  }

  /** Runs a sign-in action; a failure is answered as an error page (never rejects). */
  private async answer(action: () => Promise<void>): Promise<void> {
    const { runtime, req, res } = this;
    try {
      await action();
    } catch (err) {
      handleError(runtime, err, req, res, (late?: unknown) => {
        if (!res.headersSent)
          renderError(
            req,
            res,
            isAuthError(late) ? late : new AuthError('server_error', 500, 'Something went wrong while signing you in.'),
          );
      });
    }
  }
}

/**
 * Sets `req.oidc` and `res.oidc`, and drops a sign-in that is past its lifetime or whose tokens
 * no longer open (sealed under a secret no longer configured).
 */
function attachContext(runtime: LoginRuntime, req: Request, res: Response): RequestContext {
  const { config } = runtime;
  res.oidc = new ResponseLogin(runtime, req, res);
  const sessionError =
    sessionStoreError(req) ??
    (config.useExistingSession && !req.session ? new Error('useExistingSession is set but req.session is missing') : undefined);
  const context = new RequestContext(req, runtime, sessionError);
  req.oidc = context;
  // The app's store, seen first here: a logout must stick in it too (once per store object).
  if (config.useExistingSession && req.sessionStore) guardStore(req.sessionStore, runtime.ended, false);
  if (sessionData(req)?.oidc?.login !== undefined && !context.isAuthenticated()) {
    // Past the absolute lifetime, or a record that does not open for this session: signed out.
    const login = context.storedLogin();
    const rest = { ...req.session!.oidc };
    delete rest.login;
    req.session!.oidc = rest;
    if (login)
      void runtime.index
        ?.remove({ sessionId: req.sessionID!, sub: login.sub, ...(login.sid !== undefined ? { sid: login.sid } : {}) })
        .catch(() => undefined);
  } else if (config.useExistingSession && context.isAuthenticated()) {
    capLifetime(req, config, loginEndsAt(context.storedLogin()!, config.session.absoluteDuration));
  }
  return context;
}

/** parseurl's fast path (its own pattern): `/path` and an optional `?query`, no blank and no `#`. */
const PLAIN_URL = /^\/[^?#\s]*(?:\?[^#\s]*)?$/;

/**
 * `req.path` without Express's getter: the getter parses the URL again, and under Express each
 * property read on `req` is a slow lookup (every request object has a hidden class of its own),
 * so this runs on every page view. For an origin-form URL without blanks or `#` (PLAIN_URL),
 * Express's parser (parseurl) splits at the first `?` and nothing more; any other URL takes
 * the getter, so the answer is always Express's.
 */
function pathOf(req: Request): string {
  const url = req.url;
  if (!PLAIN_URL.test(url)) return req.path;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/**
 * The one middleware layer of `auth()`: the session, then the request's context, then our routes
 * (for their paths) or the page guard of `authRequired` (not two router layers per request).
 */
export function requestLayer(runtime: LoginRuntime, sessions: RequestHandler | undefined, routes: SignInRoutes): RequestHandler {
  const guardPage = runtime.config.authRequired ? requiresAuth() : undefined;
  function oidcRequest(req: Request, res: Response, next: NextFunction): void {
    const context = attachContext(runtime, req, res);
    const pages = (err?: unknown): void => {
      if (err !== undefined && err !== null) {
        next(err);
        return;
      }
      // A signed-in user passes at once; everything else takes the full guard (login redirect, 401, 503).
      if (!guardPage || (context.sessionAvailable && context.isAuthenticated())) {
        next();
        return;
      }
      guardPage(req, res, next);
    };
    if (routes.mayHandle(pathOf(req))) {
      routes.router(req, res, pages);
      return;
    }
    pages();
  }
  return function oidc(req: Request, res: Response, next: NextFunction): void {
    if (!sessions) {
      oidcRequest(req, res, next);
      return;
    }
    sessions(req, res, (err?: unknown) => {
      if (err !== undefined && err !== null) next(err);
      else oidcRequest(req, res, next);
    });
  };
}
