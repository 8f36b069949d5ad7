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

/**
 * Reads the client certificate a trusted TLS-terminating proxy put into a header, as URL-encoded
 * PEM (nginx `$ssl_client_escaped_cert`); plain PEM, also with its line breaks folded into spaces,
 * is accepted too. Returns the DER bytes; `undefined` when the header is absent or empty (no client
 * certificate).
 *
 * @throws InvalidTokenError (401) when the value is not one certificate.
 */
export function certificateFromHeader(value: string | string[] | undefined): Uint8Array | undefined {
  if (Array.isArray(value)) {
    if (value.length > 1) throw new InvalidTokenError('client certificate unreadable');
    value = value[0];
  }
  if (value === undefined || value.trim() === '' || value.trim() === '-') return undefined;
  if (value.length > MAX_CERTIFICATE_HEADER_BYTES) throw new InvalidTokenError('client certificate unreadable');
  let pem: string;
  try {
    pem = decodeURIComponent(value);
  } catch (err) {
    throw new InvalidTokenError('client certificate unreadable', { cause: err });
  }
  const match = /^\s*-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----\s*$/.exec(pem);
  if (!match) throw new InvalidTokenError('client certificate unreadable');
  const der = Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64');
  try {
    // Parsing proves the bytes are one X.509 certificate; the thumbprint is over these exact bytes.
    return new Uint8Array(new X509Certificate(der).raw);
  } catch (err) {
    throw new InvalidTokenError('client certificate unreadable', { cause: err });
  }
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
  if (!constantEqual(certificateThumbprint(der), x5tS256)) throw new InvalidTokenError('client certificate does not match the token binding');
}
