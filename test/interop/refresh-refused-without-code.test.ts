/**
 * Glewlwyd 2.7 answers a refresh with a revoked or unknown refresh token with `400` and an empty
 * body, where RFC 6749 §5.2 wants `{"error":"invalid_grant"}`. A 400 with no error code on a
 * refresh is taken as the grant refused (the session signs out and the user signs in again), not
 * as a broken issuer (502). Anything with another error code keeps its meaning.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidGrantError, IssuerResponseError } from '../../src/errors/index.js';
import type { IssuerMetadata } from '../../src/issuer/discovery.js';
import { tokenRequest } from '../../src/login/token-endpoint.js';

let server: http.Server;
let metadata: IssuerMetadata;
let answer: { status: number; body: string };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer.status, answer.body ? { 'content-type': 'application/json' } : {}).end(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  metadata = {
    issuer: base,
    authorization_endpoint: `${base}/auth`,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/jwks`,
  } as IssuerMetadata;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const client = { method: 'client_secret_basic', clientID: 'c1', clientSecret: 's1' } as const;
const refresh = { grant_type: 'refresh_token', refresh_token: 'rt-1' };

describe('RFC 6749 §5.2: a refused refresh without an error code (Glewlwyd 2.7)', () => {
  it('takes 400 with an empty body on a refresh as invalid_grant', async () => {
    answer = { status: 400, body: '' };
    await expect(tokenRequest(metadata, client, refresh, 5000)).rejects.toBeInstanceOf(InvalidGrantError);
  });

  it('keeps 400 invalid_request on a refresh an issuer error (502)', async () => {
    answer = { status: 400, body: JSON.stringify({ error: 'invalid_request' }) };
    await expect(tokenRequest(metadata, client, refresh, 5000)).rejects.toBeInstanceOf(IssuerResponseError);
  });

  it('keeps 400 with an empty body on a code exchange an issuer error (502)', async () => {
    answer = { status: 400, body: '' };
    const code = { grant_type: 'authorization_code', code: 'c', redirect_uri: 'http://localhost/cb' };
    await expect(tokenRequest(metadata, client, code, 5000)).rejects.toBeInstanceOf(IssuerResponseError);
  });
});
