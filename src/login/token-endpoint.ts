import { isPlainObject } from '../config/assert.js';
import { InvalidGrantError, IssuerResponseError, ServiceUnavailableError, type AuthError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { HttpError } from '../issuer/http.js';
import { backChannelFetch, endpointFor } from './mtls.js';
import { applyClientAuth, type ClientAuth } from './client-auth.js';
import { createDpopProof, type ReceivedDpopNonces, type DpopPrivateJwk } from './dpop.js';

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
    if (err.kind === 'timeout')
      return new IssuerResponseError(`The authorization server did not answer the ${what} in time.`, { cause: err });
    return new IssuerResponseError(`The authorization server gave an invalid answer to the ${what}.`, { cause: err });
  }
  return new IssuerResponseError(`The ${what} failed.`, { cause: err });
}

/** What a token request may add besides the grant. */
export interface TokenRequestExtras {
  /** `tokenEndpointParams`: extra form parameters (checked at start-up). */
  params?: Record<string, string>;
  /** DPoP (RFC 9449 §5): the session's key, and the nonces seen so far. */
  dpop?: { key: DpopPrivateJwk; nonces: ReceivedDpopNonces };
}

/**
 * Sends a token request (RFC 6749 §4.1.3 code grant, §6 refresh grant) with client
 * authentication, and checks the answer (RFC 6749 §5.1/§5.2):
 * - `invalid_grant` → `InvalidGrantError` (400): the code or refresh token is refused (so is a
 *   refresh answered 400 with no error code, as Glewlwyd 2.7 does);
 * - any other error, a non-JSON or malformed body, a redirect → `IssuerResponseError` (502);
 * - no answer in time → 502, unreachable → `ServiceUnavailableError` (503);
 * - `token_type` must be `Bearer` (case-insensitive, RFC 6749 §7.1, RFC 6750 §4), or `DPoP`
 *   when a DPoP proof was sent (RFC 9449 §5).
 *
 * With a TLS identity (RFC 8705) the request goes over mutual TLS to the issuer's
 * `mtls_endpoint_aliases.token_endpoint` when it has one (§5).
 *
 * With `extras.dpop` each attempt carries a fresh DPoP proof (RFC 9449 §5); an
 * `use_dpop_nonce` error (RFC 9449 §8) is retried once with the server's `DPoP-Nonce`.
 *
 * Does not check the ID token: that is `validateIdToken`.
 */
export async function tokenRequest(
  metadata: IssuerMetadata,
  client: ClientAuth,
  grant: Record<string, string>,
  timeoutMs: number,
  extras: TokenRequestExtras = {},
): Promise<TokenEndpointResponse> {
  const audience = metadata.token_endpoint;
  const endpoint = endpointFor(metadata, 'token_endpoint', client.tls);
  if (!audience || !endpoint) throw new IssuerResponseError('The authorization server has no token endpoint.');
  const dpop = extras.dpop;
  const send = async (nonce: string | undefined) => {
    const form: Record<string, string> = { ...extras.params, ...grant };
    const headers: Record<string, string> = {};
    await applyClientAuth(client, audience, form, headers);
    if (dpop) headers.dpop = await createDpopProof(dpop.key, { method: 'POST', url: endpoint, ...(nonce !== undefined ? { nonce } : {}) });
    let answer;
    try {
      answer = await backChannelFetch(endpoint, { method: 'POST', form, headers, timeoutMs }, client);
    } catch (err) {
      throw backChannelError(err, 'token request');
    }
    const fresh = dpop?.nonces.remember(endpoint, answer.headers);
    return { answer, fresh };
  };
  let { answer: res, fresh } = await send(dpop?.nonces.get(endpoint));
  if (dpop && res.status === 400 && isPlainObject(res.body) && res.body.error === 'use_dpop_nonce' && fresh !== undefined) {
    ({ answer: res } = await send(fresh));
  }
  const body = res.body;
  if (res.status !== 200) {
    const code = isPlainObject(body) && typeof body.error === 'string' ? body.error : undefined;
    // A refresh refused with 400 and no error code at all (Glewlwyd 2.7, for a revoked refresh
    // token) can only mean the grant is gone: sign in again rather than blame the issuer.
    const refusedRefresh = res.status === 400 && code === undefined && grant.grant_type === 'refresh_token';
    if ((res.status === 400 && code === 'invalid_grant') || refusedRefresh) {
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
  const tokenType = typeof body.token_type === 'string' ? body.token_type.toLowerCase() : undefined;
  if (tokenType !== 'bearer' && !(tokenType === 'dpop' && dpop)) {
    throw new IssuerResponseError('The token response has an unsupported token type.');
  }
  for (const name of ['id_token', 'refresh_token', 'scope'] as const) {
    if (body[name] !== undefined && typeof body[name] !== 'string')
      throw new IssuerResponseError(`The token response has an invalid ${name}.`);
  }
  if (body.expires_in !== undefined && (typeof body.expires_in !== 'number' || !Number.isFinite(body.expires_in) || body.expires_in < 0)) {
    throw new IssuerResponseError('The token response has an invalid expires_in.');
  }
  return {
    access_token: body.access_token,
    token_type: tokenType === 'dpop' ? 'DPoP' : 'Bearer',
    ...(typeof body.id_token === 'string' ? { id_token: body.id_token } : {}),
    ...(typeof body.refresh_token === 'string' ? { refresh_token: body.refresh_token } : {}),
    ...(typeof body.expires_in === 'number' ? { expires_in: body.expires_in } : {}),
    ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
  };
}
