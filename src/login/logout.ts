import type { IssuerMetadata } from '../issuer/discovery.js';
import { backChannelFetch, endpointFor } from './mtls.js';
import { applyClientAuth, type ClientAuth } from './client-auth.js';

/**
 * The RP-Initiated Logout request (OpenID Connect RP-Initiated Logout 1.0 §2): the issuer's
 * `end_session_endpoint` with `id_token_hint`, `post_logout_redirect_uri` and `client_id`.
 * Returns `undefined` when the issuer has no such endpoint.
 */
export function endSessionUrl(
  metadata: IssuerMetadata,
  input: { clientID: string; idToken?: string; postLogoutRedirectUri: string },
): URL | undefined {
  if (!metadata.end_session_endpoint) return undefined;
  const url = new URL(metadata.end_session_endpoint);
  if (input.idToken) url.searchParams.set('id_token_hint', input.idToken);
  url.searchParams.set('post_logout_redirect_uri', input.postLogoutRedirectUri);
  url.searchParams.set('client_id', input.clientID);
  return url;
}

/**
 * Revokes a refresh token (RFC 7009 §2.1) with client authentication (over mutual TLS to the
 * mTLS alias with a TLS identity, RFC 8705 §5). Best effort: returns
 * whether the issuer answered 200; never throws (a failed revocation must not block a logout).
 */
export async function revokeToken(
  metadata: IssuerMetadata,
  client: ClientAuth,
  token: string,
  timeoutMs: number,
): Promise<boolean> {
  const endpoint = endpointFor(metadata, 'revocation_endpoint', client.tls);
  if (!metadata.revocation_endpoint || !endpoint) return false;
  try {
    const form: Record<string, string> = { token, token_type_hint: 'refresh_token' };
    const headers: Record<string, string> = {};
    await applyClientAuth(client, metadata.revocation_endpoint, form, headers);
    const res = await backChannelFetch(endpoint, { method: 'POST', form, headers, timeoutMs }, client.tls);
    return res.status === 200;
  } catch {
    return false;
  }
}
