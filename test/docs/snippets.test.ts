/**
 * The "after" samples of the migration guides (docs/migrate-from-*.md) are the files in
 * test/docs/examples/: `tsc` compiles them with the rest of the tests, these tests build and
 * drive the apps they make, and check that each guide shows the sample exactly (with the package
 * name in place of the relative import).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import request from 'supertest';
import type { AuthRouter } from '../../src/index.js';
import type { Logger } from '../../src/util/logger.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { createApp } from './examples/after-express-openid-connect.js';
import { createApi } from './examples/after-express-oauth2-jwt-bearer.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const REDIS_URL = 'redis://127.0.0.1:6379';
const AUDIENCE = 'https://api.example.com';

/** The ```ts block under the guide's "### After" heading. */
function afterBlock(guide: string): string {
  const text = readFileSync(`${root}docs/${guide}`, 'utf8');
  const at = text.indexOf('\n### After');
  expect(at).toBeGreaterThan(-1);
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (!block) throw new Error(`${guide} has no ts block after "### After"`);
  return block[1]!;
}

function sampleAsShown(file: string): string {
  return readFileSync(`${root}test/docs/examples/${file}`, 'utf8').replace("from '../../../src/index.js'", "from 'express-oidc-guard'");
}

describe('docs/migrate-from-express-openid-connect.md', () => {
  const prefix = `test:docs-snippets:${randomBytes(6).toString('hex')}:`;
  let issuer: JwksServer;
  let oidc: AuthRouter;
  let app: ReturnType<typeof createApp>['app'];

  beforeAll(async () => {
    issuer = await startJwksServer();
    ({ app, oidc } = createApp({
      issuerBaseURL: issuer.issuer,
      baseURL: 'http://localhost:3000',
      clientID: 'migrated-app',
      clientSecret: 'migrated-app-secret',
      secret: randomBytes(32).toString('base64url'),
      session: { redis: REDIS_URL, prefix },
      logger: silent,
    }));
  });

  afterAll(async () => {
    await oidc.close();
    await issuer.close();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('shows the compiled sample as its "After" code', () => {
    expect(afterBlock('migrate-from-express-openid-connect.md')).toBe(sampleAsShown('after-express-openid-connect.ts'));
  });

  it('builds an app whose public page works signed out', async () => {
    const res = await request(app).get('/');
    expect([res.status, res.text]).toEqual([200, '<a href="/login">Log in</a>']);
  });

  it('sends a signed-out browser from a protected page to the login route with returnTo', async () => {
    const res = await request(app).get('/profile').set('Accept', 'text/html');
    expect([res.status, res.headers.location]).toEqual([302, '/login?returnTo=/profile']);
  });

  it('answers 401 (not a redirect) to a signed-out request for a claim-guarded page that wants JSON', async () => {
    const res = await request(app).get('/admin').set('Accept', 'application/json');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'unauthorized', error_description: 'Sign-in required.' });
  });

  it('starts a code flow with PKCE from res.oidc.login(), with a random state', async () => {
    const res = await request(app).get('/orders/login');
    expect(res.status).toBe(302);
    const location = new URL(String(res.headers.location));
    expect(`${location.origin}${location.pathname}`).toBe(`${issuer.issuer}/authorize`);
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('redirect_uri')).toBe('http://localhost:3000/callback');
    // The state is 256 random bits, not an encoding of returnTo.
    expect(location.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(location.searchParams.get('state')!, 'base64url').toString('latin1')).not.toContain('orders');
    expect(String(res.headers['set-cookie'])).toMatch(/^oidc\.sid=/);
  });
});

describe('docs/migrate-from-express-oauth2-jwt-bearer.md', () => {
  let issuer: JwksServer;
  let api: ReturnType<typeof createApi>;
  const token = (claims: Record<string, unknown>) => mintToken({ key: issuer.key, issuer: issuer.issuer, audience: AUDIENCE, claims });

  beforeAll(async () => {
    issuer = await startJwksServer();
    api = createApi({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: AUDIENCE, logger: silent });
  });

  afterAll(async () => {
    await issuer.close();
  });

  it('shows the compiled sample as its "After" code', () => {
    expect(afterBlock('migrate-from-express-oauth2-jwt-bearer.md')).toBe(sampleAsShown('after-express-oauth2-jwt-bearer.ts'));
  });

  it('accepts a token with the required scope and puts it on req.auth', async () => {
    const res = await request(api)
      .get('/api/messages')
      .set('Authorization', `Bearer ${await token({ scope: 'read:messages' })}`);
    expect([res.status, res.body]).toEqual([200, { sub: 'user-123', scopes: ['read:messages'] }]);
  });

  it('answers 403 insufficient_scope for a token without it', async () => {
    const res = await request(api)
      .post('/api/messages')
      .set('Authorization', `Bearer ${await token({ scope: 'read:messages' })}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(res.headers['www-authenticate']).toContain('scope="write:messages"');
  });

  it('answers 401 with a challenge and no error code when no token is sent', async () => {
    const res = await request(api).get('/api/messages');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api"/);
    expect(res.headers['www-authenticate']).not.toContain('error=');
  });

  it('refuses a token in the query string with 400 invalid_request', async () => {
    const res = await request(api).get(`/api/messages?access_token=${await token({ scope: 'read:messages' })}`);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
  });

  it('checks claims with claimEquals and claimCheck (401 invalid_token otherwise)', async () => {
    const acme = await token({ org_id: 'acme', beta: true });
    const other = await token({ org_id: 'other' });
    expect((await request(api).get('/api/org').set('Authorization', `Bearer ${acme}`)).status).toBe(200);
    expect((await request(api).get('/api/beta').set('Authorization', `Bearer ${acme}`)).status).toBe(200);
    const refused = await request(api).get('/api/org').set('Authorization', `Bearer ${other}`);
    expect([refused.status, refused.body.error]).toEqual([401, 'invalid_token']);
    const beta = await request(api).get('/api/beta').set('Authorization', `Bearer ${other}`);
    expect(beta.body).toEqual({ error: 'invalid_token', error_description: 'beta access required' });
  });

  it('lets a request without a token through optional authentication, but not a bad token', async () => {
    const anonymous = await request(api).get('/public/feed');
    expect([anonymous.status, anonymous.body]).toEqual([200, { personalised: false }]);
    const signedIn = await request(api)
      .get('/public/feed')
      .set('Authorization', `Bearer ${await token({})}`);
    expect([signedIn.status, signedIn.body]).toEqual([200, { personalised: true }]);
    const expired = await token({ exp: Math.floor(Date.now() / 1000) - 3600 });
    const refused = await request(api).get('/public/feed').set('Authorization', `Bearer ${expired}`);
    expect([refused.status, refused.body.error]).toEqual([401, 'invalid_token']);
  });
});
