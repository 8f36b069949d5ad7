import { isPlainObject } from '../config/assert.js';
import { InvalidGrantError, IssuerResponseError, ServiceUnavailableError, type AuthError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { HttpError, fetchJson } from '../issuer/http.js';
import { applyClientAuth, type ClientAuth } from './client-auth.js';

/** A successful token response (RFC 6749 §5.1), checked. */
export interface TokenEndpointResponse {
  access_token: string;
  token_type: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string;
}

/** Maps a back-channel failure to what the user gets: 503 when unreachable, 502 when slow or wrong. */
export function backChannelError(err: unknown, what: string): AuthError {
  if (err instanceof HttpError) {
    if (err.kind === 'network') return new ServiceUnavailableError('The authorization server cannot be reached.', { cause: err });
    if (err.kind === 'timeout') return new IssuerResponseError(`The authorization server did not answer the ${what} in time.`, { cause: err });
    return new IssuerResponseError(`The authorization server gave an invalid answer to the ${what}.`, { cause: err });
  }
  return new IssuerResponseError(`The ${what} failed.`, { cause: err });
}

/**
 * Sends a token request (RFC 6749 §4.1.3 code grant, §6 refresh grant) with client
 * authentication, and checks the answer (RFC 6749 §5.1/§5.2):
 * - `invalid_grant` → `InvalidGrantError` (400): the code or refresh token is refused;
 * - any other error, a non-JSON or malformed body, a redirect → `IssuerResponseError` (502);
 * - no answer in time → 502, unreachable → `ServiceUnavailableError` (503);
 * - `token_type` must be `Bearer` (case-insensitive, RFC 6749 §7.1, RFC 6750 §4).
 *
 * Does not check the ID token: that is `validateIdToken`.
 */
export async function tokenRequest(
  metadata: IssuerMetadata,
  client: ClientAuth,
  grant: Record<string, string>,
  timeoutMs: number,
): Promise<TokenEndpointResponse> {
  if (!metadata.token_endpoint) throw new IssuerResponseError('The authorization server has no token endpoint.');
  const form: Record<string, string> = { ...grant };
  const headers: Record<string, string> = {};
  await applyClientAuth(client, metadata.token_endpoint, form, headers);
  let res;
  try {
    res = await fetchJson(metadata.token_endpoint, { method: 'POST', form, headers, timeoutMs });
  } catch (err) {
    throw backChannelError(err, 'token request');
  }
  const body = res.body;
  if (res.status !== 200) {
    const code = isPlainObject(body) && typeof body.error === 'string' ? body.error : undefined;
    if (res.status === 400 && code === 'invalid_grant') {
      throw new InvalidGrantError('The authorization server refused the grant (invalid_grant).');
    }
    throw new IssuerResponseError('The authorization server refused the token request.', {
      cause: new Error(`token endpoint answered HTTP ${res.status}${code ? ` ${code.replace(/[^\w.-]/g, '').slice(0, 64)}` : ''}`),
    });
  }
  if (!isPlainObject(body)) throw new IssuerResponseError('The token response is not a JSON object.');
  if (typeof body.access_token !== 'string' || body.access_token.length === 0) {
    throw new IssuerResponseError('The token response has no access token.');
  }
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer') {
    throw new IssuerResponseError('The token response has an unsupported token type.');
  }
  for (const name of ['id_token', 'refresh_token', 'scope'] as const) {
    if (body[name] !== undefined && typeof body[name] !== 'string') throw new IssuerResponseError(`The token response has an invalid ${name}.`);
  }
  if (body.expires_in !== undefined && (typeof body.expires_in !== 'number' || !Number.isFinite(body.expires_in) || body.expires_in < 0)) {
    throw new IssuerResponseError('The token response has an invalid expires_in.');
  }
  return {
    access_token: body.access_token,
    token_type: 'Bearer',
    ...(typeof body.id_token === 'string' ? { id_token: body.id_token } : {}),
    ...(typeof body.refresh_token === 'string' ? { refresh_token: body.refresh_token } : {}),
    ...(typeof body.expires_in === 'number' ? { expires_in: body.expires_in } : {}),
    ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
  };
}
