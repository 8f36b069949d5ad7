/**
 * What every back-channel call shares, whichever way it travels (fetch, a proxy, mutual TLS): its
 * errors, how a request is encoded, and how an answer is judged (no redirects, JSON bodies).
 */
import type { ProxySettings } from './proxy.js';

/** Why a back-channel call failed, before any protocol meaning is applied. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly kind: 'timeout' | 'network' | 'too_large' | 'not_json' | 'redirect',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HttpRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A form body (sent as application/x-www-form-urlencoded). */
  form?: Record<string, string>;
  /** Milliseconds before the request is aborted. */
  timeoutMs: number;
  /** Largest accepted body in bytes. */
  maxBytes?: number;
  /** How the request travels: the app's `fetch`, or a proxy from the environment. Default: Node's fetch, direct. */
  transport?: Transport;
}

/** What the package passes to a `fetch` given in the options: always these members. */
export interface FetchInit {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body: string | undefined;
  /** Redirects are refused (a redirect could move a token request to another host). */
  redirect: 'manual';
  /** Aborts at the request's timeout. */
  signal: AbortSignal;
}

/**
 * The part of a WHATWG `Response` the package reads: `status`, `headers` and the body as a
 * `ReadableStream` (or any async iterable of bytes). Node's, undici's and most instrumented
 * `fetch` functions answer with one.
 */
export interface FetchResponse {
  readonly status: number;
  /** True when the fetch followed a redirect: refused, as a 3xx status is. */
  readonly redirected?: boolean;
  readonly headers: { forEach(callback: (value: string, name: string) => void): void };
  readonly body: unknown;
}

/**
 * A function with the WHATWG `fetch` signature (the `fetch` option of `auth()` and
 * `requireBearer()`), for example undici's `fetch` with a `ProxyAgent`, or an instrumented one.
 */
export type FetchFunction = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** How back-channel requests travel, resolved once from the options and the environment. */
export interface Transport {
  /** The app's `fetch`: every request goes through it (the certificate-bearing mTLS ones excepted). */
  fetch?: FetchFunction | undefined;
  /** HTTP(S)_PROXY / NO_PROXY, read at start-up when no `fetch` was given. */
  proxy?: ProxySettings | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when the body was empty. */
  body: unknown;
}

/** Largest accepted body when the request names none, in bytes. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The headers and body a request sends: JSON accepted, a form body encoded. */
export function encodeRequest(request: HttpRequest): { method: 'GET' | 'POST'; headers: Record<string, string>; body: string | undefined } {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let body: string | undefined;
  if (request.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(request.form).toString();
  }
  return { method: request.method ?? (body ? 'POST' : 'GET'), headers, body };
}

/** Refuses a redirect: it could move a token request to another host. */
export function redirectError(status: number): HttpError | undefined {
  return status >= 300 && status < 400 ? new HttpError('redirect', `unexpected redirect (HTTP ${status})`) : undefined;
}

/** An answer's body text as JSON (`undefined` when empty). Throws `HttpError` `not_json`. */
export function jsonAnswer(status: number, headers: Headers, text: string): HttpResponse {
  if (text.trim() === '') return { status, headers, body: undefined };
  try {
    return { status, headers, body: JSON.parse(text) as unknown };
  } catch (err) {
    throw new HttpError('not_json', `response is not JSON (HTTP ${status})`, { cause: err });
  }
}
