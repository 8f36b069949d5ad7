/**
 * The guard's synchronous step, run for every request: find the token (RFC 6750 §2, RFC 9449
 * §7.1) and accept a repeated Bearer token from the verified-token cache; anything else goes on
 * to `verifyAndBind()`.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, InvalidTokenError, UnauthorizedError } from '../errors/index.js';
import { verifyAndBind } from './bind.js';
import { checkTokenCharacters, extractForGuard, type PresentedToken } from './extract.js';
import type { GuardRuntime } from './guard-runtime.js';
import { refuse, requestStates } from './refuse.js';
import { rawQuery } from './request-parts.js';
import type { BearerAuth } from './types.js';

/**
 * The middleware of one guard. Not asyncHandler: a repeated Bearer token is answered from the
 * verified-token cache here, synchronously, without the promise hops of an async middleware,
 * which under HTTP load cost more than the lookup itself. Everything else goes on in
 * verifyAndBind(), whose rejections reach next(err) as asyncHandler's would (Express 4 and 5
 * alike). What the hot path reads is taken out of the runtime once, into this closure.
 *
 * Three ways through: a cached Bearer token without `cnf` is accepted at once (`hit` is the
 * cache's own copy); a first-seen Bearer token that is a plain JWT whose signature is checked
 * inline is verified and cached right here and, without `cnf`, answered in this tick as a cache
 * hit is (no promise, no async step, no WeakMap entry: its result carries this guard's state on
 * its prototype, as the cache's copies do); everything else, and any token with `cnf` (its DPoP
 * or certificate binding), goes on to verifyAndBind().
 *
 * `req.headers` is a getter (Node builds the object on first use), so it is read once; `req.body`
 * and `req.method` only when a form-body token is accepted (nothing else reads them): without a
 * body parser `req.body` is a lookup through the whole prototype chain of `req`. The header
 * token's characters are checked after the cache lookup, and only for a token not found there.
 */
export function guardHandler(runtime: GuardRuntime): RequestHandler {
  const { verifier, noCredentials, noCredentialsText, bearerState, dpopState, extractOptions, setAuth } = runtime;
  const { allowFormBody, credentialsRequired, maxTokenLength, dpop } = runtime.config;
  // Fresh results carry the guard's state only with a cache (`cache: false`: see verifierFor()).
  const cached = verifier.cache !== undefined;
  return function requireBearer(req: Request, res: Response, next: NextFunction): void {
    let state = noCredentials;
    let presented: PresentedToken | undefined;
    let looked = false;
    let hit: BearerAuth | undefined;
    let key: string | undefined;
    /** The check of a first-seen token, when it did not end in this tick (threadpool, jose, introspection). */
    let pending: Promise<BearerAuth> | undefined;
    /** Whether `req.auth` was set here from a result carrying this guard's state (see stateOf()). */
    let carried = false;
    let headers: Request['headers'] | undefined;
    let extracted = false;
    try {
      // Read once (a getter); `req.body`/`req.method` only for a form-body token (see above).
      headers = req.headers;
      const form = allowFormBody;
      presented = extractForGuard(
        { headers, body: form ? (req.body as unknown) : undefined, query: rawQuery(req), method: form ? req.method : undefined },
        extractOptions,
      );
      extracted = true;
      if (presented === undefined) {
        state = noCredentials;
        if (credentialsRequired) throw new UnauthorizedError(noCredentialsText);
        delete req.auth;
      } else {
        state = presented.scheme === 'DPoP' || dpop.mode === 'required' ? dpopState : bearerState;
        if (presented.scheme === 'Bearer' && dpop.mode !== 'required') {
          looked = true;
          // Hashed once: on a miss the same key inserts the verified token.
          key = verifier.cacheKey(presented.token);
          hit = key === undefined ? undefined : verifier.cached(presented.token, key);
          // Fast path: a cached token without `cnf` has no binding to check (confirmationOf() is `{}`).
          if (hit !== undefined && hit.payload.cnf === undefined) {
            hit.scheme = 'Bearer';
            setAuth(req, hit);
            presented = undefined;
            carried = true;
          }
        }
        if (presented !== undefined) {
          // Any token not accepted from the cache: its characters are checked before anything
          // else refuses it, so a malformed one gets the same 400 as from extractAccessToken().
          // (A cached token passed this check when it was verified: its SHA-256 matched.)
          checkTokenCharacters(presented.token, maxTokenLength);
          if (presented.scheme === 'Bearer' && dpop.mode === 'required')
            throw new InvalidTokenError('the Bearer scheme is not accepted; use DPoP');
          if (looked && hit === undefined) {
            // A first-seen Bearer token (see "Three ways through" above).
            const begun = verifier.beginUncached(presented.token, key);
            if (begun instanceof Promise) pending = begun;
            else if (begun.payload.cnf !== undefined) hit = begun;
            else {
              begun.scheme = 'Bearer';
              setAuth(req, begun);
              presented = undefined;
              carried = cached;
            }
          }
        }
      }
    } catch (err) {
      refuseEarly(runtime, err, req, res, next, state, extracted ? undefined : headers);
      return;
    }
    // No credentials (and none required), or accepted above: from the cache (`hit`), or verified
    // inline; a result from the cache's constructor carries the state (see stateOf()).
    if (presented === undefined) {
      if (!carried) requestStates.set(req, state);
      next();
      return;
    }
    verifyAndBind(runtime, { req, res, next, presented, state, looked, hit, key, pending }).catch(next);
  };
}

/**
 * A request refused before verification. A malformed one (`headers` given: nothing was
 * extracted) is answered in the scheme it tried, Bearer unless it said DPoP; worked out here, as
 * no other request needs it.
 */
function refuseEarly(
  runtime: GuardRuntime,
  err: unknown,
  req: Request,
  res: Response,
  next: NextFunction,
  state: GuardRuntime['noCredentials'],
  headers: Request['headers'] | undefined,
): void {
  if (headers !== undefined) {
    const { dpop } = runtime.config;
    const said = /^\s*dpop(\s|$)/i.test(String(headers.authorization ?? '')) && dpop.mode !== 'disabled';
    state = said || dpop.mode === 'required' ? runtime.dpopState : runtime.bearerState;
  }
  requestStates.set(req, state);
  if (!(err instanceof AuthError)) {
    next(err);
    return;
  }
  refuse(err, req, res, next, state);
}
