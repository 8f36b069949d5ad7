import { type AuthError, InsufficientScopeError } from './index.js';

/** Quotes a value for an RFC 7235 auth-param: backslash-escape `"` and `\`, drop control characters. */
function quote(value: string): string {
  // RFC 6750 §3 limits error_description and scope to %x20-21 / %x23-5B / %x5D-7E; anything
  // else is dropped so an attacker-chosen value can never split or forge a header.
  const clean = value.replace(/[^\x20-\x7e]/g, '');
  return `"${clean.replace(/["\\]/g, '')}"`;
}

export interface ChallengeOptions {
  /** The `realm` attribute; omitted when undefined. */
  realm?: string;
  /** The scheme: `Bearer` (RFC 6750) or `DPoP` (RFC 9449). */
  scheme?: 'Bearer' | 'DPoP';
  /** DPoP `algs` attribute (RFC 9449 §7.1). */
  algs?: readonly string[];
}

/**
 * Builds the `WWW-Authenticate` challenge for an error, per RFC 6750 §3:
 * - no credentials (`unauthorized`): only the realm, no error code (§3.1 last paragraph);
 * - `insufficient_scope`: adds `scope` with the scopes the resource requires;
 * - other errors: `error` and `error_description`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function buildChallenge(err: AuthError, options: ChallengeOptions = {}): string {
  const scheme = options.scheme ?? 'Bearer';
  const params: string[] = [];
  if (options.realm !== undefined) params.push(`realm=${quote(options.realm)}`);
  if (err.code !== 'unauthorized' && err.status < 500) {
    params.push(`error=${quote(err.code)}`);
    params.push(`error_description=${quote(err.description)}`);
    if (err instanceof InsufficientScopeError && err.scopes.length > 0) {
      params.push(`scope=${quote(err.scopes.join(' '))}`);
    }
  }
  if (options.algs && options.algs.length > 0) params.push(`algs=${quote(options.algs.join(' '))}`);
  return params.length > 0 ? `${scheme} ${params.join(', ')}` : scheme;
}
