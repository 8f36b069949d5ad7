import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { InvalidRequestError, sessionStoreUnavailable } from '../../errors/index.js';
import { asyncHandler } from '../../util/async-handler.js';
import { noStore } from '../../util/no-store.js';
import { RequestContext } from '../context.js';
import { handleError } from '../handle-error.js';
import type { LoginRuntime } from '../runtime.js';

/**
 * A sign-in route. Our routes answer their own errors (renderError or the app's errorHandler): an
 * error-handling middleware on the router would also catch errors of the app's middleware
 * mounted before it.
 */
export function route(runtime: LoginRuntime, name: string, fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return asyncHandler(name, async (req, res, next) => {
    try {
      await fn(req, res);
    } catch (err) {
      handleError(runtime, err, req, res, next);
    }
  });
}

/**
 * The form body of a POST route (form_post responses, logout, logout tokens), size-capped. A
 * body that does not parse is a 400: as JSON for a machine caller (`answer: 'json'`, the
 * back-channel), else as the route's own error page.
 */
export function formBody(runtime: LoginRuntime, answer: 'json' | 'page' = 'page'): RequestHandler {
  const parse = express.urlencoded({ extended: false, limit: LOGIN_DEFAULTS.formBodyLimit, parameterLimit: 50 });
  return (req: Request, res: Response, next: NextFunction): void => {
    parse(req, res, (err?: unknown) => {
      if (err === undefined || err === null) return next();
      const refused = new InvalidRequestError('The form body is invalid or too large.', { cause: err });
      if (answer === 'json') {
        noStore(res);
        res.status(400).json(refused.toJSON());
        return;
      }
      handleError(runtime, refused, req, res, next);
    });
  };
}

/** Throws the 503 when the session store failed for this request (the route cannot work without it). */
export function needSession(req: Request): void {
  const context = RequestContext.from(req.oidc);
  if (!context?.sessionAvailable) throw sessionStoreUnavailable(context?.sessionError);
}
