/**
 * What both ends of DPoP (RFC 9449) compute alike: the `htu` of a URL and the `ath` of an access
 * token. The sign-in's client proofs (login/dpop.ts) and the guard's proof checks (bearer/dpop.ts)
 * use these, so the two cannot drift apart.
 */
import { createHash } from 'node:crypto';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Normalises an `htu` (or the request URL) for comparison per RFC 9449 §4.3: the query and
 * fragment are dropped; RFC 3986 §6.2.2 syntax-based normalisation (case of scheme and host,
 * percent-encoding of unreserved characters and the case of its hex digits, dot segments) and
 * §6.2.3 scheme-based normalisation (default port, empty path as `/`). Returns `undefined` for
 * anything but an absolute http(s) URL without credentials.
 *
 * @example
 * ```ts
 * normaliseHtu('HTTPS://API.example:443/a/../b%7e?x=1'); // 'https://api.example/b~'
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export function normaliseHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}

/**
 * The `ath` a proof must carry for an access token: base64url(SHA-256(ASCII token)) (RFC 9449 §4.2).
 *
 * @example
 * ```ts
 * const ath = dpopAccessTokenHash(accessToken);
 * ```
 */
export function dpopAccessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}
