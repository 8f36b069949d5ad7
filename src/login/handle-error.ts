import type { NextFunction, Request, Response } from 'express';
import { AuthError, isAuthError } from '../errors/index.js';
import { renderError } from '../errors/render.js';
import { describeCause } from '../util/logger.js';
import type { LoginRuntime } from './runtime.js';

/**
 * Answers an error of a sign-in route: the app's `errorHandler` when it set one, else
 * `renderError` (short page or JSON, no stack trace). 5xx causes are logged (names and codes only).
 * An error that is not ours becomes a plain 500 page.
 */
export function handleError(runtime: LoginRuntime, err: unknown, req: Request, res: Response, next: NextFunction): void {
  const { logger, errorHandler } = runtime.config;
  const known = isAuthError(err) ? err : new AuthError('server_error', 500, 'Something went wrong while signing you in.', { cause: err });
  if (known.status >= 500)
    logger.error('sign-in request failed', {
      status: known.status,
      code: known.code,
      path: req.path,
      ...describeCause(known.cause ?? err),
    });
  else
    logger.debug('sign-in request refused', {
      status: known.status,
      code: known.code,
      path: req.path,
      ...describeCause(known.cause ?? known),
    });
  if (errorHandler) {
    errorHandler(known, req, res, next);
    return;
  }
  renderError(req, res, known, loginRoute(runtime));
}

/** The login route's path under `baseURL`, for the error page's "Log in again" (none when it is off). */
function loginRoute(runtime: LoginRuntime): { loginPath?: string } {
  const { routes, baseURL } = runtime.config;
  if (routes.login === false) return {};
  return { loginPath: `${new URL(baseURL).pathname.replace(/\/+$/, '')}${routes.login}` };
}
