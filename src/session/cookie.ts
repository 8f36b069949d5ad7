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
 * package reads it: the first one wins, names and values trimmed of spaces and tabs only, a
 * value in double quotes unquoted), URI-decoded. Undefined when absent or not decodable (where
 * `cookie` would hand back the raw text: no signed session id contains a bad %-sequence).
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const length = header.length;
  let start = 0;
  while (start < length) {
    const eq = header.indexOf('=', start);
    if (eq === -1) return undefined;
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    else if (eq > end) {
      // Pairs without '=' are skipped in one step to the pair that holds this '=' (as `cookie`
      // does): searching again from every ';' would take quadratic time on such a header.
      start = header.lastIndexOf(';', eq - 1) + 1;
      continue;
    }
    if (header.slice(skipBlanks(header, start, eq), trimBlanks(header, eq, start)) === name) {
      let from = skipBlanks(header, eq + 1, end);
      let to = trimBlanks(header, end, from);
      if (header.charCodeAt(from) === 0x22 && header.charCodeAt(to - 1) === 0x22) {
        // A lone '"' unquotes to the empty string, as in `cookie`.
        from++;
        to = Math.max(from, to - 1);
      }
      const value = header.slice(from, to);
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

/** The first index in [index, max) that is not a space or tab, else max. */
function skipBlanks(text: string, index: number, max: number): number {
  for (; index < max; index++) {
    const code = text.charCodeAt(index);
    if (code !== 0x20 && code !== 0x09) return index;
  }
  return max;
}

/** The end of text[min, index) without trailing spaces and tabs. */
function trimBlanks(text: string, index: number, min: number): number {
  while (index > min) {
    const code = text.charCodeAt(index - 1);
    if (code !== 0x20 && code !== 0x09) return index;
    index--;
  }
  return min;
}
