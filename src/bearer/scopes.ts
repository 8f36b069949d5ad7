import { InsufficientScopeError, InvalidTokenError } from '../errors/index.js';
import type { BearerPayload } from './types.js';
import { claimIncludesAll, hasClaimValue, type ClaimValue } from '../claims.js';

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * The scopes of a token: the `scope` claim (space-separated, RFC 9068 §2.2.3 / RFC 8693 §4.2),
 * else the `scp` array, else the `permissions` array. Non-string members are ignored.
 */
export function scopesOf(payload: BearerPayload): string[] {
  const { scope, scp, permissions } = payload as Record<string, unknown>;
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s !== '');
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === 'string');
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s !== '');
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string');
  if (Array.isArray(permissions)) return permissions.filter((s): s is string => typeof s === 'string');
  return [];
}

/**
 * Normalises `requiredScopes('a', 'b')`, `requiredScopes('a b')` and `requiredScopes(['a', 'b'])`
 * into a list, checking each against the RFC 6749 §3.3 grammar. Throws a TypeError naming `what`.
 */
export function normaliseScopes(what: string, input: ReadonlyArray<string | readonly string[]>): string[] {
  const out: string[] = [];
  for (const item of input) {
    const parts = typeof item === 'string' ? item.split(' ') : Array.isArray(item) ? item : [item];
    for (const part of parts as unknown[]) {
      if (part === '') continue;
      if (typeof part !== 'string' || !SCOPE_TOKEN.test(part)) {
        throw new TypeError(`${what}: each scope must be a non-empty string of RFC 6749 scope characters.`);
      }
      if (!out.includes(part)) out.push(part);
    }
  }
  if (out.length === 0) throw new TypeError(`${what}: give at least one scope.`);
  return out;
}

/**
 * Throws `InsufficientScopeError` (403, RFC 6750 §3.1) unless the token has every one of
 * `required`; the challenge names them all.
 */
export function checkAllScopes(granted: readonly string[], required: readonly string[]): void {
  if (!required.every((s) => granted.includes(s))) {
    throw new InsufficientScopeError(required, 'the access token lacks a required scope');
  }
}

/** Throws `InsufficientScopeError` (403) unless the token has at least one of `accepted`. */
export function checkAnyScope(granted: readonly string[], accepted: readonly string[]): void {
  if (!accepted.some((s) => granted.includes(s))) {
    throw new InsufficientScopeError(accepted, 'the access token has none of the accepted scopes');
  }
}

export type { ClaimValue };

/** Throws `InvalidTokenError` (401) unless `payload[claim] === value`. */
export function checkClaimEquals(payload: BearerPayload, claim: string, value: ClaimValue): void {
  if (!hasClaimValue(payload, claim, value)) {
    throw new InvalidTokenError(`unexpected '${claim}' claim value`);
  }
}

/**
 * Throws `InvalidTokenError` (401) unless the claim (an array, or a space-separated string)
 * includes every one of `values`.
 */
export function checkClaimIncludes(payload: BearerPayload, claim: string, values: readonly ClaimValue[]): void {
  if (!claimIncludesAll(payload, claim, values)) {
    throw new InvalidTokenError(`unexpected '${claim}' claim value`);
  }
}

/**
 * Throws `InvalidTokenError` (401) with `description` unless `check(payload)` returns true. A
 * check that throws (say, on a claim of an unexpected type) counts as failed, so hostile claims
 * never turn into a 500.
 */
export function checkClaims(payload: BearerPayload, check: (payload: BearerPayload) => boolean, description: string): void {
  let ok: boolean;
  try {
    ok = check(payload) === true;
  } catch {
    ok = false;
  }
  if (!ok) throw new InvalidTokenError(description);
}
