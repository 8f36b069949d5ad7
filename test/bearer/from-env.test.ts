/**
 * Issue 16 B: what people coming from express-oauth2-jwt-bearer set. Its environment variables
 * (ISSUER, JWKS_URI, SECRET, TOKEN_SIGNING_ALG besides ISSUER_BASE_URL and AUDIENCE), and
 * `issuerBaseURL` with `secret` (HMAC-signed tokens from a discovered issuer).
 */
import { SignJWT } from 'jose';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useBearerGuard } from '../support/bearer-guard.js';
import { mintToken } from '../support/tokens.js';
import { createBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { AUDIENCE } from './fixtures.js';

const HMAC_SECRET = 'an-hmac-secret-of-at-least-32-bytes-long';
const NAMES = ['ISSUER_BASE_URL', 'AUDIENCE', 'ISSUER', 'JWKS_URI', 'SECRET', 'TOKEN_SIGNING_ALG'];
let issuer: HostileIssuer;
const guards = useBearerGuard({ onIssuer: (started) => (issuer = started) });
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const name of NAMES) saved[name] = process.env[name];
});
afterEach(() => {
  for (const name of NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function setEnv(values: Record<string, string>): void {
  for (const name of NAMES) delete process.env[name];
  Object.assign(process.env, values);
}

const start = (options: BearerOptions = {}) => guards.listen(options).agent;

const signed = () => mintToken({ key: issuer.currentKey, issuer: issuer.issuer, audience: AUDIENCE });
const hmac = (secret = HMAC_SECRET, alg = 'HS256') =>
  new SignJWT({ sub: 'user-123' })
    .setProtectedHeader({ alg })
    .setIssuer(issuer.issuer)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(secret));

describe("express-oauth2-jwt-bearer's environment variables", () => {
  it('ISSUER with JWKS_URI: requireBearer() with no options verifies against those keys', async () => {
    setEnv({ ISSUER: issuer.issuer, JWKS_URI: `${issuer.issuer}/jwks`, AUDIENCE });
    const agent = start();
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${await signed()}`);
    expect([res.status, res.body.sub]).toEqual([200, 'user-123']);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await hmac()}`)).status).toBe(401);
  });

  it('ISSUER with SECRET and an HMAC TOKEN_SIGNING_ALG: HS256 tokens with that secret', async () => {
    setEnv({ ISSUER: issuer.issuer, SECRET: HMAC_SECRET, TOKEN_SIGNING_ALG: 'HS256', AUDIENCE });
    const agent = start();
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await hmac()}`)).status).toBe(200);
    expect(
      (await agent.get('/api/me').set('Authorization', `Bearer ${await hmac('another-secret-of-at-least-32-bytes-long')}`)).status,
    ).toBe(401);
    // TOKEN_SIGNING_ALG narrows the algorithms: HS384 with the right secret is refused.
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await hmac(HMAC_SECRET, 'HS384')}`)).status).toBe(401);
  });

  it('never takes SECRET as a token key without an HMAC TOKEN_SIGNING_ALG (it is also the session secret of auth())', () => {
    setEnv({ ISSUER_BASE_URL: issuer.issuer, SECRET: HMAC_SECRET, AUDIENCE });
    expect(createBearerVerifier().config.issuers[0]!.secret).toBeUndefined();
    setEnv({ ISSUER: issuer.issuer, SECRET: HMAC_SECRET, AUDIENCE });
    expect(() => createBearerVerifier()).toThrow(/Option "jwksUri"/);
  });

  it('TOKEN_SIGNING_ALG narrows the algorithms of a discovered issuer', () => {
    setEnv({ ISSUER_BASE_URL: issuer.issuer, TOKEN_SIGNING_ALG: 'ES256', AUDIENCE });
    expect(createBearerVerifier().config.issuers[0]!.algorithms).toEqual(['ES256']);
  });

  it('lets options given in code win', () => {
    setEnv({ ISSUER: 'https://env.example.test', JWKS_URI: 'https://env.example.test/jwks', TOKEN_SIGNING_ALG: 'RS256', AUDIENCE: 'env' });
    const { config } = createBearerVerifier({ issuerBaseURL: issuer.issuer, audience: AUDIENCE, algorithms: ['ES256'] });
    expect(config.issuers[0]).toMatchObject({ label: issuer.issuer, audience: [AUDIENCE], algorithms: ['ES256'] });
    expect(config.issuers[0]!.jwksUri).toBeUndefined();
  });
});

describe('issuerBaseURL with secret', () => {
  it('verifies HMAC tokens of the discovered issuer with the secret', async () => {
    setEnv({});
    const agent = start({ issuerBaseURL: issuer.issuer, secret: HMAC_SECRET, audience: AUDIENCE });
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${await hmac()}`);
    expect([res.status, res.body.issuer]).toEqual([200, issuer.issuer]);
    expect(
      (await agent.get('/api/me').set('Authorization', `Bearer ${await hmac('another-secret-of-at-least-32-bytes-long')}`)).status,
    ).toBe(401);
    // Only HMAC: a token signed with the issuer's own key is not accepted in this mode.
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await signed()}`)).status).toBe(401);
  });

  it('still refuses issuerBaseURL with jwksUri or issuer', () => {
    setEnv({});
    expect(() => createBearerVerifier({ issuerBaseURL: issuer.issuer, jwksUri: `${issuer.issuer}/jwks`, audience: AUDIENCE })).toThrow(
      /Option "issuerBaseURL"/,
    );
    expect(() => createBearerVerifier({ issuerBaseURL: issuer.issuer, issuer: issuer.issuer, audience: AUDIENCE })).toThrow(
      /Option "issuerBaseURL"/,
    );
  });
});
