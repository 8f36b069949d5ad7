/**
 * The DPoP (RFC 9449) parts that are not one end's protocol steps: what both ends compute alike
 * (the `htu` of a URL and the `ath` of an access token: the sign-in's client proofs in
 * login/dpop.ts and the guard's proof checks in bearer/dpop.ts use these, so the two cannot drift
 * apart), and the server nonces (`DpopNonces`).
 */
import { createHash, createHmac } from 'node:crypto';
import { constantEqual } from './constant-equal.js';

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

/**
 * Stateless rotating server nonces (RFC 9449 §9): the nonce of a time window is the HMAC of the
 * window's number. A nonce is accepted during its window and the next one (one to two windows),
 * so every instance holding the same secret issues and accepts the same nonces. The guard issues
 * and checks these; the sign-in's client only remembers the nonces servers send it
 * (`ReceivedDpopNonces`, login/dpop.ts).
 *
 * @example
 * ```ts
 * const nonces = new DpopNonces(secret, 300);
 * res.setHeader('DPoP-Nonce', nonces.current());
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-9
 */
export class DpopNonces {
  constructor(
    private readonly secret: Uint8Array,
    private readonly windowSeconds: number,
  ) {}

  private nonceOf(window: number): string {
    return createHmac('sha256', this.secret).update(`dpop-nonce:${window}`).digest('base64url');
  }

  private windowAt(nowMs: number): number {
    return Math.floor(nowMs / 1000 / this.windowSeconds);
  }

  /** The nonce to hand out now (`DPoP-Nonce` header). */
  current(nowMs = Date.now()): string {
    return this.nonceOf(this.windowAt(nowMs));
  }

  /** `current`, `previous` (still accepted; hand out a fresh one), or `undefined` (refuse). Constant time. */
  check(nonce: string, nowMs = Date.now()): 'current' | 'previous' | undefined {
    const window = this.windowAt(nowMs);
    if (constantEqual(nonce, this.nonceOf(window))) return 'current';
    if (constantEqual(nonce, this.nonceOf(window - 1))) return 'previous';
    return undefined;
  }
}
