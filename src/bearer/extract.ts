import { InvalidRequestError } from '../errors/index.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';

/** What `extractBearerToken` looks at: plain values, no framework types. */
export interface BearerRequestParts {
  headers: Record<string, string | string[] | undefined>;
  /** The parsed body (e.g. by `express.urlencoded()`), if any. */
  body?: unknown;
  /** The query: parsed parameters, or the raw search string (with or without `?`). */
  query?: Record<string, unknown> | URLSearchParams | string;
  /** The request method; a form-body token is ignored on GET and HEAD (RFC 6750 §2.2). */
  method?: string;
}

export interface ExtractOptions {
  /** Accept a form-encoded body parameter `access_token` (RFC 6750 §2.2). Default false. */
  allowFormBody?: boolean;
  /** Accept the `DPoP` scheme (RFC 9449 §7.1) besides `Bearer`. Default false: `DPoP` is no credentials. */
  dpop?: boolean;
  /** Longest accepted token, in characters. Default 16384 (see `maxTokenLength`). */
  maxTokenLength?: number;
}

/** An access token and the scheme it came with (`Bearer` also for a form-body token). */
export interface PresentedToken {
  token: string;
  scheme: 'Bearer' | 'DPoP';
}

/** RFC 6750 §2.1 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function invalid(description: string): InvalidRequestError {
  return new InvalidRequestError(description);
}

/** Scheme, spaces: what an `Authorization` header may hold besides the token. */
const HEADER_SLACK = 64;

/** Throws `invalid_request` unless `token` is an RFC 6750 b64token of at most `max` characters; returns it (see `extractForGuard()`). */
export function checkTokenCharacters(token: string, max: number = BEARER_DEFAULTS.maxTokenLength): string {
  if (token.length > max) throw invalid('access token too large');
  if (!B64TOKEN.test(token)) throw invalid('access token has illegal characters');
  return token;
}

function fromHeader(
  value: string | string[] | undefined,
  dpop: boolean,
  checkCharacters: boolean,
  max: number,
): PresentedToken | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length > 1) throw invalid('more than one Authorization header');
    value = value[0];
    if (value === undefined) return undefined;
  }
  if (value.length > max + HEADER_SLACK) throw invalid('Authorization header too large');
  // `Bearer <token>` as clients send it: the same answer as the general path below (nothing to
  // trim at either end, one space, no other space), without its copies and regular expression.
  if (value.startsWith('Bearer ') && value.charCodeAt(7) !== 32 && value.indexOf(' ', 8) === -1) {
    const last = value.charCodeAt(value.length - 1);
    if (last > 32 && last < 127) {
      const token = value.slice(7);
      return { token: checkCharacters ? checkTokenCharacters(token, max) : token, scheme: 'Bearer' };
    }
  }
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  const space = trimmed.indexOf(' ');
  const given = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  // Another scheme (Basic, DPoP when not accepted, ...) is not credentials for us (RFC 6750 §3.1).
  const scheme = given === 'bearer' ? 'Bearer' : given === 'dpop' && dpop ? 'DPoP' : undefined;
  if (scheme === undefined) return undefined;
  const rest = space === -1 ? '' : trimmed.slice(space + 1).replace(/^ +/, '');
  if (rest === '') throw invalid(`${scheme} credentials without a token`);
  if (rest.includes(' ')) throw invalid('more than one token in the Authorization header');
  return { token: checkCharacters ? checkTokenCharacters(rest, max) : rest, scheme };
}

function isFormEncoded(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  if (value === undefined) return false;
  return (value.split(';')[0] ?? '').trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function fromBody(parts: BearerRequestParts, max: number): string | undefined {
  const method = parts.method?.toUpperCase();
  if (method === 'GET' || method === 'HEAD') return undefined;
  if (!isFormEncoded(parts.headers['content-type'])) return undefined;
  const body = parts.body;
  if (typeof body !== 'object' || body === null || !Object.hasOwn(body, 'access_token')) return undefined;
  const value = (body as Record<string, unknown>).access_token;
  if (Array.isArray(value)) throw invalid('more than one access_token in the body');
  if (typeof value !== 'string') throw invalid('access_token in the body is not a string');
  if (value === '') throw invalid('access_token in the body is empty');
  return checkTokenCharacters(value, max);
}

function queryHasToken(query: BearerRequestParts['query']): boolean {
  // No query at all (the common case) needs no URLSearchParams.
  if (query === undefined || query === '') return false;
  if (typeof query === 'string') return new URLSearchParams(query.startsWith('?') ? query.slice(1) : query).has('access_token');
  if (query instanceof URLSearchParams) return query.has('access_token');
  return Object.hasOwn(query, 'access_token');
}

/**
 * Finds the Bearer access token of a request, per RFC 6750 §2:
 * - the `Authorization: Bearer <token>` header (§2.1; scheme case-insensitive);
 * - the `access_token` form-body parameter (§2.2), only with `allowFormBody` and an
 *   `application/x-www-form-urlencoded` body, never on GET;
 * - never the query string (§2.3 is optional and leaks tokens into logs and `Referer`): a query
 *   `access_token` is refused with `invalid_request`, even next to a valid header.
 *
 * Returns `undefined` when the request carries no Bearer credentials (no header, or another
 * scheme such as `Basic`). Throws `InvalidRequestError` (400) for a malformed request: `Bearer`
 * without a token, two tokens, illegal characters, a token in two places, a token over
 * `maxTokenLength` characters (default 16 KiB).
 *
 * @example
 * ```ts
 * const token = extractBearerToken({ headers: { authorization: 'Bearer abc' } }); // 'abc'
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2
 */
export function extractBearerToken(parts: BearerRequestParts, options: ExtractOptions = {}): string | undefined {
  return extractAccessToken(parts, { ...options, dpop: false })?.token;
}

/**
 * Like `extractBearerToken`, and with `dpop: true` also accepts `Authorization: DPoP <token>`
 * (RFC 9449 §7.1; scheme case-insensitive, same token68 syntax). Says which scheme was used; a
 * form-body token counts as `Bearer`. Does not look at the `DPoP` proof header (see `dpop.ts`).
 *
 * @example
 * ```ts
 * extractAccessToken({ headers: { authorization: 'DPoP abc' } }, { dpop: true }); // { token: 'abc', scheme: 'DPoP' }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function extractAccessToken(parts: BearerRequestParts, options: ExtractOptions = {}): PresentedToken | undefined {
  return extract(parts, options, false);
}

/**
 * Internal to `requireBearer()` (not exported by the package): `extractAccessToken()`, where the
 * characters of a header token are left unchecked (only without `allowFormBody`, so a header and
 * a body token are judged as by `extractAccessToken()`). The caller then calls `checkTokenCharacters()` on any token it does not
 * already know. A token whose SHA-256 is in the verified-token cache is that token, which was
 * accepted: it passed this check when the guard verified it (or, cached by a direct
 * `verifier.verify()`, was accepted by its issuer as it is). The regular expression is a good
 * part of the guard's cost for a repeated token (bench/micro/guard-repeat.ts).
 */
export function extractForGuard(parts: BearerRequestParts, options: ExtractOptions): PresentedToken | undefined {
  return extract(parts, options, options.allowFormBody !== true);
}

function extract(parts: BearerRequestParts, options: ExtractOptions, deferCheck: boolean): PresentedToken | undefined {
  if (queryHasToken(parts.query)) throw invalid('tokens in the query string are not accepted');
  const max = options.maxTokenLength ?? BEARER_DEFAULTS.maxTokenLength;
  const header = fromHeader(parts.headers.authorization, options.dpop === true, !deferCheck, max);
  const body = options.allowFormBody === true ? fromBody(parts, max) : undefined;
  if (header !== undefined && body !== undefined) throw invalid('token sent in more than one place');
  return header ?? (body !== undefined ? { token: body, scheme: 'Bearer' } : undefined);
}
