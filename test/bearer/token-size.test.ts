/**
 * Issue 15 §6: large access tokens. Keycloak or Entra ID tokens with many roles or groups pass
 * 8 KB; the limit is the `maxTokenLength` option, whose default fits Node's own 16 KiB header
 * limit, and a well-formed token under it goes through normal verification.
 */
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useBearerGuard } from '../support/bearer-guard.js';
import { mintToken } from '../support/tokens.js';
import { AUDIENCE, challengeFor, expectRefusal } from './fixtures.js';
import { createBearerVerifier } from '../../src/bearer/verifier.js';
import { extractBearerToken } from '../../src/bearer/extract.js';
import type { BearerOptions } from '../../src/bearer/types.js';

let issuer: HostileIssuer;
const guards = useBearerGuard({ onIssuer: (started) => (issuer = started) });
const start = (extra: Partial<BearerOptions> = {}) => guards.start(extra).agent;

/** A token of about 12 KB: 330 group names, as an IdP that puts every group in the token sends. */
async function largeToken(): Promise<string> {
  const groups = Array.from({ length: 330 }, (_, i) => `/org/department-${String(i).padStart(4, '0')}/team`);
  const token = await mintToken({ key: issuer.currentKey, issuer: issuer.issuer, audience: AUDIENCE, claims: { groups } });
  expect(token.length).toBeGreaterThan(12_000);
  expect(token.length).toBeLessThan(13_000);
  return token;
}

describe('maxTokenLength (issue 15 §6)', () => {
  it('accepts a well-formed 12 KB token with the default limit: 200', async () => {
    const res = await start()
      .get('/api/me')
      .set('Authorization', `Bearer ${await largeToken()}`);
    expect([res.status, res.body.sub]).toEqual([200, 'user-123']);
  });

  it('verifies a bad 12 KB token as usual: 401 invalid_token', async () => {
    const token = await largeToken();
    const [header, payload, signature] = token.split('.');
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    const res = await start().get('/api/me').set('Authorization', `Bearer ${forged}`);
    expectRefusal(res, 401, challengeFor('invalid_token', 'signature verification failed'), {
      error: 'invalid_token',
      error_description: 'signature verification failed',
    });
  });

  it('refuses a token over a smaller configured limit with 400 invalid_request, unparsed', async () => {
    const res = await start({ maxTokenLength: 4096 })
      .get('/api/me')
      .set('Authorization', `Bearer ${await largeToken()}`);
    expectRefusal(res, 400, challengeFor('invalid_request', 'Authorization header too large'), {
      error: 'invalid_request',
      error_description: 'Authorization header too large',
    });
  });

  it("defaults to 16 KiB, Node's own header limit", () => {
    expect(
      createBearerVerifier({ issuer: issuer.issuer, jwksUri: `${issuer.issuer}/jwks`, audience: AUDIENCE, allowInsecureHttp: true }).config
        .maxTokenLength,
    ).toBe(16 * 1024);
  });

  it('applies to extractBearerToken() as well', () => {
    const token = 'a'.repeat(8200);
    expect(extractBearerToken({ headers: { authorization: `Bearer ${token}` } })).toBe(token);
    expect(() => extractBearerToken({ headers: { authorization: `Bearer ${token}` } }, { maxTokenLength: 8192 })).toThrow(
      'access token too large',
    );
  });

  it.each([0, -1, 1.5, '16384', 1024 * 1024 + 1])('refuses maxTokenLength %p with a TypeError naming it', (value) => {
    expect(() =>
      createBearerVerifier({
        issuer: issuer.issuer,
        jwksUri: `${issuer.issuer}/jwks`,
        audience: AUDIENCE,
        allowInsecureHttp: true,
        maxTokenLength: value as number,
      }),
    ).toThrow(/Option "maxTokenLength"/);
  });
});
