/**
 * How the guard answers a refused request (RFC 6750 §3, RFC 9449 §7.1), and the per-request
 * state the scope and claim checks after it answer with.
 */
import type { NextFunction, Request, Response } from 'express';
import type { AuthError } from '../errors/index.js';
import { buildChallenge } from '../errors/www-authenticate.js';
import { describeCause, type Logger } from '../util/logger.js';
import { noStore } from '../util/no-store.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';
import type { BearerErrorHandler } from './types.js';

export type Scheme = 'Bearer' | 'DPoP';

/** How refused requests are answered; `requireBearer()` leaves its choice for the scope and claim checks. */
export interface Responder {
  realm: string;
  errorHandler?: BearerErrorHandler;
  passErrors: boolean;
  logger?: Logger;
  /** The DPoP `algs` challenge attribute (RFC 9449 §7.1). */
  dpopAlgorithms?: readonly string[];
}

/** The responder of a request, and the schemes its challenges name. */
export interface RequestState {
  responder: Responder;
  schemes: readonly Scheme[];
}

/** Each request's state, for the checks after the guard (a cache hit carries it on `req.auth` instead: see `ACCEPTED_STATE`). */
export const requestStates = new WeakMap<Request, RequestState>();
const DEFAULT_STATE: RequestState = { responder: { realm: BEARER_DEFAULTS.realm, passErrors: false }, schemes: ['Bearer'] };
/**
 * Where a result from a guard's verified-token cache carries that guard's state: on its
 * prototype (see `VerifiedTokenCacheOptions.resultPrototype`), so a cache hit, the hot path,
 * stores nothing per request. Not an own member, so it is not seen in `req.auth`.
 */
export const ACCEPTED_STATE = Symbol('requireBearer state');

/** The state the scope and claim checks answer with: the guard's that set `req.auth`, else the last guard's record for this request. */
export function stateOf(req: Request): RequestState {
  const auth = req.auth as { [ACCEPTED_STATE]?: RequestState } | undefined;
  return auth?.[ACCEPTED_STATE] ?? requestStates.get(req) ?? DEFAULT_STATE;
}

/**
 * Answers a refused request per RFC 6750 §3 and RFC 9449 §7.1: the status, one
 * `WWW-Authenticate` value per scheme (realm only when no credentials were sent; `error`,
 * `error_description` and, for `insufficient_scope`, `scope` otherwise; `algs` for DPoP; none on
 * a 5xx, which is no challenge), `Cache-Control: no-store` and the JSON body
 * `{ error, error_description }`. `err.headers['WWW-Authenticate']` holds the challenges joined
 * by `, ` (RFC 9110 §11.6.1). With `passErrors` the error goes to `next(err)` instead, and with
 * `errorHandler` to that.
 */
export function refuse(err: AuthError, req: Request, res: Response, next: NextFunction, state: RequestState): void {
  const { responder } = state;
  let challenges: string[] = [];
  if (err.status < 500) {
    challenges = state.schemes.map((scheme) =>
      buildChallenge(err, {
        realm: responder.realm,
        scheme,
        ...(scheme === 'DPoP' && responder.dpopAlgorithms ? { algs: responder.dpopAlgorithms } : {}),
      }),
    );
    err.headers['WWW-Authenticate'] = challenges.join(', ');
  }
  if (responder.logger) {
    const log = err.status >= 500 ? responder.logger.warn : responder.logger.debug;
    log.call(responder.logger, 'bearer request refused', {
      code: err.code,
      status: err.status,
      reason: err.description,
      ...describeCause(err.cause),
    });
  }
  if (responder.passErrors) {
    next(err);
    return;
  }
  if (responder.errorHandler) {
    responder.errorHandler(err, req, res, next);
    return;
  }
  if (res.headersSent) {
    next(err);
    return;
  }
  res.statusCode = err.status;
  for (const [name, value] of Object.entries(err.headers)) {
    res.setHeader(name, name === 'WWW-Authenticate' && challenges.length > 1 ? challenges : value);
  }
  noStore(res);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(err.toJSON()));
}
