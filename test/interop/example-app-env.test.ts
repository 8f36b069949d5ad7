/**
 * The example app against real issuers (docs/example-app.md, "Configuration"): the ID token
 * algorithms (`ID_TOKEN_SIGNING_ALGS`) and which authorization parameters carry `AUDIENCE`
 * (`AUDIENCE_PARAMS`) come from the environment; `SCOPE` and `AUDIENCE` already do.
 */
import { ConfigError, loadConfig } from '../../example-app/config.js';
import { CookieJar, request, signIn, startLogin } from '../example-app/helpers/browserless.js';
import { startTestApp, type TestApp } from '../example-app/helpers/app.js';

describe('example app configuration for real issuers', () => {
  describe('ID_TOKEN_SIGNING_ALGS', () => {
    it('is unset by default: the issuer advertises the algorithms', () => {
      expect(loadConfig({}).idTokenSigningAlgs).toBeUndefined();
    });

    it('reads a comma-separated list, such as HS256 for an issuer that signs with the client secret', () => {
      expect(loadConfig({ ID_TOKEN_SIGNING_ALGS: 'HS256, RS256' }).idTokenSigningAlgs).toEqual(['HS256', 'RS256']);
    });

    it('refuses none and anything that is not a JWS algorithm, naming the variable', () => {
      expect(() => loadConfig({ ID_TOKEN_SIGNING_ALGS: 'none' })).toThrow(ConfigError);
      expect(() => loadConfig({ ID_TOKEN_SIGNING_ALGS: 'RS256,rot13' })).toThrow(/^ID_TOKEN_SIGNING_ALGS must list JWS algorithms/);
    });
  });

  describe('AUDIENCE_PARAMS', () => {
    it('sends AUDIENCE as both resource and audience by default', () => {
      expect(loadConfig({}).audienceParams).toEqual(['resource', 'audience']);
    });

    it('takes one of them, or none (Entra ID v2.0 refuses resource)', () => {
      expect(loadConfig({ AUDIENCE_PARAMS: 'audience' }).audienceParams).toEqual(['audience']);
      expect(loadConfig({ AUDIENCE_PARAMS: 'none' }).audienceParams).toEqual([]);
    });

    it('refuses other names', () => {
      expect(() => loadConfig({ AUDIENCE_PARAMS: 'aud' })).toThrow(/^AUDIENCE_PARAMS must be/);
    });
  });
});

describe('the example app with these variables', () => {
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('AUDIENCE_PARAMS=audience and SCOPE: /login sends audience and the scope, no resource', async () => {
    t = await startTestApp('interop-env-params', { AUDIENCE_PARAMS: 'audience', SCOPE: 'openid email' });
    const authorize = await startLogin(new CookieJar(), t.base);
    expect(authorize.searchParams.get('audience')).toBe(`${t.base}/api`);
    expect(authorize.searchParams.get('scope')).toBe('openid email');
    expect(authorize.searchParams.has('resource')).toBe(false);
  });

  it('ID_TOKEN_SIGNING_ALGS=HS256: an RS256 ID token from the issuer is refused at the callback', async () => {
    t = await startTestApp('interop-env-algs', { ID_TOKEN_SIGNING_ALGS: 'HS256' });
    const jar = new CookieJar();
    const { callback } = await signIn(jar, t.base);
    expect(callback.status).toBe(400);
    expect((await request(jar, `${t.base}/profile`)).status).toBe(302);
  });

  it('ID_TOKEN_SIGNING_ALGS=RS256: the same sign-in succeeds', async () => {
    t = await startTestApp('interop-env-algs-ok', { ID_TOKEN_SIGNING_ALGS: 'RS256' });
    const { callback } = await signIn(new CookieJar(), t.base);
    expect(callback.status).toBe(302);
  });
});
