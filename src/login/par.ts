import { isPlainObject } from '../config/assert.js';
import { AuthorizationResponseError, IssuerResponseError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { applyClientAuth, type ClientAuth } from './client-auth.js';
import { backChannelFetch, endpointFor } from './mtls.js';
import { backChannelError } from './token-endpoint.js';

/** Error codes of a refused push that say the authorization request itself was refused (RFC 9126 §2.3, RFC 6749 §4.1.2.1). */
const REQUEST_REFUSED: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_scope',
  'invalid_target',
  'invalid_request_object',
  'unauthorized_client',
  'unsupported_response_type',
  'access_denied',
]);

/** The answer of the PAR endpoint (RFC 9126 §2.2). */
export interface PushedAuthorizationResponse {
  requestUri: string;
  expiresIn: number;
}

/**
 * Pushes the authorization parameters to the issuer's `pushed_authorization_request_endpoint`
 * (RFC 9126 §2.1) with client authentication (assertions addressed to the issuer identifier,
 * RFC 9126 §2; over mutual TLS to its mTLS alias with a TLS identity, RFC 8705 §5), and checks the answer (§2.2): HTTP 201 with a `request_uri` and `expires_in`.
 *
 * - a 400 refusing the request (`invalid_request`, `invalid_scope`, ...) → 400 page
 *   (`AuthorizationResponseError`, the issuer's code shown as a short word);
 * - `invalid_client` (401), any other status or a malformed answer → `IssuerResponseError` (502);
 * - unreachable → 503, no answer in time → 502.
 *
 * `params` holds every authorization parameter but `client_id` (added here); repeated
 * parameters (several `resource`) are not supported without a request object.
 */
export async function pushedAuthorizationRequest(
  metadata: IssuerMetadata,
  client: ClientAuth,
  params: Record<string, string>,
  timeoutMs: number,
): Promise<PushedAuthorizationResponse> {
  const endpoint = endpointFor(metadata, 'pushed_authorization_request_endpoint', client.tls);
  if (!endpoint) throw new IssuerResponseError('The authorization server has no pushed authorization request endpoint.');
  const form: Record<string, string> = { ...params, client_id: client.clientID };
  const headers: Record<string, string> = {};
  await applyClientAuth(client, metadata.issuer, form, headers);
  let res;
  try {
    res = await backChannelFetch(endpoint, { method: 'POST', form, headers, timeoutMs }, client);
  } catch (err) {
    throw backChannelError(err, 'pushed authorization request');
  }
  const body = res.body;
  if (res.status !== 201) {
    const code = isPlainObject(body) && typeof body.error === 'string' ? body.error.replace(/[^\w.-]/g, '').slice(0, 64) : undefined;
    const cause = new Error(`PAR endpoint answered HTTP ${res.status}${code ? ` ${code}` : ''}`);
    if (res.status === 400 && code !== undefined && REQUEST_REFUSED.has(code)) {
      throw new AuthorizationResponseError('invalid_request', `The authorization server refused the sign-in request (${code}).`, { cause });
    }
    throw new IssuerResponseError('The authorization server refused the pushed authorization request.', { cause });
  }
  if (!isPlainObject(body) || typeof body.request_uri !== 'string' || body.request_uri.length === 0 || body.request_uri.length > 2048) {
    throw new IssuerResponseError('The pushed authorization response has no valid request_uri.');
  }
  if (typeof body.expires_in !== 'number' || !Number.isFinite(body.expires_in) || body.expires_in <= 0) {
    throw new IssuerResponseError('The pushed authorization response has no valid expires_in.');
  }
  return { requestUri: body.request_uri, expiresIn: body.expires_in };
}
