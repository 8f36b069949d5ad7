/**
 * The page to return to after sign-in. Only a same-origin plain path is kept: an open redirect
 * from `/login?returnTo=` would let anyone bounce our users to a look-alike site (RFC 6749 §10.15,
 * OAuth 2.0 Security BCP, RFC 9700 §4.11).
 */

const MAX_LENGTH = 2048;
const PROBE_ORIGIN = 'http://return-to.invalid';

/**
 * Returns `value` when it is a plain path on this origin, else `undefined`.
 *
 * Refused: anything not starting with exactly one `/` (absolute URLs, `//host`, `javascript:`,
 * relative paths), backslashes (`/\host` is `//host` to browsers), control and whitespace
 * characters, and values longer than 2048 characters.
 *
 * @example
 * safeReturnTo('/orders?page=2'); // '/orders?page=2'
 * safeReturnTo('//evil.example'); // undefined
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (value[0] !== '/' || value[1] === '/' || value.includes('\\')) return undefined;
  // Control characters, whitespace, and characters browsers strip or normalise in URLs.
  if (/[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, PROBE_ORIGIN);
  } catch {
    return undefined;
  }
  if (url.origin !== PROBE_ORIGIN) return undefined;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Dot segments can normalise into `//host` ('/.//evil' -> '//evil'): check the result again.
  return path.startsWith('//') ? undefined : path;
}
