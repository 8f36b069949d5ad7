/** The scope and claim checks that follow `requireBearer()`: named middleware over `req.auth` that answer as the guard does. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, UnauthorizedError } from '../errors/index.js';
import { refuse, stateOf } from './refuse.js';
import {
  checkAllScopes,
  checkAnyScope,
  checkClaimEquals,
  checkClaimIncludes,
  checkClaims,
  normaliseScopes,
  type ClaimValue,
} from './scopes.js';
import type { BearerPayload } from './types.js';
import { isClaimValue } from '../claims.js';

/** Wraps a synchronous check of `req.auth` into a named middleware that answers like `requireBearer()`. */
function authCheck(name: string, check: (payload: BearerPayload, scopes: string[]) => void): RequestHandler {
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const state = stateOf(req);
    const auth = req.auth;
    try {
      if (!auth) throw new UnauthorizedError('no Bearer access token in the request');
      check(auth.payload, auth.scopes);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refuse(err, req, res, next, state);
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
  if (isClaimValue(value)) return value;
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
