import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, UnauthorizedError } from '../errors/index.js';
import { buildChallenge } from '../errors/www-authenticate.js';
import { asyncHandler } from '../util/async-handler.js';
import { describeCause, type Logger } from '../util/logger.js';
import { resolveBearerOptions } from './config.js';
import { DEFAULT_REALM } from './defaults.js';
import { extractBearerToken } from './extract.js';
import {
  checkAllScopes,
  checkAnyScope,
  checkClaimEquals,
  checkClaimIncludes,
  checkClaims,
  normaliseScopes,
  type ClaimValue,
} from './scopes.js';
import type { BearerErrorHandler, BearerOptions, BearerPayload } from './types.js';
import { verifierFor, type BearerVerifier } from './verifier.js';

/** How refused requests are answered; `requireBearer()` leaves its choice for the scope and claim checks. */
interface Responder {
  realm: string;
  errorHandler?: BearerErrorHandler;
  passErrors: boolean;
  logger?: Logger;
}

const responders = new WeakMap<Request, Responder>();
const DEFAULT_RESPONDER: Responder = { realm: DEFAULT_REALM, passErrors: false };

/**
 * Answers a refused request per RFC 6750 §3: the status, `WWW-Authenticate` (realm only when no
 * credentials were sent; `error`, `error_description` and, for `insufficient_scope`, `scope`
 * otherwise; none on a 503, which is no challenge), `Cache-Control: no-store` and the JSON body
 * `{ error, error_description }`. With `passErrors` the error goes to `next(err)` instead, and
 * with `errorHandler` to that.
 */
function refuse(err: AuthError, req: Request, res: Response, next: NextFunction, responder: Responder): void {
  if (err.status < 500) err.headers['WWW-Authenticate'] = buildChallenge(err, { realm: responder.realm });
  if (responder.logger) {
    const log = err.status >= 500 ? responder.logger.warn : responder.logger.debug;
    log.call(responder.logger, 'bearer request refused', { code: err.code, status: err.status, reason: err.description, ...describeCause(err.cause) });
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
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(err.toJSON()));
}

function rawQuery(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at + 1);
}

/** The middleware `requireBearer()` returns; `verifier` exposes its token checker (cache, JWKS fetch count). */
export type BearerMiddleware = RequestHandler & { readonly verifier: BearerVerifier };

/**
 * Protects routes with OAuth 2.0 Bearer tokens (RFC 6750): finds the token (header, or a form
 * body with `allowFormBody`; never the query), verifies it (a JWT against the issuer's JWKS per
 * RFC 9068, an opaque token by RFC 7662 introspection), and puts the result on `req.auth`.
 * Refused requests get the RFC 6750 §3 answer (see the options `passErrors` and `errorHandler`).
 *
 * Without options, reads `ISSUER_BASE_URL` and `AUDIENCE`. Options are checked here, once:
 * a bad one throws a TypeError naming it.
 *
 * @example
 * ```ts
 * app.use('/api', requireBearer({ issuerBaseURL: 'https://issuer.example', audience: 'https://api.example' }));
 * app.get('/api/me', (req, res) => res.json(req.auth?.payload));
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750
 * @see https://www.rfc-editor.org/rfc/rfc9068
 */
export function requireBearer(options?: BearerOptions): BearerMiddleware {
  const config = resolveBearerOptions(options);
  const verifier = verifierFor(config);
  const responder: Responder = {
    realm: config.realm,
    passErrors: config.passErrors,
    logger: config.logger,
    ...(config.errorHandler ? { errorHandler: config.errorHandler } : {}),
  };
  const handler = asyncHandler('requireBearer', async function requireBearer(req, res, next) {
    responders.set(req, responder);
    let token: string | undefined;
    try {
      token = extractBearerToken(
        { headers: req.headers, body: req.body as unknown, query: rawQuery(req), method: req.method },
        { allowFormBody: config.allowFormBody },
      );
      if (token === undefined) {
        if (!config.credentialsRequired) {
          delete req.auth;
        } else {
          throw new UnauthorizedError('no Bearer access token in the request');
        }
      } else {
        req.auth = await verifier.verify(token);
      }
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refuse(err, req, res, next, responder);
      return;
    }
    next();
  });
  return Object.assign(handler, { verifier });
}

/** Wraps a synchronous check of `req.auth` into a named middleware that answers like `requireBearer()`. */
function authCheck(name: string, check: (payload: BearerPayload, scopes: string[]) => void): RequestHandler {
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const responder = responders.get(req) ?? DEFAULT_RESPONDER;
    const auth = req.auth;
    try {
      if (!auth) throw new UnauthorizedError('no Bearer access token in the request');
      check(auth.payload, auth.scopes);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refuse(err, req, res, next, responder);
      return;
    }
    next();
  };
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}

/**
 * Requires every one of the scopes (`requiredScopes('read', 'write')`, `requiredScopes('read write')`
 * or `requiredScopes(['read', 'write'])`). Use after `requireBearer()`. Missing: 403
 * `insufficient_scope` with `scope="read write"` in the challenge; no `req.auth`: 401.
 *
 * @example
 * ```ts
 * app.get('/api/admin', requireBearer(), requiredScopes('admin'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requiredScopes(...scopes: Array<string | readonly string[]>): RequestHandler {
  const required = normaliseScopes('requiredScopes()', scopes);
  return authCheck('requiredScopes', (_payload, granted) => checkAllScopes(granted, required));
}

/**
 * Requires at least one of the scopes. Missing: 403 `insufficient_scope`, the challenge lists them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function scopeIncludesAny(...scopes: Array<string | readonly string[]>): RequestHandler {
  const accepted = normaliseScopes('scopeIncludesAny()', scopes);
  return authCheck('scopeIncludesAny', (_payload, granted) => checkAnyScope(granted, accepted));
}

function claimName(fn: string, claim: unknown): string {
  if (typeof claim !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(claim)) {
    throw new TypeError(`${fn}: "claim" must be a non-empty claim name of printable characters.`);
  }
  return claim;
}

function claimValue(fn: string, value: unknown): ClaimValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return value;
  }
  throw new TypeError(`${fn}: each value must be a string, a finite number, a boolean or null.`);
}

/**
 * Requires `payload[claim] === value`. Otherwise 401 `invalid_token` ("unexpected 'claim' claim value").
 *
 * @example
 * ```ts
 * app.get('/api/org', requireBearer(), claimEquals('org_id', 'acme'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimEquals(claim: string, value: ClaimValue): RequestHandler {
  const name = claimName('claimEquals()', claim);
  const expected = claimValue('claimEquals()', value);
  return authCheck('claimEquals', (payload) => checkClaimEquals(payload, name, expected));
}

/**
 * Requires the claim (an array, or a space-separated string) to include every one of `values`.
 * Otherwise 401 `invalid_token`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimIncludes(claim: string, ...values: ClaimValue[]): RequestHandler {
  const name = claimName('claimIncludes()', claim);
  if (values.length === 0) throw new TypeError('claimIncludes(): give at least one value.');
  const expected = values.map((v) => claimValue('claimIncludes()', v));
  return authCheck('claimIncludes', (payload) => checkClaimIncludes(payload, name, expected));
}

/**
 * Requires `check(payload)` to return true (a check that throws counts as false). Otherwise 401
 * `invalid_token` with `description` (a fixed text; default "token claims check failed").
 *
 * @example
 * ```ts
 * app.get('/api/beta', requireBearer(), claimCheck((p) => p.beta === true, 'beta access required'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimCheck(check: (payload: BearerPayload) => boolean, description = 'token claims check failed'): RequestHandler {
  if (typeof check !== 'function') throw new TypeError('claimCheck(): "check" must be a function.');
  if (typeof description !== 'string' || description === '') throw new TypeError('claimCheck(): "description" must be a non-empty string.');
  return authCheck('claimCheck', (payload) => checkClaims(payload, check, description));
}
