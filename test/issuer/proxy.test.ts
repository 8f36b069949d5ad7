/**
 * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` for the issuer calls of both halves (issue 16 B):
 * Node 20's global `fetch` ignores them, so `auth()` and `requireBearer()` read them once, when
 * called, and send the issuer calls through a real forward proxy on loopback (test/issuer/
 * forward-proxy.ts): absolute-form requests for http issuers, a `CONNECT` tunnel for https ones,
 * with TLS to the issuer checked end to end.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import express from 'express';
import request from 'supertest';
import { backChannelFetch } from '../../src/login/mtls.js';
import { proxySettings } from '../../src/issuer/proxy.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { generateTestKey, startJwksServer, type JwksServer, type TestKey } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { Browser } from '../support/browser.js';
import { cleansPrefixAfterAll, startAppServer, startLoginApp, testPrefix } from '../login/setup.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { guardedApp, AUDIENCE } from '../bearer/fixtures.js';
import { startForwardProxy, type ForwardProxy } from './forward-proxy.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_VARIABLES = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

/** Runs `fn` with exactly these proxy variables set (the others unset), then restores them all. */
function withProxyEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]));
  try {
    for (const name of PROXY_VARIABLES) delete process.env[name];
    Object.assign(process.env, vars);
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const pathsOf = (proxy: ForwardProxy) =>
  proxy.relayed.map((r) => `${r.kind} ${r.kind === 'forward' ? new URL(r.target).pathname : r.target}`);

/** An https issuer on 127.0.0.1 with the test PKI's server certificate: discovery and JWKS, counted. */
async function startHttpsIssuer(pki: TestPki, key: TestKey, options: { requestCert?: boolean } = {}) {
  const requests: Array<{ path: string; clientCert: string | undefined }> = [];
  const server: HttpsServer = createHttpsServer({
    key: pki.server.key,
    cert: pki.server.cert,
    ca: pki.ca.cert,
    requestCert: options.requestCert ?? false,
    rejectUnauthorized: false,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Sockets whose TLS handshake failed are no HTTP connections: close() must drop them itself.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const socket = req.socket as TLSSocket;
    const cn = socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined;
    const peer = Array.isArray(cn) ? cn.join(',') : cn;
    requests.push({ path: req.url ?? '', clientCert: peer });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [key.publicJwk] }));
    else if (req.url === '/whoami') res.end(JSON.stringify({ cn: peer ?? null }));
    else res.writeHead(404).end('{}');
  });
  return {
    issuer,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let proxy: ForwardProxy;
let pki: TestPki;
beforeAll(async () => {
  proxy = await startForwardProxy();
  pki = makeTestPki();
});
afterAll(async () => {
  await proxy.close();
});
beforeEach(() => {
  proxy.relayed = [];
  proxy.requireAuthorization = undefined;
});

describe('requireBearer() at an http issuer', () => {
  let issuer: JwksServer;
  let token: string;
  beforeAll(async () => {
    issuer = await startJwksServer();
    token = await mintToken({ key: issuer.key, issuer: issuer.issuer, audience: AUDIENCE });
  });
  afterAll(async () => {
    await issuer.close();
  });

  const guard = (vars: Record<string, string>) =>
    withProxyEnv(vars, () => guardedApp({ issuerBaseURL: issuer.issuer, audience: AUDIENCE }).app);

  it('sends discovery and the JWKS request through HTTP_PROXY as absolute-form requests', async () => {
    const before = { ...issuer.counts };
    const app = guard({ HTTP_PROXY: proxy.url });
    const res = await request(app).get('/api/me').set('authorization', `Bearer ${token}`);
    expect([res.status, (res.body as { sub?: string }).sub]).toEqual([200, 'user-123']);
    expect(pathsOf(proxy)).toEqual(['forward /.well-known/openid-configuration', 'forward /jwks']);
    expect(proxy.relayed.every((r) => r.target.startsWith(`${issuer.issuer}/`))).toBe(true);
    // Everything the issuer answered came through the proxy.
    expect([issuer.counts.discovery - before.discovery, issuer.counts.jwks - before.jwks]).toEqual([1, 1]);
  });

  it('reads the lower-case http_proxy before HTTP_PROXY', async () => {
    const other = await startForwardProxy();
    try {
      const app = guard({ http_proxy: proxy.url, HTTP_PROXY: other.url });
      expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect([proxy.relayed.length, other.relayed.length]).toEqual([2, 0]);
    } finally {
      await other.close();
    }
  });

  it.each([['127.0.0.1'], ['localhost, 127.0.0.1'], ['*'], [`127.0.0.1:${'PORT'}`]])(
    'goes direct for a host in NO_PROXY (%s)',
    async (noProxy) => {
      const app = guard({ HTTP_PROXY: proxy.url, NO_PROXY: noProxy.replace('PORT', new URL(issuer.issuer).port) });
      expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
      expect(proxy.relayed).toEqual([]);
    },
  );

  it('still uses the proxy when NO_PROXY names another host or port', async () => {
    const app = guard({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com,.corp.example,127.0.0.1:1' });
    expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
    expect(pathsOf(proxy)).toEqual(['forward /.well-known/openid-configuration', 'forward /jwks']);
  });

  it('sends Proxy-Authorization from the credentials in the proxy URL', async () => {
    proxy.requireAuthorization = `Basic ${Buffer.from('corp user:p@ss word').toString('base64')}`;
    const withCredentials = new URL(proxy.url);
    withCredentials.username = 'corp%20user';
    withCredentials.password = 'p%40ss%20word';
    const app = guard({ HTTP_PROXY: withCredentials.href });
    expect((await request(app).get('/api/me').set('authorization', `Bearer ${token}`)).status).toBe(200);
    expect(proxy.relayed).toHaveLength(2);
  });

  it('answers 503 when the proxy refuses (407), never going around it', async () => {
    proxy.requireAuthorization = 'Basic bm90OnNlbnQ=';
    const before = issuer.counts.discovery;
    const app = guard({ HTTP_PROXY: proxy.url });
    const res = await request(app).get('/api/me').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(issuer.counts.discovery).toBe(before);
  });

  it('refuses a proxy variable that is not an http(s) URL at start-up, naming it', () => {
    expect(() => guard({ HTTPS_PROXY: 'socks5://127.0.0.1:1080' })).toThrow(
      /HTTPS_PROXY environment variable must be an http:\/\/ or https:\/\/ proxy URL/,
    );
    expect(() => guard({ HTTP_PROXY: 'http://[broken' })).toThrow(/HTTP_PROXY environment variable must be a proxy URL/);
  });
});

describe('README "fetch and proxies"', () => {
  it('names every proxy variable and says lower-case names come first', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('#### `fetch` and proxies'),
      readme.indexOf('\n#### ', readme.indexOf('#### `fetch` and proxies') + 1),
    );
    for (const name of ['HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) expect(section).toContain(`\`${name}\``);
    expect(section).toContain('lower-case names first');
  });
});

describe('auth() at an http issuer', () => {
  const prefix = testPrefix('issuer-proxy');
  cleansPrefixAfterAll(prefix);
  let issuer: HostileIssuer;
  beforeAll(async () => {
    issuer = await startHostileIssuer();
  });
  afterAll(async () => {
    await issuer.close();
  });

  it('sends discovery, the JWKS and the token request of a sign-in through HTTP_PROXY', async () => {
    // auth() reads the variables when called: startLoginApp() calls it at once when given a server.
    const server = await startAppServer();
    const app = await withProxyEnv({ HTTP_PROXY: proxy.url }, () =>
      startLoginApp({
        issuer,
        prefix,
        server,
        auth: { clientSecret: 'hostile-client-secret' },
        app: (oidc) =>
          express()
            .use(oidc)
            .get('/me', (req, res) => res.json({ sub: req.oidc.user?.sub ?? null })),
      }),
    );
    try {
      const browser = new Browser();
      const login = await browser.get(`${app.url}/login`);
      expect(login.status).toBe(302);
      const back = await browser.get(login.location!);
      expect((await browser.get(back.location!)).status).toBe(302);
      expect(JSON.parse((await browser.get(`${app.url}/me`)).text)).toEqual({ sub: 'hostile-user' });
      expect(pathsOf(proxy)).toEqual(['forward /.well-known/openid-configuration', 'forward /token', 'forward /jwks']);
      expect(proxy.relayed.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
    } finally {
      await app.close();
    }
  });
});

describe('an https issuer: a CONNECT tunnel, TLS checked end to end', () => {
  let key: TestKey;
  let https: Awaited<ReturnType<typeof startHttpsIssuer>>;
  beforeAll(async () => {
    key = await generateTestKey('ES256');
    https = await startHttpsIssuer(pki, key, { requestCert: true });
  });
  afterAll(async () => {
    await https.close();
  });

  it('requireBearer() discovers and fetches keys through HTTPS_PROXY, trusting the CA of NODE_EXTRA_CA_CERTS, and leaves nothing open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oidc-guard-proxy-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), pki.ca.cert);
      const token = await mintToken({ key, issuer: https.issuer, audience: AUDIENCE, subject: 'through-the-tunnel' });
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'), ISSUER: https.issuer, TOKEN: token };
      for (const name of PROXY_VARIABLES) delete env[name];
      env.HTTPS_PROXY = proxy.url;
      const output = await new Promise<string>((resolve, reject) => {
        execFile(
          process.execPath,
          ['node_modules/tsx/dist/cli.mjs', 'test/issuer/proxy-child.ts'],
          { cwd: root, env, timeout: 30_000 },
          (err, stdout, stderr) => {
            if (err)
              reject(
                new Error(
                  `${err.message} (killed: ${String(err.killed)}, signal: ${String(err.signal)})\nstdout: ${stdout}\nstderr: ${stderr}`,
                ),
              );
            else resolve(stdout);
          },
        );
      });
      expect(JSON.parse(output)).toEqual({ status: 200, body: { sub: 'through-the-tunnel' } });
      const authority = new URL(https.issuer).host;
      expect(proxy.relayed.length).toBeGreaterThan(0);
      expect(proxy.relayed.every((r) => r.kind === 'connect' && r.target === authority)).toBe(true);
      expect(https.requests.map((r) => r.path).slice(-2)).toEqual(['/.well-known/openid-configuration', '/jwks']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses an issuer certificate the process does not trust: 503 through the tunnel, no request reaches the issuer', async () => {
    const before = https.requests.length;
    const token = await mintToken({ key, issuer: https.issuer, audience: AUDIENCE });
    const app = withProxyEnv({ HTTPS_PROXY: proxy.url }, () => guardedApp({ issuerBaseURL: https.issuer, audience: AUDIENCE }).app);
    const res = await request(app).get('/api/me').set('authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(pathsOf(proxy)).toEqual([`connect ${new URL(https.issuer).host}`]);
    expect(https.requests.length).toBe(before);
  });

  it('presents the mtls client certificate inside the tunnel (RFC 8705), checking the issuer against mtls.ca', async () => {
    const transport = { proxy: proxySettings({ httpsProxy: proxy.url }) };
    const tls = { key: pki.client.key, cert: pki.client.cert, ca: pki.ca.cert };
    const answer = await backChannelFetch(`${https.issuer}/whoami`, { timeoutMs: 5000 }, { tls, transport });
    expect([answer.status, answer.body]).toEqual([200, { cn: 'mtls-client' }]);
    expect(pathsOf(proxy)).toEqual([`connect ${new URL(https.issuer).host}`]);
  });

  it('refuses the tunnelled issuer when its certificate is not from mtls.ca', async () => {
    const transport = { proxy: proxySettings({ httpsProxy: proxy.url }) };
    const tls = { key: pki.client.key, cert: pki.client.cert, ca: pki.stranger.cert };
    await expect(backChannelFetch(`${https.issuer}/whoami`, { timeoutMs: 5000 }, { tls, transport })).rejects.toMatchObject({
      name: 'HttpError',
      kind: 'network',
    });
  });
});
