import type { IssuerMetadata } from '../issuer/discovery.js';
import { backChannelFetch, endpointFor } from './mtls.js';
import { applyClientAuth, type ClientAuth } from './client-auth.js';

/** What `res.oidc.logout()` takes (express-openid-connect's `LogoutOptions`). */
export interface LogoutOptions {
  /**
   * Where the browser ends up: a same-origin path (anything else is ignored). With logout at the
   * issuer it becomes the `post_logout_redirect_uri` (`baseURL`'s origin + the path), which must
   * be registered there; otherwise the browser is redirected to it.
   */
  returnTo?: string;
  /** More parameters of the end-session request, over the `logoutParams` option. */
  logoutParams?: Record<string, string>;
}

/** Parameters the end-session request sets itself (RP-Initiated Logout 1.0 §2). */
export const RESERVED_LOGOUT_PARAMS: ReadonlySet<string> = new Set(['id_token_hint', 'post_logout_redirect_uri', 'client_id']);

/**
 * Checks extra end-session parameters (`logoutParams`): strings, none of the reserved ones.
 * @throws TypeError naming the parameter.
 */
export function checkLogoutParams(path: string, value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TypeError(`${path} must be an object of string parameters`);
  const params: Record<string, string> = {};
  for (const [name, param] of Object.entries(value)) {
    if (param === undefined) continue;
    if (RESERVED_LOGOUT_PARAMS.has(name)) throw new TypeError(`${path}.${name} must be left unset: the logout request sets it`);
    if (typeof param !== 'string') throw new TypeError(`${path}.${name} must be a string`);
    params[name] = param;
  }
  return params;
}

/**
 * The RP-Initiated Logout request (OpenID Connect RP-Initiated Logout 1.0 §2): the issuer's
 * `end_session_endpoint` with `id_token_hint`, `post_logout_redirect_uri` and `client_id`, and
 * the app's extra `params` (checked with `checkLogoutParams`).
 * Returns `undefined` when the issuer has no such endpoint.
 */
export function endSessionUrl(
  metadata: IssuerMetadata,
  input: { clientID: string; idToken?: string; postLogoutRedirectUri: string; params?: Record<string, string> },
): URL | undefined {
  if (!metadata.end_session_endpoint) return undefined;
  const url = new URL(metadata.end_session_endpoint);
  for (const [name, value] of Object.entries(input.params ?? {})) url.searchParams.set(name, value);
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
export async function revokeToken(metadata: IssuerMetadata, client: ClientAuth, token: string, timeoutMs: number): Promise<boolean> {
  const endpoint = endpointFor(metadata, 'revocation_endpoint', client.tls);
  if (!metadata.revocation_endpoint || !endpoint) return false;
  try {
    const form: Record<string, string> = { token, token_type_hint: 'refresh_token' };
    const headers: Record<string, string> = {};
    await applyClientAuth(client, metadata.revocation_endpoint, form, headers);
    const res = await backChannelFetch(endpoint, { method: 'POST', form, headers, timeoutMs }, client);
    return res.status === 200;
  } catch {
    return false;
  }
}
