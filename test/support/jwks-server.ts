/**
 * A small issuer on the loopback interface: serves discovery metadata and a JWKS for keys it
 * generates, counts every request, and can be switched to fail, hang or rotate its keys. For the
 * cases a real authorization server cannot produce on demand.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** A signing key of the test issuer. */
export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public JWK as served (with `kid`, `alg`, `use`). */
  publicJwk: JWK;
}

/**
 * How an endpoint behaves: `ok` answers; `error` answers HTTP 500; `hang` never answers;
 * `reset` drops the connection; `garbage` answers 200 with a body that is not JSON.
 */
export type EndpointMode = 'ok' | 'error' | 'hang' | 'reset' | 'garbage';

export interface JwksServerOptions {
  /** Algorithms of the initial keys, one key each. Default `['RS256']`. */
  algorithms?: string[];
  /** Extra or overriding members of the discovery document. */
  metadata?: Record<string, unknown>;
  /** A path under the origin for the issuer (`/tenant`). Default none. */
  issuerPath?: string;
}

let kidCounter = 0;

/** Generates a key pair for `alg` with a fresh `kid`. */
export async function generateTestKey(alg = 'RS256', kid?: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  kidCounter += 1;
  const id = kid ?? `key-${alg.toLowerCase()}-${kidCounter}-${Math.random().toString(36).slice(2, 8)}`;
  const publicJwk = { ...(await exportJWK(publicKey)), kid: id, alg, use: 'sig' };
  return { kid: id, alg, privateKey, publicKey, publicJwk };
}

export class JwksServer {
  /** The issuer identifier (`http://127.0.0.1:PORT[/path]`). */
  readonly issuer: string;
  readonly jwksUri: string;
  /** Keys currently served. */
  keys: TestKey[];
  /** Extra members of the discovery document; editable between requests. */
  metadata: Record<string, unknown>;
  jwksMode: EndpointMode = 'ok';
  discoveryMode: EndpointMode = 'ok';
  /** Request counts by kind, and every path asked for. */
  readonly counts = { discovery: 0, jwks: 0, other: 0 };
  readonly paths: string[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly origin: string,
    issuerPath: string,
    keys: TestKey[],
    metadata: Record<string, unknown>,
  ) {
    this.issuer = `${origin}${issuerPath}`;
    this.jwksUri = `${origin}${issuerPath}/jwks`;
    this.keys = keys;
    this.metadata = metadata;
  }

  /** Starts the server on 127.0.0.1 with a free port. */
  static async start(options: JwksServerOptions = {}): Promise<JwksServer> {
    const keys = await Promise.all((options.algorithms ?? ['RS256']).map((alg) => generateTestKey(alg)));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const jwks = new JwksServer(server, `http://127.0.0.1:${port}`, options.issuerPath ?? '', keys, options.metadata ?? {});
    server.on('connection', (socket) => {
      jwks.sockets.add(socket);
      socket.on('close', () => jwks.sockets.delete(socket));
    });
    server.on('request', (req, res) => jwks.handle(req, res));
    return jwks;
  }

  /** The key served first (the usual signing key). */
  get key(): TestKey {
    const key = this.keys[0];
    if (!key) throw new Error('the test issuer serves no keys');
    return key;
  }

  /** Total requests to the JWKS endpoint. */
  get jwksFetches(): number {
    return this.counts.jwks;
  }

  /** Generates a key and serves it (alone with `replace`, else next to the others). */
  async rotate(options: { alg?: string; replace?: boolean } = {}): Promise<TestKey> {
    const key = await generateTestKey(options.alg ?? 'RS256');
    this.keys = options.replace ? [key] : [key, ...this.keys];
    return key;
  }

  /** The discovery document as served. */
  discoveryDocument(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: this.jwksUri,
      token_endpoint: `${this.issuer}/token`,
      authorization_endpoint: `${this.issuer}/authorize`,
      id_token_signing_alg_values_supported: [...new Set(this.keys.map((k) => k.alg))],
      ...this.metadata,
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    this.paths.push(path);
    const prefix = new URL(this.issuer).pathname.replace(/\/$/, '');
    if (path === `${prefix}/.well-known/openid-configuration` || path === `/.well-known/oauth-authorization-server${prefix}`) {
      this.counts.discovery += 1;
      this.answer(res, this.discoveryMode, () => this.discoveryDocument());
      return;
    }
    if (path === `${prefix}/jwks`) {
      this.counts.jwks += 1;
      this.answer(res, this.jwksMode, () => ({ keys: this.keys.map((k) => k.publicJwk) }));
      return;
    }
    this.counts.other += 1;
    res.statusCode = 404;
    res.end();
  }

  private answer(res: ServerResponse, mode: EndpointMode, body: () => unknown): void {
    switch (mode) {
      case 'ok':
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body()));
        return;
      case 'error':
        res.statusCode = 500;
        res.end('{"error":"server_error"}');
        return;
      case 'garbage':
        res.setHeader('content-type', 'application/json');
        res.end('<html>not json');
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
    }
  }

  /** Stops the server, dropping hanging requests and open connections. */
  async close(): Promise<void> {
    for (const res of this.hanging) res.socket?.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Starts a test issuer; see `JwksServer`. */
export function startJwksServer(options: JwksServerOptions = {}): Promise<JwksServer> {
  return JwksServer.start(options);
}
