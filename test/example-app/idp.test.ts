import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DEMO_USER, startDevIdp, type DevIdp } from '../../example-app/idp.js';
import { CookieJar, authorizeAtIdp, follow, formAction, request } from './helpers/browserless.js';
import { authorizationRequest, metadataOf, tokenRequest, tokensFromIdp, type ClientCredentials } from './helpers/tokens.js';

// The app is never started here: the IdP only redirects to its URL, which the tests do not follow.
const BASE_URL = 'http://localhost:3999';
const AUDIENCE = `${BASE_URL}/api`;

let idp: DevIdp;
let client: ClientCredentials;

beforeAll(async () => {
  idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    baseURL: BASE_URL,
    clientID: 'example-app',
    clientSecret: 'idp-test-secret',
    audience: AUDIENCE,
  });
  client = { issuer: idp.issuer, clientID: 'example-app', clientSecret: 'idp-test-secret', redirectUri: `${BASE_URL}/callback` };
});

afterAll(async () => {
  await idp.close();
});

describe('embedded development IdP', () => {
  it('listens on a free loopback port and names itself by it', () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("names itself after BASE_URL's host when bound to a wildcard address", async () => {
    const wildcard = await startDevIdp({
      host: '0.0.0.0',
      port: 0,
      baseURL: BASE_URL,
      clientID: 'c',
      clientSecret: 's',
      audience: AUDIENCE,
    });
    try {
      expect(wildcard.issuer).toMatch(/^http:\/\/localhost:\d+$/);
      const metadata = await metadataOf(wildcard.issuer.replace('localhost', '127.0.0.1'));
      expect(metadata.issuer).toBe(wildcard.issuer);
    } finally {
      await wildcard.close();
    }
  });

  describe('discovery (OpenID Connect Discovery 1.0)', () => {
    it('advertises the endpoints and features the app uses', async () => {
      const metadata = await metadataOf(idp.issuer);
      expect(metadata).toMatchObject({
        issuer: idp.issuer,
        authorization_response_iss_parameter_supported: true,
        end_session_endpoint: `${idp.issuer}/session/end`,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        code_challenge_methods_supported: ['S256'],
      });
      expect(metadata.revocation_endpoint).toEqual(expect.any(String));
      expect(metadata.introspection_endpoint).toEqual(expect.any(String));
      expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    });
  });

  describe('login form', () => {
    it('shows a username and password form, and refuses a wrong password with 401', async () => {
      const jar = new CookieJar();
      const { url } = await authorizationRequest(client);
      const loginPage = await follow(jar, await request(jar, url.href));
      expect(loginPage.status).toBe(200);
      expect(loginPage.body).toContain('name="login"');
      expect(loginPage.body).toContain('name="password"');
      const action = formAction(loginPage, /\/login$/);
      expect(action).toBeDefined();
      const refused = await request(jar, action as string, { form: { login: DEMO_USER.login, password: 'wrong' } });
      expect(refused.status).toBe(401);
      expect(refused.body).toContain('Wrong username or password.');
      expect(refused.headers.get('cache-control')).toBe('no-store');
    });

    it('escapes what the user typed when showing the form again', async () => {
      const jar = new CookieJar();
      const { url } = await authorizationRequest(client);
      const loginPage = await follow(jar, await request(jar, url.href));
      const refused = await request(jar, formAction(loginPage, /\/login$/) as string, {
        form: { login: '"><script>x</script>', password: 'x' },
      });
      expect(refused.body).not.toContain('<script>x');
      expect(refused.body).toContain('&quot;&gt;&lt;script&gt;');
    });
  });

  describe('authorization code flow', () => {
    it('returns the code with `iss` (RFC 9207) after login and consent', async () => {
      const jar = new CookieJar();
      const { url, state } = await authorizationRequest(client);
      const back = await authorizeAtIdp(jar, url, client.redirectUri);
      expect(back.origin + back.pathname).toBe(client.redirectUri);
      expect(back.searchParams.get('iss')).toBe(idp.issuer);
      expect(back.searchParams.get('state')).toBe(state);
      expect(back.searchParams.get('code')).toEqual(expect.any(String));
    });

    it('answers access_denied when the user denies consent', async () => {
      const { url } = await authorizationRequest(client);
      const back = await authorizeAtIdp(new CookieJar(), url, client.redirectUri, { consent: 'deny' });
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('code')).toBeNull();
    });

    it('requires PKCE', async () => {
      const { url } = await authorizationRequest(client);
      url.searchParams.delete('code_challenge');
      url.searchParams.delete('code_challenge_method');
      const res = await request(new CookieJar(), url.href);
      expect(res.status).toBe(303);
      expect(new URL(res.location as string).searchParams.get('error')).toBe('invalid_request');
    });

    it('issues a JWT access token (RS256) for the API audience, an ID token with the demo claims, and a refresh token', async () => {
      const tokens = await tokensFromIdp(client);
      expect(decodeProtectedHeader(tokens.access_token).alg).toBe('RS256');
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        iss: idp.issuer,
        aud: AUDIENCE,
        sub: DEMO_USER.sub,
        client_id: 'example-app',
        scope: 'openid profile email',
      });
      expect(decodeJwt(tokens.id_token)).toMatchObject({
        iss: idp.issuer,
        aud: 'example-app',
        sub: DEMO_USER.sub,
        name: DEMO_USER.name,
        email: DEMO_USER.email,
      });
      expect(tokens.refresh_token).toEqual(expect.any(String));
    });

    it('keeps the API audience on refresh (useGrantedResource)', async () => {
      const tokens = await tokensFromIdp(client);
      const refreshed = await tokenRequest(client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      expect(refreshed.status).toBe(200);
      expect(decodeJwt(refreshed.body.access_token as string)).toMatchObject({ aud: AUDIENCE, sub: DEMO_USER.sub });
    });

    it('refuses another resource indicator with invalid_target', async () => {
      const { url } = await authorizationRequest(client, { resource: 'https://other.example/' });
      const res = await request(new CookieJar(), url.href);
      expect(res.status).toBe(303);
      expect(new URL(res.location as string).searchParams.get('error')).toBe('invalid_target');
    });

    it('refuses a wrong client secret at the token endpoint', async () => {
      const res = await tokenRequest({ ...client, clientSecret: 'wrong' }, { grant_type: 'refresh_token', refresh_token: 'x' });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });
  });
});
