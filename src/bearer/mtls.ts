/**
 * Certificate-bound access tokens (RFC 8705 §3) on the resource server: the SHA-256 thumbprint of
 * the TLS client certificate must equal the token's `cnf["x5t#S256"]`. Plain functions of bytes
 * and header values; `middleware.ts` reads the socket or the proxy header.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { constantEqual } from '../crypto/constant-equal.js';
import { InvalidTokenError } from '../errors/index.js';
import { confirmationOf } from './confirmation.js';
import type { BearerPayload } from './types.js';

/** Largest accepted certificate header, in bytes. */
const MAX_CERTIFICATE_HEADER_BYTES = 16 * 1024;

/**
 * The `x5t#S256` of a certificate: base64url(SHA-256(DER)) (RFC 8705 §3.1).
 *
 * @example
 * ```ts
 * certificateThumbprint(new X509Certificate(pem).raw);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3.1
 */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

const PEM = /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** One `Cert="..."` (or unquoted) member of an Envoy XFCC element. */
const XFCC_CERT = /(?:^|;)\s*Cert=(?:"([^"]*)"|([^;,]*))/i;

function unreadable(cause?: unknown): InvalidTokenError {
  return new InvalidTokenError('client certificate unreadable', cause === undefined ? undefined : { cause });
}

/** The DER bytes of exactly one X.509 certificate; parsing proves it is one. */
function certificateDer(bytes: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(new X509Certificate(bytes).raw);
  } catch (err) {
    throw unreadable(err);
  }
}

/**
 * The DER bytes of a client certificate given as PEM (a string), or as DER bytes (`Buffer`,
 * `Uint8Array`): what `mtls.getCertificate(req)` may return. `undefined` for none.
 *
 * @throws InvalidTokenError (401) when it is not one certificate.
 */
export function certificateFrom(value: string | Uint8Array | undefined | null): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return value.byteLength === 0 ? undefined : certificateDer(value);
  const match = PEM.exec(value);
  if (!match) throw unreadable();
  return certificateDer(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'));
}

/** The last comma-separated element of an XFCC value (commas inside quoted values do not split). */
function lastXfccElement(value: string): string {
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i += 1) {
    const char = value[i];
    if (char === '\\' && quoted) i += 1;
    else if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) start = i + 1;
  }
  return value.slice(start);
}

/**
 * Reads the client certificate a trusted TLS-terminating proxy put into a header. Accepted forms:
 * - URL-encoded PEM (nginx `$ssl_client_escaped_cert`), or plain PEM, also with its line breaks
 *   folded into spaces;
 * - Envoy's `X-Forwarded-Client-Cert` (`By=...;Hash=...;Cert="<URL-encoded PEM>"`): the last
 *   element, which the nearest proxy appended; an element without `Cert` is no certificate;
 * - base64 DER (Cloudflare's `Cf-Client-Cert-Der-Base64`).
 * Returns the DER bytes; `undefined` when the header is absent or empty (no client certificate).
 *
 * @throws InvalidTokenError (401) when the value is not one certificate.
 */
export function certificateFromHeader(value: string | string[] | undefined): Uint8Array | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw unreadable();
    value = value[0];
  }
  if (value === undefined || value.trim() === '' || value.trim() === '-') return undefined;
  if (value.length > MAX_CERTIFICATE_HEADER_BYTES) throw unreadable();
  let text = value.trim();
  if (/(?:^|[;,])\s*(?:By|Hash|Cert|Chain|Subject|URI|DNS)=/i.test(text)) {
    const cert = XFCC_CERT.exec(lastXfccElement(text));
    if (!cert) return undefined;
    text = cert[1] ?? cert[2] ?? '';
  }
  if (BASE64.test(text) && !text.startsWith('-----')) return certificateDer(Buffer.from(text, 'base64'));
  let pem: string;
  try {
    pem = decodeURIComponent(text);
  } catch (err) {
    throw unreadable(err);
  }
  return certificateFrom(pem);
}

/**
 * Checks the certificate binding of a verified token (RFC 8705 §3): when the token has
 * `cnf["x5t#S256"]`, the client certificate of the request (`certificate()`, DER; read only then)
 * must be present and its thumbprint must equal it (constant time). A token without it passes.
 *
 * Does not check the certificate's chain or validity dates: the TLS handshake proved possession of
 * its key, and the binding is to this exact certificate (RFC 8705 §3, §2.2 for self-signed ones).
 *
 * @throws InvalidTokenError (401) with no certificate or a different one.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export function checkCertificateBinding(payload: BearerPayload, certificate: () => Uint8Array | undefined): void {
  const { x5tS256 } = confirmationOf(payload);
  if (x5tS256 === undefined) return;
  const der = certificate();
  if (der === undefined || der.byteLength === 0) throw new InvalidTokenError('certificate-bound token sent without a client certificate');
  if (!constantEqual(certificateThumbprint(der), x5tS256))
    throw new InvalidTokenError('client certificate does not match the token binding');
}
