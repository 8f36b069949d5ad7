import { request as httpsRequest } from 'node:https';
import { isPlainObject } from '../config/assert.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { DEFAULT_MAX_BYTES, HttpError, encodeRequest, fetchJson, jsonAnswer, redirectError, type HttpRequest, type HttpResponse } from '../issuer/http.js';

/**
 * Mutual-TLS for the back channel (RFC 8705): the client's certificate and key, presented on every
 * request to the issuer's token, PAR, revocation and UserInfo endpoints, for `tls_client_auth` /
 * `self_signed_tls_client_auth` (§2) and certificate-bound access tokens (§3).
 *
 * Node's global `fetch` cannot present a client certificate and `undici` is not importable as a
 * module here, so these requests go through `node:https` with the same rules as
 * `issuer/http.ts`: a hard timeout, no redirects, a body size cap, JSON answers.
 */
export interface TlsIdentity {
  /** PEM private key. */
  key: string | Buffer;
  /** PEM certificate (chain). */
  cert: string | Buffer;
  /** PEM CA certificate(s) to trust for the issuer's mTLS endpoints, instead of Node's defaults. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** Endpoints that have an mTLS alias (RFC 8705 §5). */
export type AliasedEndpoint = 'token_endpoint' | 'pushed_authorization_request_endpoint' | 'revocation_endpoint' | 'userinfo_endpoint';

/**
 * The URL to call for `name`: with a TLS identity, the issuer's `mtls_endpoint_aliases` entry when
 * it has an https one (RFC 8705 §5), else the endpoint itself; without, the endpoint itself.
 */
export function endpointFor(metadata: IssuerMetadata, name: AliasedEndpoint, tls: TlsIdentity | undefined): string | undefined {
  const plain = metadata[name];
  if (tls) {
    const aliases = metadata.mtls_endpoint_aliases;
    const alias = isPlainObject(aliases) ? aliases[name] : undefined;
    if (typeof alias === 'string' && alias.startsWith('https://')) return alias;
  }
  return typeof plain === 'string' ? plain : undefined;
}

/** `fetchJson` for the back channel: over mutual TLS when the client has a TLS identity. */
export function backChannelFetch(url: string, request: HttpRequest, tls: TlsIdentity | undefined): Promise<HttpResponse> {
  return tls ? mtlsFetchJson(url, request, tls) : fetchJson(url, request);
}

/** `fetchJson` over `node:https` with a client certificate (same errors: `HttpError`). */
export function mtlsFetchJson(url: string, request: HttpRequest, tls: TlsIdentity): Promise<HttpResponse> {
  const target = new URL(url);
  if (target.protocol !== 'https:') return Promise.reject(new HttpError('network', 'mutual TLS needs an https endpoint'));
  const { method, headers, body } = encodeRequest(request);
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const maxBytes = request.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: HttpError | undefined, value?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const req = httpsRequest(
      target,
      {
        method,
        headers,
        key: tls.key,
        cert: tls.cert,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const redirect = redirectError(status);
        if (redirect) {
          res.resume();
          finish(redirect);
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          finish(new HttpError('too_large', 'response body too large'));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) finish(new HttpError('too_large', 'response body too large'));
          else chunks.push(chunk);
        });
        res.on('error', (err) => finish(new HttpError('network', 'reading the response failed', { cause: err })));
        res.on('end', () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (typeof value === 'string') answerHeaders.set(name, value);
            else if (Array.isArray(value)) for (const item of value) answerHeaders.append(name, item);
          }
          try {
            finish(undefined, jsonAnswer(status, answerHeaders, Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            finish(err as HttpError);
          }
        });
      },
    );
    const timer = setTimeout(() => finish(new HttpError('timeout', `no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    req.on('error', (err) => finish(new HttpError('network', 'request failed', { cause: err })));
    req.end(body);
  });
}
