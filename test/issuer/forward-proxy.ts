/**
 * A small forward proxy on 127.0.0.1 for the proxy tests: absolute-form requests for http URLs
 * (RFC 9112 §3.2.2) are relayed, `CONNECT host:port` (RFC 9110 §9.3.6) opens a tunnel. It records
 * what it relayed, and can demand `Proxy-Authorization`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

export interface Relayed {
  /** `forward` for an absolute-form request, `connect` for a tunnel. */
  kind: 'forward' | 'connect';
  /** The absolute URL (forward) or `host:port` (connect). */
  target: string;
  method: string;
}

export interface ForwardProxy {
  url: string;
  relayed: Relayed[];
  /** Set to demand this `Proxy-Authorization` value; others get 407. */
  requireAuthorization: string | undefined;
  close(): Promise<void>;
}

export async function startForwardProxy(): Promise<ForwardProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer();
  const proxy: ForwardProxy = {
    url: '',
    relayed: [],
    requireAuthorization: undefined,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const authorized = (req: IncomingMessage): boolean =>
    proxy.requireAuthorization === undefined || req.headers['proxy-authorization'] === proxy.requireAuthorization;

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const target = req.url ?? '';
    if (!/^http:\/\//.test(target)) {
      res.writeHead(400).end('absolute-form only');
      return;
    }
    if (!authorized(req)) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    proxy.relayed.push({ kind: 'forward', target, method: req.method ?? 'GET' });
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const upstream = httpRequest(target, { method: req.method, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (!authorized(req)) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const target = req.url ?? '';
    proxy.relayed.push({ kind: 'connect', target, method: 'CONNECT' });
    const colon = target.lastIndexOf(':');
    const upstream = connect(Number(target.slice(colon + 1)), target.slice(0, colon).replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
