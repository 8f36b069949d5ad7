/**
 * Issue 16 B: where a certificate-bound token's client certificate (RFC 8705 §3) may come from
 * besides the TLS socket and URL-encoded PEM: a `getCertificate(req)` function (as
 * express-oauth2-jwt-bearer takes it), Envoy's `X-Forwarded-Client-Cert`, and base64 DER (as
 * Cloudflare sends it in `Cf-Client-Cert-Der-Base64`).
 */
import { X509Certificate } from 'node:crypto';
import type { Request } from 'express';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useBearerGuard } from '../support/bearer-guard.js';
import { makeTestPki } from '../support/pki.js';
import { mintToken } from '../support/tokens.js';
import { certificateFromHeader, certificateThumbprint } from '../../src/bearer/mtls.js';
import { createBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { AUDIENCE, challengeFor, expectRefusal } from './fixtures.js';

let cert: string;
let other: string;
let issuer: HostileIssuer;
const guards = useBearerGuard({ onIssuer: (started) => (issuer = started) });

beforeAll(() => {
  // Two certificates with different thumbprints; which CA signed them does not matter here.
  const pki = makeTestPki();
  cert = pki.client.cert;
  other = pki.stranger.cert;
});

const der = (pem: string): Buffer => Buffer.from(new X509Certificate(pem).raw);
const boundTo = (pem: string) =>
  mintToken({
    key: issuer.currentKey,
    issuer: issuer.issuer,
    audience: AUDIENCE,
    claims: { cnf: { 'x5t#S256': certificateThumbprint(der(pem)) } },
  });

const start = (mtls: BearerOptions['mtls']) => guards.start({ mtls }).agent;

const mismatch = { error: 'invalid_token', error_description: 'client certificate does not match the token binding' };

describe('mtls.getCertificate(req) (RFC 8705 §3)', () => {
  it.each([
    ['PEM', (pem: string) => pem],
    ['DER bytes', (pem: string) => der(pem)],
    ['a Uint8Array', (pem: string) => new Uint8Array(der(pem))],
  ])('accepts the bound certificate given as %s, and refuses another', async (_label, as) => {
    const agent = start({ getCertificate: (req: Request) => (req.headers['x-test-cert'] === 'other' ? as(other) : as(cert)) });
    const token = await boundTo(cert);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${token}`).set('X-Test-Cert', 'other');
    expectRefusal(res, 401, challengeFor('invalid_token', mismatch.error_description), mismatch);
  });

  it('refuses a bound token when it returns no certificate', async () => {
    const agent = start({ getCertificate: () => undefined });
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${await boundTo(cert)}`);
    expect([res.status, res.body.error_description]).toEqual([401, 'certificate-bound token sent without a client certificate']);
  });

  it('is refused next to certificateHeader, and when not a function', () => {
    const base = { issuer: issuer.issuer, jwksUri: `${issuer.issuer}/jwks`, audience: AUDIENCE, allowInsecureHttp: true };
    expect(() => createBearerVerifier({ ...base, mtls: { getCertificate: () => undefined, certificateHeader: 'x-client-cert' } })).toThrow(
      /Option "mtls.certificateHeader"/,
    );
    expect(() => createBearerVerifier({ ...base, mtls: { getCertificate: 'x' as never } })).toThrow(/Option "mtls.getCertificate"/);
  });
});

describe("Envoy's X-Forwarded-Client-Cert", () => {
  const xfcc = (pem: string) =>
    `By=spiffe://cluster.local/ns/default/sa/api;Hash=abc123;Cert="${encodeURIComponent(pem)}";Subject="CN=client,O=Example";URI=`;

  it('accepts the bound certificate from the Cert element, and refuses another', async () => {
    const agent = start({ certificateHeader: 'x-forwarded-client-cert' });
    const token = await boundTo(cert);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`).set('X-Forwarded-Client-Cert', xfcc(cert))).status).toBe(
      200,
    );
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${token}`).set('X-Forwarded-Client-Cert', xfcc(other));
    expectRefusal(res, 401, challengeFor('invalid_token', mismatch.error_description), mismatch);
  });

  it('reads the element the nearest proxy appended (the last one)', () => {
    expect(certificateFromHeader(`${xfcc(other)},${xfcc(cert)}`)).toEqual(new Uint8Array(der(cert)));
  });

  it('treats an element without Cert as no certificate, and a broken Cert as unreadable', () => {
    expect(certificateFromHeader('By=spiffe://x;Hash=abc')).toBeUndefined();
    expect(() => certificateFromHeader('Hash=abc;Cert="not-a-certificate"')).toThrow('client certificate unreadable');
  });
});

describe('base64 DER (Cloudflare Cf-Client-Cert-Der-Base64)', () => {
  it('accepts the bound certificate, and refuses another', async () => {
    const agent = start({ certificateHeader: 'cf-client-cert-der-base64' });
    const token = await boundTo(cert);
    expect(
      (await agent.get('/api/me').set('Authorization', `Bearer ${token}`).set('Cf-Client-Cert-Der-Base64', der(cert).toString('base64')))
        .status,
    ).toBe(200);
    const res = await agent
      .get('/api/me')
      .set('Authorization', `Bearer ${token}`)
      .set('Cf-Client-Cert-Der-Base64', der(other).toString('base64'));
    expectRefusal(res, 401, challengeFor('invalid_token', mismatch.error_description), mismatch);
  });

  it('refuses base64 that is not a certificate', () => {
    expect(() => certificateFromHeader(Buffer.from('hello world').toString('base64'))).toThrow('client certificate unreadable');
  });
});
