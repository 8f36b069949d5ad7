import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import {
  DEFAULT_MAX_BYTES,
  HttpError,
  encodeRequest,
  jsonAnswer,
  redirectError,
  type HttpRequest,
  type HttpResponse,
} from './http-answer.js';

/**
 * Back-channel requests over `node:http` / `node:https`, for what Node's global `fetch` cannot do:
 * present a client certificate (mutual TLS, RFC 8705) and go through an HTTP proxy (absolute-form
 * requests for http URLs, a `CONNECT` tunnel for https ones, RFC 9110 §9.3.6). Same rules as
 * `http.ts`: a hard timeout over the whole exchange (the tunnel included), no redirects, a body
 * size cap, JSON answers. TLS to the issuer is verified as usual (Node's CAs, `NODE_EXTRA_CA_CERTS`,
 * or the identity's `ca`), inside the tunnel; the proxy sees only the host name and port.
 */

/** A client's TLS identity for mutual TLS (the `mtls` option of `auth()`). */
export interface TlsIdentity {
  /** PEM private key. */
  key: string | Buffer;
  /** PEM certificate (chain). */
  cert: string | Buffer;
  /** PEM CA certificate(s) to trust for the issuer's mTLS endpoints, instead of Node's defaults. */
  ca?: string | Buffer | Array<string | Buffer>;
}

/** How one `nodeRequestJson` call travels. */
export interface NodeRoute {
  /** The client certificate to present (https URLs only). */
  tls?: TlsIdentity | undefined;
  /** The proxy to go through, from `proxyFor()`. */
  proxy?: URL | undefined;
}

const defaultPort = (url: URL): string => url.port || (url.protocol === 'https:' ? '443' : '80');
const bareHost = (hostname: string): string => hostname.replace(/^\[|\]$/g, '');

/** `Proxy-Authorization` for a proxy URL with credentials (`http://user:pass@proxy:3128`). */
function proxyHeaders(proxy: URL): Record<string, string> {
  if (proxy.username === '' && proxy.password === '') return {};
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return { 'proxy-authorization': `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Options that send a request to the proxy itself (over TLS for an `https://` proxy). */
function toProxy(
  proxy: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
): { send: typeof httpRequest; options: RequestOptions } {
  return {
    send: proxy.protocol === 'https:' ? httpsRequest : httpRequest,
    options: {
      host: bareHost(proxy.hostname),
      port: defaultPort(proxy),
      method,
      path,
      headers: { ...headers, ...proxyHeaders(proxy) },
      agent: false,
    },
  };
}

/** Opens a `CONNECT` tunnel to `target`'s host and port through `proxy`. */
function openTunnel(proxy: URL, target: URL, track: (req: ClientRequest) => void): Promise<Socket> {
  const authority = `${target.hostname}:${defaultPort(target)}`;
  const { send, options } = toProxy(proxy, 'CONNECT', authority, { host: authority });
  return new Promise<Socket>((resolve, reject) => {
    const req = send(options);
    track(req);
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new HttpError('network', `the proxy refused the tunnel (HTTP ${res.statusCode ?? 0})`));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      reject(new HttpError('network', `the proxy refused the tunnel (HTTP ${res.statusCode ?? 0})`));
    });
    req.on('error', (err) => reject(new HttpError('network', 'the proxy cannot be reached', { cause: err })));
    req.end();
  });
}

/** Reads a JSON answer up to `maxBytes`, refusing redirects. */
function readAnswer(res: IncomingMessage, maxBytes: number, finish: (err: HttpError | undefined, value?: HttpResponse) => void): void {
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
}

/**
 * Sends a request over `node:http(s)`, with a client certificate and/or through a proxy, and
 * parses a JSON answer. Throws `HttpError` as `fetchJson` does.
 */
export function nodeRequestJson(url: string | URL, request: HttpRequest, route: NodeRoute): Promise<HttpResponse> {
  const target = new URL(url);
  const { tls, proxy } = route;
  if (tls !== undefined && target.protocol !== 'https:')
    return Promise.reject(new HttpError('network', 'mutual TLS needs an https endpoint'));
  const { method, headers, body } = encodeRequest(request);
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const maxBytes = request.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise<HttpResponse>((resolve, reject) => {
    const requests: ClientRequest[] = [];
    let tunnel: Socket | undefined;
    let settled = false;
    const finish = (err: HttpError | undefined, value?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The answer is read (or given up): the tunnel carries nothing more, and would stay open.
      tunnel?.destroy();
      if (err) {
        for (const req of requests) req.destroy();
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const track = (req: ClientRequest): void => {
      requests.push(req);
      if (settled) req.destroy();
    };
    const timer = setTimeout(() => finish(new HttpError('timeout', `no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    const send = (socket: Socket | undefined): void => {
      tunnel = socket;
      if (settled) {
        socket?.destroy();
        return;
      }
      const onAnswer = (res: IncomingMessage): void => readAnswer(res, maxBytes, finish);
      let req: ClientRequest;
      if (target.protocol === 'https:') {
        const host = bareHost(target.hostname);
        const identity = tls !== undefined ? { key: tls.key, cert: tls.cert, ...(tls.ca !== undefined ? { ca: tls.ca } : {}) } : {};
        const options: RequestOptions & Record<string, unknown> = { method, headers, agent: false, ...identity };
        if (socket !== undefined) {
          // TLS to the issuer inside the tunnel: the certificate is checked against the issuer's host name.
          options.createConnection = () => tlsConnect({ socket, host, ...(isIP(host) === 0 ? { servername: host } : {}), ...identity });
        }
        req = httpsRequest(target, options, onAnswer);
      } else if (proxy !== undefined) {
        const { send: viaProxy, options } = toProxy(proxy, method, target.href, { ...headers, host: target.host });
        req = viaProxy(options, (res) => {
          // 407 is the proxy's own answer (RFC 9110 §15.5.8), as a refused CONNECT is.
          if (res.statusCode === 407) {
            res.resume();
            finish(new HttpError('network', 'the proxy refused the request (HTTP 407)'));
          } else {
            onAnswer(res);
          }
        });
      } else {
        req = httpRequest(target, { method, headers, agent: false }, onAnswer);
      }
      track(req);
      req.on('error', (err) => finish(new HttpError('network', 'request failed', { cause: err })));
      req.end(body);
    };
    if (proxy !== undefined && target.protocol === 'https:') {
      openTunnel(proxy, target, track).then(send, (err: HttpError) => finish(err));
    } else {
      send(undefined);
    }
  });
}
