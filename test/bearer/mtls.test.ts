import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest, createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { certificateFromHeader, certificateThumbprint } from '../../src/bearer/mtls.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { requireBearer } from '../../src/bearer/middleware.js';
import { AUDIENCE, expectRefusal, guardedApp, memoryLogger } from './fixtures.js';

const run = promisify(execFile);

interface Pem {
  key: string;
  cert: string;
}

let dir: string;
let ca: Pem;
let server: Pem;
let client: Pem;
let otherClient: Pem;
let selfSigned: Pem;
let jwks: JwksServer;

/** Runs openssl in the temp dir. */
async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function read(name: string): Promise<Pem> {
  return { key: await readFile(join(dir, `${name}.key`), 'utf8'), cert: await readFile(join(dir, `${name}.crt`), 'utf8') };
}

/** A key and a certificate signed by the test CA. */
async function issue(name: string, subject: string, extensions: string): Promise<Pem> {
  await openssl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-subj',
    subject,
    '-out',
    `${name}.csr`,
  );
  await writeFile(join(dir, `${name}.ext`), extensions);
  await openssl(
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  );
  return read(name);
}

const thumbprintOf = (pem: string): string => certificateThumbprint(new X509Certificate(pem).raw);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bearer-mtls-'));
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=Test CA',
  );
  ca = await read('ca');
  server = await issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  client = await issue('client', '/CN=client-1', 'extendedKeyUsage=clientAuth\n');
  otherClient = await issue('other', '/CN=client-2', 'extendedKeyUsage=clientAuth\n');
  await openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'self.key',
    '-out',
    'self.crt',
    '-days',
    '2',
    '-subj',
    '/CN=self-signed-client',
  );
  selfSigned = await read('self');
  jwks = await startJwksServer({ algorithms: ['ES256'] });
}, 60_000);

afterAll(async () => {
  await jwks.close();
  await rm(dir, { recursive: true, force: true });
});

const explicit = (): BearerOptions => ({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE });
const token = (claims: Record<string, unknown> = {}) => mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims });
const boundTo = (pem: string) => token({ cnf: { 'x5t#S256': thumbprintOf(pem) } });
const invalidToken = (description: string) => ({ error: 'invalid_token', error_description: description });
const bearerChallenge = (description: string) => `Bearer realm="api", error="invalid_token", error_description="${description}"`;

describe('certificate-bound access tokens (RFC 8705 §3)', () => {
  describe('client certificate from the TLS socket (the app terminates TLS)', () => {
    let https: Server;
    let port: number;
    const sockets = new Set<Socket>();

    beforeAll(async () => {
      const { app } = guardedApp(explicit());
      https = createHttpsServer({ key: server.key, cert: server.cert, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, app);
      https.on('secureConnection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      port = (https.address() as AddressInfo).port;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => https.close(resolve));
    });

    /** GET /api/me over TLS with an optional client certificate; a fresh connection each time. */
    function get(
      accessToken: string,
      certificate?: Pem,
    ): Promise<{ status: number; challenge: string | undefined; body: unknown; cacheControl: string | undefined }> {
      return new Promise((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port,
            path: '/api/me',
            method: 'GET',
            ca: ca.cert,
            agent: false,
            headers: { authorization: `Bearer ${accessToken}` },
            ...(certificate ? { key: certificate.key, cert: certificate.cert } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              resolve({
                status: res.statusCode ?? 0,
                challenge: res.headers['www-authenticate'],
                body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
                cacheControl: res.headers['cache-control'],
              });
            });
          },
        );
        req.on('error', reject);
        req.end();
      });
    }

    it('accepts a token bound to the presented client certificate', async () => {
      const res = await get(await boundTo(client.cert), client);
      expect([res.status, res.body]).toEqual([200, expect.objectContaining({ present: true, sub: 'user-123' })]);
    });

    it('accepts a token bound to a self-signed client certificate (RFC 8705 §2.2)', async () => {
      const res = await get(await boundTo(selfSigned.cert), selfSigned);
      expect(res.status).toBe(200);
    });

    it('answers 401 invalid_token for a bound token without a client certificate', async () => {
      const description = 'certificate-bound token sent without a client certificate';
      const res = await get(await boundTo(client.cert));
      expect(res).toEqual({
        status: 401,
        challenge: bearerChallenge(description),
        body: invalidToken(description),
        cacheControl: 'no-store',
      });
    });

    it('answers 401 invalid_token for another client certificate (wrong thumbprint)', async () => {
      const description = 'client certificate does not match the token binding';
      const res = await get(await boundTo(client.cert), otherClient);
      expect(res).toEqual({
        status: 401,
        challenge: bearerChallenge(description),
        body: invalidToken(description),
        cacheControl: 'no-store',
      });
    });

    it('answers 401 invalid_token when the thumbprint is of the certificate in PEM text, not of its DER bytes', async () => {
      const wrong = createHash('sha256').update(client.cert).digest('base64url');
      const res = await get(await token({ cnf: { 'x5t#S256': wrong } }), client);
      expect(res.status).toBe(401);
      expect(res.body).toEqual(invalidToken('client certificate does not match the token binding'));
    });

    it('accepts an unbound token with or without a client certificate', async () => {
      expect((await get(await token(), client)).status).toBe(200);
      expect((await get(await token())).status).toBe(200);
    });

    it('refuses a malformed x5t#S256', async () => {
      const res = await get(await token({ cnf: { 'x5t#S256': 'short' } }), client);
      expect([res.status, res.body]).toEqual([401, invalidToken('token has an invalid cnf claim')]);
    });
  });

  describe('option mtls.certificateHeader (a trusted TLS-terminating proxy)', () => {
    const header = 'X-Client-Cert';
    const viaProxy = () => guardedApp({ ...explicit(), mtls: { certificateHeader: header } }).app;
    const nginxEscaped = (pem: string) => encodeURIComponent(pem);

    it('accepts a bound token with the certificate in the header as URL-encoded PEM (nginx $ssl_client_escaped_cert)', async () => {
      const res = await request(viaProxy())
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`)
        .set(header, nginxEscaped(client.cert));
      expect(res.status).toBe(200);
    });

    it('accepts PEM whose line breaks a proxy folded into spaces', async () => {
      const folded = client.cert.trim().replace(/\n/g, ' ');
      const res = await request(viaProxy())
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`)
        .set(header, folded);
      expect(res.status).toBe(200);
    });

    it('answers 401 invalid_token for another certificate in the header', async () => {
      const description = 'client certificate does not match the token binding';
      const res = await request(viaProxy())
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`)
        .set(header, nginxEscaped(otherClient.cert));
      expectRefusal(res, 401, bearerChallenge(description), invalidToken(description));
    });

    it('answers 401 invalid_token without the header', async () => {
      const description = 'certificate-bound token sent without a client certificate';
      const res = await request(viaProxy())
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`);
      expectRefusal(res, 401, bearerChallenge(description), invalidToken(description));
    });

    it.each([
      ['not PEM', 'hello'],
      ['a broken percent-encoding', '%E0%A4%A'],
      ['PEM of a non-certificate', encodeURIComponent('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')],
    ])('answers 401 invalid_token for %s in the header', async (_name, value) => {
      const description = 'client certificate unreadable';
      const res = await request(viaProxy())
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`)
        .set(header, value);
      expectRefusal(res, 401, bearerChallenge(description), invalidToken(description));
    });

    it('ignores the header when the option is off (off by default): a client cannot claim a certificate', async () => {
      const description = 'certificate-bound token sent without a client certificate';
      const { app } = guardedApp(explicit());
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await boundTo(client.cert)}`)
        .set(header, nginxEscaped(client.cert));
      expectRefusal(res, 401, bearerChallenge(description), invalidToken(description));
    });

    it('certificateFromHeader returns the DER bytes the thumbprint is taken over', () => {
      const der = certificateFromHeader(nginxEscaped(client.cert));
      expect(der && certificateThumbprint(der)).toBe(thumbprintOf(client.cert));
      expect(certificateFromHeader(undefined)).toBeUndefined();
      expect(certificateFromHeader('')).toBeUndefined();
    });

    it.each<[string, unknown, RegExp]>([
      ['an empty header name', { certificateHeader: '' }, /Option "mtls.certificateHeader" must be a non-empty string/],
      ['a header name with a space', { certificateHeader: 'x client cert' }, /Option "mtls.certificateHeader" must be a header name/],
      [
        'a header the client sets',
        { certificateHeader: 'Authorization' },
        /Option "mtls.certificateHeader" must be a header set by your TLS-terminating proxy/,
      ],
      ['an unknown member', { header: 'x-client-cert' }, /Option "mtls.header" is not a known option/],
    ])('throws a TypeError at mount time for %s', (_name, mtls, message) => {
      const make = () => requireBearer({ ...explicit(), logger: memoryLogger(), mtls } as BearerOptions);
      expect(make).toThrow(TypeError);
      expect(make).toThrow(message);
    });
  });
});
