/**
 * Back-channel HTTP to the authorization server: a hard timeout, no redirects (a redirect could
 * move a token request to another host), and a cap on the body size (a hostile or broken server
 * must not exhaust memory). Requests travel through the app's `fetch` when it gave one, else
 * through the environment's proxy (`node-request.ts`) when one is set for the URL, else through
 * Node's global `fetch`. The rules hold whichever way: the timeout and the cap are applied here,
 * around the app's `fetch`, not left to it.
 */
import {
  DEFAULT_MAX_BYTES,
  HttpError,
  jsonAnswer,
  encodeRequest,
  redirectError,
  type FetchFunction,
  type FetchResponse,
  type HttpRequest,
  type HttpResponse,
} from './http-answer.js';
import { nodeRequestJson } from './node-request.js';
import { proxyFor } from './proxy.js';

export {
  DEFAULT_MAX_BYTES,
  HttpError,
  encodeRequest,
  jsonAnswer,
  redirectError,
  type FetchFunction,
  type FetchInit,
  type FetchResponse,
  type HttpRequest,
  type HttpResponse,
  type Transport,
} from './http-answer.js';

/** Rejects when `signal` aborts: raced against every step, so a `fetch` that ignores the signal cannot hold a request open. */
function abortion(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fail = (): void => reject(signal.reason);
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

/** The chunks of a body: a WHATWG stream's reader, or an async iterable (a Node stream). */
function chunksOf(body: unknown): { next(): Promise<IteratorResult<unknown>>; cancel(): Promise<unknown> } | undefined {
  if (body === null || body === undefined) return undefined;
  const stream = body as { getReader?: () => ReadableStreamDefaultReader<unknown> };
  if (typeof stream.getReader === 'function') {
    const reader = stream.getReader();
    return { next: () => reader.read() as Promise<IteratorResult<unknown>>, cancel: () => reader.cancel() };
  }
  const iterable = body as { [Symbol.asyncIterator]?: () => AsyncIterator<unknown> };
  if (typeof iterable[Symbol.asyncIterator] === 'function') {
    const iterator = iterable[Symbol.asyncIterator]!();
    return { next: () => iterator.next(), cancel: async () => iterator.return?.() };
  }
  throw new HttpError('network', 'the fetch answered with a body that is not a stream');
}

/** A chunk as bytes (strings are UTF-8). */
function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new HttpError('network', 'the fetch answered with a body that is not bytes');
}

/** Reads a body up to `maxBytes`, aborting the stream past it or when `aborted` rejects. */
async function readCapped(res: FetchResponse, headers: Headers, maxBytes: number, aborted: Promise<never>): Promise<string> {
  const declared = Number(headers.get('content-length') ?? NaN);
  const chunks = chunksOf(res.body);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await chunks?.cancel().catch(() => undefined);
    throw new HttpError('too_large', 'response body too large');
  }
  if (!chunks) return '';
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([chunks.next(), aborted]);
      if (done) break;
      const bytes = bytesOf(value);
      size += bytes.byteLength;
      if (size > maxBytes) throw new HttpError('too_large', 'response body too large');
      parts.push(bytes);
    }
  } catch (err) {
    void chunks.cancel().catch(() => undefined);
    throw err;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** A `Headers` copy of an answer's headers (an app's `fetch` may answer with its own class). */
function headersOf(res: FetchResponse): Headers {
  if (res.headers instanceof Headers) return res.headers;
  const headers = new Headers();
  res.headers.forEach((value, name) => headers.append(name, value));
  return headers;
}

/** Fetches with `fetchImpl` under the request's rules. */
async function fetchWith(fetchImpl: FetchFunction, url: string, request: HttpRequest): Promise<HttpResponse> {
  const { method, headers, body } = encodeRequest(request);
  const signal = AbortSignal.timeout(request.timeoutMs);
  const aborted = abortion(signal);
  aborted.catch(() => undefined);
  const timedOut = (err: unknown) => new HttpError('timeout', `no answer within ${request.timeoutMs} ms`, { cause: err });
  let res: FetchResponse;
  try {
    res = await Promise.race([fetchImpl(url, { method, headers, body, redirect: 'manual', signal }), aborted]);
    if (typeof res !== 'object' || res === null || typeof res.status !== 'number' || typeof res.headers?.forEach !== 'function') {
      throw new TypeError('the fetch did not answer with a Response');
    }
  } catch (err) {
    if (signal.aborted) throw timedOut(err);
    throw new HttpError('network', 'request failed', { cause: err });
  }
  try {
    const redirect = redirectError(res.status) ?? (res.redirected === true ? redirectError(302) : undefined);
    const answerHeaders = headersOf(res);
    if (redirect) {
      await chunksOf(res.body)
        ?.cancel()
        .catch(() => undefined);
      throw redirect;
    }
    return jsonAnswer(res.status, answerHeaders, await readCapped(res, answerHeaders, request.maxBytes ?? DEFAULT_MAX_BYTES, aborted));
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (signal.aborted) throw timedOut(err);
    throw new HttpError('network', 'reading the response failed', { cause: err });
  }
}

/**
 * Sends a request and parses a JSON answer. Throws `HttpError` for timeouts, network failures,
 * redirects, oversized or non-JSON bodies; any HTTP status is returned for the caller to judge.
 */
export function fetchJson(url: string | URL, request: HttpRequest): Promise<HttpResponse> {
  const transport = request.transport;
  if (transport?.fetch !== undefined) return fetchWith(transport.fetch, String(url), request);
  const target = new URL(url);
  const proxy = proxyFor(transport?.proxy, target);
  if (proxy !== undefined) return nodeRequestJson(target, request, { proxy });
  return fetchWith(fetch as unknown as FetchFunction, target.href, request);
}
