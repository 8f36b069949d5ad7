/**
 * Back-channel HTTP to the authorization server: Node's fetch with a hard timeout, no redirects
 * (a redirect could move a token request to another host), and a cap on the body size (a hostile
 * or broken server must not exhaust memory).
 */

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

/** Reads a body up to `maxBytes`, aborting the stream past it. */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw new HttpError('too_large', 'response body too large');
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new HttpError('too_large', 'response body too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Sends a request and parses a JSON answer. Throws `HttpError` for timeouts, network failures,
 * redirects, oversized or non-JSON bodies; any HTTP status is returned for the caller to judge.
 */
export async function fetchJson(url: string | URL, request: HttpRequest): Promise<HttpResponse> {
  const { method, headers, body } = encodeRequest(request);
  const signal = AbortSignal.timeout(request.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, redirect: 'manual', signal });
  } catch (err) {
    if (signal.aborted) throw new HttpError('timeout', `no answer within ${request.timeoutMs} ms`, { cause: err });
    throw new HttpError('network', 'request failed', { cause: err });
  }
  try {
    const redirect = redirectError(res.status);
    if (redirect) {
      await res.body?.cancel();
      throw redirect;
    }
    return jsonAnswer(res.status, res.headers, await readCapped(res, request.maxBytes ?? DEFAULT_MAX_BYTES));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (signal.aborted) throw new HttpError('timeout', `no answer within ${request.timeoutMs} ms`, { cause: err });
    throw new HttpError('network', 'reading the response failed', { cause: err });
  }
}
