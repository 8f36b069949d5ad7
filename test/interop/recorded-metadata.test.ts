/**
 * Recorded discovery documents of the issuers people use (test/fixtures/idp-metadata/, each with
 * the date and the source it was copied from), served on loopback with their https URLs rewritten
 * to `http://127.0.0.1:<port>/<host>/...`. For each: the package's discovery accepts it, and the
 * README's recipe for that issuer ("Recipes for common issuers") runs as written: `/login`
 * redirects to the issuer's authorization endpoint with the recipe's parameters, and the API guard
 * takes a token for the recipe's audience signed with the (test) keys at the document's `jwks_uri`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import request from 'supertest';
import { auth, requireBearer } from '../../src/index.js';
import { IssuerDiscovery, issuerMatches } from '../../src/issuer/discovery.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = path.join(ROOT, 'test/fixtures/idp-metadata');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const QUIET = { debug() {}, info() {}, warn() {}, error() {} };
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

interface Recorded {
  idp: string;
  recorded: string;
  source: string;
  how: string;
  discovery: string;
  metadata: Record<string, unknown>;
}

const recorded = new Map<string, Recorded>(
  readdirSync(FIXTURES)
    .filter((file) => file.endsWith('.json'))
    .map((file) => [file.replace(/\.json$/, ''), JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Recorded]),
);

/**
 * Each recipe: its README heading, the fixture it runs against, the README placeholders that
 * stand for the recorded host and path, and what its `/login` must send.
 */
const RECIPES: Array<{
  heading: string;
  fixture: string;
  placeholders: Record<string, string>;
  login: Record<string, string>;
  audience?: string;
}> = [
  {
    heading: 'Auth0',
    fixture: 'auth0',
    placeholders: { 'YOUR_TENANT.auth0.com': 'op.example.com' },
    login: { audience: 'https://api.example.com' },
    audience: 'https://api.example.com',
  },
  {
    heading: 'Microsoft Entra ID (v2.0)',
    fixture: 'entra-v2',
    placeholders: { YOUR_TENANT_ID: TENANT, YOUR_API_APP_ID: '0b1e3c1a-5c5e-4d5e-9f6a-000000000001' },
    login: { scope: 'openid profile email offline_access api://0b1e3c1a-5c5e-4d5e-9f6a-000000000001/access' },
    audience: '0b1e3c1a-5c5e-4d5e-9f6a-000000000001',
  },
  { heading: 'Google', fixture: 'google', placeholders: {}, login: { access_type: 'offline', prompt: 'consent' } },
  {
    heading: 'Okta',
    fixture: 'okta',
    placeholders: { 'YOUR_ORG.okta.com': 'auth-js-test.okta.com', YOUR_SERVER_ID: 'aus8aus76q8iphupD0h7' },
    login: { scope: 'openid profile email offline_access' },
    audience: 'api://default',
  },
  {
    heading: 'Keycloak',
    fixture: 'keycloak',
    placeholders: { YOUR_HOST: 'keycloak-eudi.netcompany-intrasoft.com', YOUR_REALM: 'pid-issuer-realm', YOUR_API: 'pid-issuer' },
    login: { scope: 'openid profile email offline_access' },
    audience: 'pid-issuer',
  },
  {
    heading: 'Amazon Cognito',
    fixture: 'cognito',
    placeholders: { YOUR_REGION: 'us-east-1', YOUR_POOL_ID: 'us-east-1_BGU9CKFCM', YOUR_DOMAIN: 'example' },
    login: { scope: 'openid profile email' },
  },
  {
    heading: 'Zitadel',
    fixture: 'zitadel',
    placeholders: { 'YOUR_INSTANCE.zitadel.cloud': 'test-zitadel-xs2hs.zitadel.cloud', YOUR_PROJECT_ID: '987654321' },
    login: { scope: 'openid profile email offline_access urn:zitadel:iam:org:project:id:987654321:aud' },
    audience: '987654321',
  },
  {
    heading: 'authentik',
    fixture: 'authentik',
    placeholders: { YOUR_HOST: 'authentik.example.com', YOUR_SLUG: 'romm' },
    login: { scope: 'openid profile email offline_access' },
    audience: 'recipe-client',
  },
];

let server: http.Server;
let base: string;
let privateKey: CryptoKey;
let publicJwk: JWK;
/** Path → JSON body served. */
const documents = new Map<string, unknown>();

/** The hosts a recorded document names (its issuer's and its endpoints'). */
function hostsOf(name: string): Set<string> {
  return new Set([...JSON.stringify(recorded.get(name)!.metadata).matchAll(/https:\/\/([a-z0-9.-]+)/gi)].map((m) => m[1]!.toLowerCase()));
}

/** https://host/... → http://127.0.0.1:port/host/... for the given hosts, throughout a text. */
function toLoopback(text: string, hosts: Set<string>): string {
  return text.replace(/https:\/\/([a-z0-9.-]+)/gi, (whole, host: string) =>
    hosts.has(host.toLowerCase()) ? `${base}/${host.toLowerCase()}` : whole,
  );
}

function rewritten(name: string): Record<string, unknown> {
  return JSON.parse(toLoopback(JSON.stringify(recorded.get(name)!.metadata), hostsOf(name))) as Record<string, unknown>;
}

/** Serves `metadata` at `<issuer>/.well-known/openid-configuration` and a JWKS at its `jwks_uri`. */
function serve(metadata: Record<string, unknown>, at = String(metadata.issuer)): void {
  documents.set(`${new URL(at).pathname.replace(/\/+$/, '')}/.well-known/openid-configuration`, metadata);
  if (typeof metadata.jwks_uri === 'string') documents.set(new URL(metadata.jwks_uri).pathname, { keys: [publicJwk] });
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'recorded-test-key', alg: 'RS256', use: 'sig' };
  server = http.createServer((req, res) => {
    const body = documents.get(new URL(req.url ?? '/', 'http://x').pathname);
    res
      .writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' })
      .end(JSON.stringify(body ?? { error: 'not_found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  for (const name of recorded.keys()) if (name !== 'entra-v2') serve(rewritten(name));
  // Entra: the "common" document (its issuer a {tenantid} template) where it was recorded, and
  // the same document as a tenant's own, where that tenant's issuer serves it.
  const common = rewritten('entra-v2');
  serve(common, `${base}/login.microsoftonline.com/common/v2.0`);
  const tenant = JSON.parse(JSON.stringify(common).replaceAll('{tenantid}', TENANT)) as Record<string, unknown>;
  serve(tenant);
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** The README's ```ts block under `#### <heading>`, placeholders replaced, URLs on loopback. */
function recipeCode(heading: string, fixture: string, placeholders: Record<string, string>): string {
  const at = README.indexOf(`\n#### ${heading}\n`);
  if (at < 0) throw new Error(`README has no "#### ${heading}" recipe`);
  const block = /```ts\n([\s\S]*?)```/.exec(README.slice(at));
  if (!block) throw new Error(`README recipe "${heading}" has no ts block`);
  let code = block[1]!;
  for (const [placeholder, value] of Object.entries(placeholders)) code = code.replaceAll(placeholder, value);
  return toLoopback(code, hostsOf(fixture));
}

function recipeApp(code: string): express.Express {
  const app = express();
  const shared = {
    baseURL: 'http://localhost:3000',
    clientID: 'recipe-client',
    clientSecret: 'recipe-secret-0123456789abcdef',
    secret: 'recipe-session-secret-0123456789abcdefghij',
    session: { allowMemoryStore: true },
  };
  // The recipe as written, with the app's shared values; a silent logger keeps the test output clean.
  const api = express.Router();
  api.get('/me', (req, res) => void res.json(req.auth?.payload ?? null));
  const run = new Function('app', 'api', 'auth', 'requireBearer', ...Object.keys(shared), code) as (...args: unknown[]) => void;
  run(
    app,
    api,
    (options: Record<string, unknown>) => auth({ ...options, logger: QUIET } as Parameters<typeof auth>[0]),
    (options: Record<string, unknown>) => requireBearer({ ...options, logger: QUIET } as Parameters<typeof requireBearer>[0]),
    ...Object.values(shared),
  );
  return app;
}

describe('recorded discovery documents', () => {
  it.each([...recorded.entries()])('%s: has its date and source', (_name, record) => {
    expect(record.recorded).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(record.source).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+\/blob\/[0-9a-f]{40}\//);
    expect(typeof record.metadata.issuer).toBe('string');
  });

  it.each(RECIPES.map((recipe) => [recipe.heading, recipe] as const))('%s: discovery, then the README recipe', async (_heading, recipe) => {
    const code = recipeCode(recipe.heading, recipe.fixture, recipe.placeholders);
    const issuer = /issuerBaseURL: '([^']+)'/.exec(code)![1]!;

    const metadata = await new IssuerDiscovery(issuer, { logger: QUIET }).metadata();
    expect(metadata.authorization_endpoint).toMatch(new RegExp(`^${base}/`));

    const app = recipeApp(code);
    const login = await request(app).get('/login');
    expect(login.status).toBe(302);
    const location = new URL(login.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(metadata.authorization_endpoint);
    expect(location.searchParams.get('client_id')).toBe('recipe-client');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    for (const [name, value] of Object.entries(recipe.login)) expect(location.searchParams.get(name)).toBe(value);
    expect(location.searchParams.has('resource')).toBe(false);

    if (recipe.audience !== undefined) {
      expect((await request(app).get('/api/me')).status).toBe(401);
      const token = await new SignJWT({ scope: 'openid' })
        .setProtectedHeader({ alg: 'RS256', kid: 'recorded-test-key', typ: 'at+jwt' })
        .setIssuer(metadata.issuer)
        .setSubject('user-1')
        .setAudience(recipe.audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      const me = await request(app).get('/api/me').set('authorization', `Bearer ${token}`);
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ iss: metadata.issuer, aud: recipe.audience });
    }
  });
});

describe('known quirks', () => {
  it("Entra ID: the common document's {tenantid} issuer is refused (502), not taken for any tenant", async () => {
    const commonIssuer = `${base}/login.microsoftonline.com/common/v2.0`;
    expect(issuerMatches(commonIssuer, String(rewritten('entra-v2').issuer))).toBe(false);
    await expect(new IssuerDiscovery(commonIssuer, { logger: QUIET }).metadata()).rejects.toMatchObject({
      name: 'IssuerResponseError',
      status: 502,
    });
  });

  it("Auth0: the recorded issuer's trailing slash matches a configured issuer without one", () => {
    expect(recorded.get('auth0')!.metadata.issuer).toBe('https://op.example.com/');
    expect(issuerMatches('https://op.example.com', 'https://op.example.com/')).toBe(true);
  });

  it("Cognito: the logout URL is outside the metadata; the recipe's local logout ends at Cognito's /logout", async () => {
    expect(recorded.get('cognito')!.metadata.end_session_endpoint).toBeUndefined();
    const app = recipeApp(
      recipeCode('Amazon Cognito', 'cognito', { YOUR_REGION: 'us-east-1', YOUR_POOL_ID: 'us-east-1_BGU9CKFCM', YOUR_DOMAIN: 'example' }),
    );
    const logout = await request(app).post('/logout');
    expect(logout.status).toBe(302);
    expect(logout.headers.location).toBe('/signed-out');
    const onward = await request(app).get('/signed-out');
    const cognito = new URL(onward.headers.location as string);
    expect(`${cognito.origin}${cognito.pathname}`).toBe('https://example.auth.us-east-1.amazoncognito.com/logout');
    expect(cognito.searchParams.get('client_id')).toBe('recipe-client');
    expect(cognito.searchParams.get('logout_uri')).toBe('http://localhost:3000');
  });

  it("Google: the discovery document says https://accounts.google.com (ID tokens' scheme-less iss: google-issuer.test.ts)", () => {
    expect(recorded.get('google')!.metadata.issuer).toBe('https://accounts.google.com');
  });
});
