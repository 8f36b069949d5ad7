import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The session id cookie, in express-session's format so sessions survive a switch between
 * express-session and `sessionMiddleware()` in either direction: `s:<id>.<mac>`, where `<mac>` is
 * HMAC-SHA256(id) under the secret in standard base64 without padding (the `cookie-signature`
 * package's format), the whole value URI-encoded in the header.
 */

/** `s:<id>.<mac>` for `id` under `secret`. */
export function signSessionId(id: string, secret: string): string {
  return `s:${id}.${createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '')}`;
}

/**
 * The session id of a signed cookie value, or undefined when it is not signed by one of
 * `secrets` (a forged, altered or foreign cookie is the same as no cookie). The comparison is in
 * constant time.
 */
export function unsignSessionId(value: string, secrets: readonly string[]): string | undefined {
  if (!value.startsWith('s:')) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot < 2) return undefined;
  const id = value.slice(2, dot);
  const given = Buffer.from(value, 'utf8');
  for (const secret of secrets) {
    const expected = Buffer.from(signSessionId(id, secret), 'utf8');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return id;
  }
  return undefined;
}

/**
 * The first value of cookie `name` in a `Cookie` header (RFC 6265 §5.4 order, as the `cookie`
 * package reads it: the first one wins), quotes removed and URI-decoded. Undefined when absent or
 * not decodable.
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let start = 0;
  const length = header.length;
  while (start < length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.charCodeAt(0) === 0x22 && value.charCodeAt(value.length - 1) === 0x22) value = value.slice(1, -1);
      if (value.indexOf('%') === -1) return value;
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
    start = end + 1;
  }
  return undefined;
}
