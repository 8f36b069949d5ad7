import { isPlainObject } from '../config/assert.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { fetchJson, type HttpRequest, type HttpResponse, type Transport } from '../issuer/http.js';
import { nodeRequestJson, type TlsIdentity } from '../issuer/node-request.js';
import { proxyFor } from '../issuer/proxy.js';

export type { TlsIdentity } from '../issuer/node-request.js';

/**
 * Mutual-TLS for the back channel (RFC 8705): the client's certificate and key, presented on every
 * request to the issuer's token, PAR, revocation and UserInfo endpoints, for `tls_client_auth` /
 * `self_signed_tls_client_auth` (§2) and certificate-bound access tokens (§3).
 *
 * A WHATWG `fetch` cannot present a client certificate, so these requests go through `node:https`
 * (`issuer/node-request.ts`, through the environment's proxy when one is set) with the same rules
 * as `issuer/http.ts`: a hard timeout, no redirects, a body size cap, JSON answers. The app's
 * `fetch` option carries every other request.
 */

/** Endpoints that have an mTLS alias (RFC 8705 §5). */
export type AliasedEndpoint = 'token_endpoint' | 'pushed_authorization_request_endpoint' | 'revocation_endpoint' | 'userinfo_endpoint';

/**
 * The URL to call for `name`: with a TLS identity, the issuer's `mtls_endpoint_aliases` entry when
 * it has an https one (RFC 8705 §5), else the endpoint itself; without, the endpoint itself.
 */
export function endpointFor(metadata: IssuerMetadata, name: AliasedEndpoint, tls: TlsIdentity | undefined): string | undefined {
  const plain = metadata[name];
  if (tls) {
    const aliases = metadata.mtls_endpoint_aliases;
    const alias = isPlainObject(aliases) ? aliases[name] : undefined;
    if (typeof alias === 'string' && alias.startsWith('https://')) return alias;
  }
  return typeof plain === 'string' ? plain : undefined;
}

/** How a client's back-channel requests travel: its TLS identity, the app's `fetch` or a proxy. */
export interface BackChannelRoute {
  tls?: TlsIdentity | undefined;
  transport?: Transport | undefined;
}

/** `fetchJson` for the back channel: over mutual TLS when the client has a TLS identity. */
export function backChannelFetch(url: string, request: HttpRequest, route: BackChannelRoute): Promise<HttpResponse> {
  const { tls, transport } = route;
  if (tls === undefined) return fetchJson(url, { ...request, transport });
  return nodeRequestJson(url, request, { tls, proxy: proxyFor(transport?.proxy, new URL(url)) });
}
