import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IssuerDiscovery, discover, discoveryUrls, issuerMatches } from '../../src/issuer/discovery.js';
import { IssuerResponseError, ServiceUnavailableError } from '../../src/errors/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse, base: string) => void;

async function serve(handler: Handler): Promise<{ server: Server; base: string; hits: string[] }> {
  const hits: string[] = [];
  let base = '';
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res, base);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, base, hits };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('issuer discovery (OpenID Connect Discovery 1.0 §4, RFC 8414 §3)', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('builds both well-known URLs, with RFC 8414 path insertion for an issuer with a path', () => {
    expect(discoveryUrls('https://a.example/tenant/').map(String)).toEqual([
      'https://a.example/tenant/.well-known/openid-configuration',
      'https://a.example/.well-known/oauth-authorization-server/tenant',
    ]);
  });

  it('compares issuers exactly, allowing only the root slash of a path-less issuer', () => {
    expect(issuerMatches('https://a.example', 'https://a.example/')).toBe(true);
    expect(issuerMatches('https://a.example/t', 'https://a.example/t/')).toBe(false);
    expect(issuerMatches('https://a.example/', 'https://a.example')).toBe(false);
    expect(issuerMatches('https://a.example', 'https://A.example')).toBe(false);
  });

  it('reads the OpenID Connect document', async () => {
    const s = await serve((req, res, base) =>
      req.url === '/.well-known/openid-configuration' ? json(res, 200, { issuer: base, jwks_uri: `${base}/jwks` }) : json(res, 404, {}),
    );
    servers.push(s.server);
    const md = await discover(s.base);
    expect(md.jwks_uri).toBe(`${s.base}/jwks`);
  });

  it('falls back to RFC 8414 metadata when the OpenID Connect document is missing', async () => {
    const s = await serve((req, res, base) =>
      req.url === '/.well-known/oauth-authorization-server'
        ? json(res, 200, { issuer: base, token_endpoint: `${base}/token` })
        : json(res, 404, {}),
    );
    servers.push(s.server);
    const md = await discover(s.base);
    expect(md.token_endpoint).toBe(`${s.base}/token`);
    expect(s.hits).toEqual(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  });

  it('rejects a document that names another issuer (502)', async () => {
    const s = await serve((_req, res) => json(res, 200, { issuer: 'https://evil.example' }));
    servers.push(s.server);
    await expect(discover(s.base)).rejects.toBeInstanceOf(IssuerResponseError);
  });

  it('rejects an endpoint that is not an http(s) URL', async () => {
    const s = await serve((_req, res, base) => json(res, 200, { issuer: base, jwks_uri: 'javascript:alert(1)' }));
    servers.push(s.server);
    await expect(discover(s.base)).rejects.toMatchObject({ status: 502 });
  });

  it('answers 503 when the issuer cannot be reached', async () => {
    const s = await serve(() => undefined);
    const base = s.base;
    await new Promise((r) => s.server.close(r));
    await expect(discover(base)).rejects.toBeInstanceOf(ServiceUnavailableError);
  });

  it('answers 503 when the issuer does not answer in time', async () => {
    const s = await serve(() => undefined); // never answers
    servers.push(s.server);
    await expect(discover(s.base, 200)).rejects.toBeInstanceOf(ServiceUnavailableError);
    s.server.closeAllConnections();
  });

  describe('IssuerDiscovery cache', () => {
    it('fetches once for many concurrent callers and caches the result', async () => {
      const s = await serve((_req, res, base) => json(res, 200, { issuer: base }));
      servers.push(s.server);
      const d = new IssuerDiscovery(s.base, { logger: silent });
      await Promise.all(Array.from({ length: 20 }, () => d.metadata()));
      await d.metadata();
      expect(d.fetchCount).toBe(1);
      expect(s.hits).toHaveLength(1);
    });

    it('fails fast during backoff after a failure, then recovers without a restart', async () => {
      let up = false;
      const s = await serve((_req, res, base) => (up ? json(res, 200, { issuer: base }) : json(res, 500, {})));
      servers.push(s.server);
      const d = new IssuerDiscovery(s.base, { logger: silent, retryMinDelayMs: 100, retryMaxDelayMs: 100 });
      await expect(d.metadata()).rejects.toMatchObject({ status: 502 });
      const hitsAfterFirst = s.hits.length;
      await expect(d.metadata()).rejects.toMatchObject({ status: 502 });
      expect(s.hits.length).toBe(hitsAfterFirst); // within backoff: no new request
      up = true;
      const deadline = Date.now() + 5000;
      let md;
      while (!md && Date.now() < deadline) {
        md = await d.metadata().catch(() => undefined);
        if (!md) await new Promise((r) => setTimeout(r, 20));
      }
      expect(md?.issuer).toBe(s.base);
    });
  });
});
