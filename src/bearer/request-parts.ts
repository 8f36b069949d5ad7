/** What the guard reads from an Express request besides the token: its external URL (DPoP `htu`), the client certificate, the raw query. */
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import { AuthError, InvalidRequestError } from '../errors/index.js';
import type { ResolvedDpopConfig, ResolvedMtlsConfig } from './config.js';
import { certificateFrom, certificateFromHeader } from './mtls.js';

/**
 * The request's external URL without query, for the DPoP `htu` (RFC 9449 §4.3): `dpop.baseURL`
 * and the path; else, only when Express' `trust proxy` is set, `req.protocol` and the host
 * (`X-Forwarded-Host` when the proxy is trusted, else `Host`), as Express itself derives them.
 */
export function externalUrl(req: Request, dpop: ResolvedDpopConfig): string {
  const raw = req.originalUrl ?? req.url ?? '/';
  const path = raw.split(/[?#]/, 1)[0] ?? '';
  const absolutePath = path.startsWith('/') ? path : `/${path}`;
  if (dpop.baseURL !== undefined) return `${dpop.baseURL}${absolutePath}`;
  const app = req.app as { get?: (name: string) => unknown } | undefined;
  if (typeof app?.get !== 'function' || !app.get('trust proxy')) {
    throw new AuthError('server_error', 500, 'the server cannot check DPoP proofs: its external URL is not configured');
  }
  const trust = app.get('trust proxy fn');
  let host = req.get('x-forwarded-host');
  if (
    host === undefined ||
    typeof trust !== 'function' ||
    !(trust as (addr: string | undefined, i: number) => boolean)(req.socket.remoteAddress, 0)
  ) {
    host = req.get('host');
  } else {
    host = host.split(',', 1)[0]?.trim();
  }
  // Unchecked, a Host of `localhost/intendedPath?` would make the URL `.../intendedPath?/other`,
  // whose htu (query dropped) is that of a proof made for another path.
  if (host === undefined || !BARE_HOST.test(host)) {
    throw new InvalidRequestError('the Host of the request is not a host name with an optional port');
  }
  return `${req.protocol}://${host}${absolutePath}`;
}

/** A bare `host[:port]` (RFC 9110 §7.2): a registered name, an IPv4 address or a bracketed IPv6 one; nothing else. */
const BARE_HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** The DER client certificate: from `mtls.getCertificate`, or the trusted proxy's header, when configured; else the TLS socket. */
export function clientCertificate(req: Request, mtls: ResolvedMtlsConfig): Uint8Array | undefined {
  if (mtls.getCertificate !== undefined) return certificateFrom(mtls.getCertificate(req));
  if (mtls.certificateHeader !== undefined) return certificateFromHeader(req.headers[mtls.certificateHeader]);
  const socket = req.socket as Partial<TLSSocket> | undefined;
  if (socket?.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  return raw !== undefined && raw.length > 0 ? new Uint8Array(raw) : undefined;
}

export function rawQuery(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at + 1);
}
