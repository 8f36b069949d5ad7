import { resolveLoginConfig, type AuthOptions } from '../../src/login/options.js';
import { auth } from '../../src/index.js';

const SECRET = 'a-secret-of-at-least-thirty-two-characters!';
const valid: AuthOptions = {
  issuerBaseURL: 'https://issuer.example',
  baseURL: 'https://app.example',
  clientID: 'client',
  clientSecret: 'shh',
  secret: SECRET,
  session: { allowMemoryStore: true },
};

function withEnv(vars: Record<string, string | undefined>, run: () => void): void {
  const saved: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(vars)) {
    saved[name] = process.env[name];
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    run();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const noEnv = { ISSUER_BASE_URL: undefined, CLIENT_ID: undefined, CLIENT_SECRET: undefined, BASE_URL: undefined, SECRET: undefined };

describe('auth() options › checked once at start-up', () => {
  it('applies the documented defaults', () => {
    withEnv(noEnv, () => {
      const config = resolveLoginConfig(valid);
      expect(config.authRequired).toBe(true);
      expect(config.scope).toBe('openid profile email');
      expect(config.responseMode).toBe('query');
      expect(config.routes).toEqual({
        login: '/login',
        callback: '/callback',
        logout: '/logout',
        backchannelLogout: '/backchannel-logout',
      });
      expect(config.redirectUri).toBe('https://app.example/callback');
      expect(config.postLogoutRedirectUri).toBe('https://app.example');
      expect(config.clientAuthMethod).toBe('client_secret_basic');
      expect(config.clockTolerance).toBe(60);
      expect(config.httpTimeout).toBe(5000);
      expect(config.refreshMargin).toBe(30);
      expect(config.session.cookieName).toBe('__Host-oidc.sid');
      expect(config.session.rolling).toBe(true);
      expect(config.session.rollingDuration).toBe(86_400);
      expect(config.session.absoluteDuration).toBe(604_800);
      expect(config.pushedAuthorizationRequests).toBe(false);
      expect(config.requestObject).toBeUndefined();
      expect(config.dpop).toBe(false);
      expect(config.tokenEndpointParams).toEqual({});
      expect(config.afterCallback).toBeUndefined();
      expect(config.getLoginState).toBeUndefined();
      expect(resolveLoginConfig({ ...valid, clientAuthMethod: 'client_secret_jwt' }).clientAssertionSigningAlg).toBe('HS256');
    });
  });

  it('reads ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, BASE_URL and SECRET when options are unset', () => {
    withEnv(
      {
        ISSUER_BASE_URL: 'https://env-issuer.example',
        CLIENT_ID: 'env-client',
        CLIENT_SECRET: 'env-secret',
        BASE_URL: 'http://localhost:3000/',
        SECRET,
      },
      () => {
        const config = resolveLoginConfig({ session: { allowMemoryStore: true } });
        expect(config.issuerBaseURL).toBe('https://env-issuer.example');
        expect(config.clientID).toBe('env-client');
        expect(config.clientSecret).toBe('env-secret');
        expect(config.baseURL).toBe('http://localhost:3000');
        expect(config.session.cookieName).toBe('oidc.sid');
        // Explicit options win.
        expect(resolveLoginConfig({ session: { allowMemoryStore: true }, clientID: 'explicit' }).clientID).toBe('explicit');
      },
    );
  });

  it.each<[string, AuthOptions, RegExp]>([
    ['a missing issuerBaseURL', { ...valid, issuerBaseURL: undefined }, /Option "issuerBaseURL" must be set\. .*ISSUER_BASE_URL/],
    [
      'a plain-http issuer off localhost',
      { ...valid, issuerBaseURL: 'http://issuer.example' },
      /Option "issuerBaseURL" must be an https: URL\. .*allowInsecureHttp/,
    ],
    ['a baseURL with a query', { ...valid, baseURL: 'https://app.example/?a=1' }, /Option "baseURL" must be a URL without a query string/],
    ['a missing clientID', { ...valid, clientID: undefined }, /Option "clientID" must be set/],
    [
      'a missing clientSecret with client_secret_basic',
      { ...valid, clientSecret: undefined },
      /Option "clientSecret" must be set\. "client_secret_basic"/,
    ],
    [
      'private_key_jwt without a key',
      { ...valid, clientAuthMethod: 'private_key_jwt' },
      /Option "clientAssertionSigningKey" must be a private JWK or a private KeyObject/,
    ],
    ['an unknown clientAuthMethod', { ...valid, clientAuthMethod: 'client_secret_basik' as never }, /Option "clientAuthMethod" must be/],
    ['a short secret', { ...valid, secret: 'short' }, /Option "secret" must be a string of at least 32 characters/],
    [
      'a short secret in a list',
      { ...valid, secret: [SECRET, 'short'] },
      /Option "secret\[1\]" must be a string of at least 32 characters/,
    ],
    ['a missing secret', { ...valid, secret: undefined }, /Option "secret" must be set/],
    [
      'a scope without openid',
      { ...valid, authorizationParams: { scope: 'profile' } },
      /Option "authorizationParams.scope" must be a space-separated list that contains "openid"/,
    ],
    [
      'an unknown response_mode',
      { ...valid, authorizationParams: { response_mode: 'fragment' as never } },
      /Option "authorizationParams.response_mode" must be "query" or "form_post"/,
    ],
    [
      'a reserved parameter',
      { ...valid, authorizationParams: { state: 'fixed' } },
      /Option "authorizationParams.state" must be left unset/,
    ],
    [
      'a route without a leading slash',
      { ...valid, routes: { login: 'login' } },
      /Option "routes.login" must be a path starting with a single "\/"/,
    ],
    ['a protocol-relative route', { ...valid, routes: { callback: '//evil' } }, /Option "routes.callback" must be a path/],
    ['a negative clockTolerance', { ...valid, clockTolerance: -1 }, /Option "clockTolerance" must be a number of seconds from 0 to 600/],
    ['a tiny httpTimeout', { ...valid, httpTimeout: 1 }, /Option "httpTimeout" must be a number of milliseconds/],
    ['no session store', { ...valid, session: {} }, /Option "session.redis" must be set\. .*allowMemoryStore/],
    ['a bad redis value', { ...valid, session: { redis: 42 as never } }, /Option "session.redis" must be a Redis URL/],
    [
      'a __Host- cookie on http',
      { ...valid, baseURL: 'http://localhost:3000', session: { allowMemoryStore: true, cookieName: '__Host-x' } },
      /Option "session.cookieName" must be a name without "__Host-"/,
    ],
    [
      'idTokenSigningAlgs with none',
      { ...valid, idTokenSigningAlgs: ['none'] },
      /Option "idTokenSigningAlgs" must be a list of JWS algorithms without "none"/,
    ],
    [
      'a rollingDuration under a minute',
      { ...valid, session: { allowMemoryStore: true, rollingDuration: 10 } },
      /Option "session.rollingDuration" must be a number of seconds/,
    ],
    ['a non-function errorHandler', { ...valid, errorHandler: 'x' as never }, /Option "errorHandler" must be a function/],
    [
      'client_secret_jwt without a secret',
      { ...valid, clientSecret: undefined, clientAuthMethod: 'client_secret_jwt' },
      /Option "clientSecret" must be set\. "client_secret_jwt"/,
    ],
    [
      'client_secret_jwt with an asymmetric alg',
      { ...valid, clientAuthMethod: 'client_secret_jwt', clientAssertionSigningAlg: 'RS256' },
      /Option "clientAssertionSigningAlg" must be "HS256", "HS384" or "HS512"/,
    ],
    [
      'private_key_jwt with an empty key list',
      { ...valid, clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: [] },
      /Option "clientAssertionSigningKey" must be a private JWK or a private KeyObject, or a non-empty list of them/,
    ],
    [
      'private_key_jwt with a public key in the list',
      {
        ...valid,
        clientAuthMethod: 'private_key_jwt',
        clientAssertionSigningKey: [
          { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' },
          { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' },
        ],
      },
      /Option "clientAssertionSigningKey\[1\]" must be a private JWK or a private KeyObject/,
    ],
    [
      'private_key_jwt with an HS alg',
      {
        ...valid,
        clientAuthMethod: 'private_key_jwt',
        clientAssertionSigningKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' },
        clientAssertionSigningAlg: 'HS256',
      },
      /Option "clientAssertionSigningAlg" must be an asymmetric JWS algorithm/,
    ],
    ['a non-function afterCallback', { ...valid, afterCallback: {} as never }, /Option "afterCallback" must be a function/],
    ['a non-function getLoginState', { ...valid, getLoginState: 'state' as never }, /Option "getLoginState" must be a function/],
    [
      'tokenEndpointParams that are not an object',
      { ...valid, tokenEndpointParams: 'audience=x' as never },
      /Option "tokenEndpointParams" must be an object/,
    ],
    [
      'a reserved token parameter',
      { ...valid, tokenEndpointParams: { grant_type: 'password' } },
      /Option "tokenEndpointParams.grant_type" must be left unset/,
    ],
    [
      'a non-string token parameter',
      { ...valid, tokenEndpointParams: { audience: 1 as never } },
      /Option "tokenEndpointParams.audience" must be a string/,
    ],
    [
      'a non-boolean pushedAuthorizationRequests',
      { ...valid, pushedAuthorizationRequests: 'yes' as never },
      /Option "pushedAuthorizationRequests" must be true or false/,
    ],
    [
      'a requestObject without a private key',
      { ...valid, requestObject: { signingKey: { kty: 'RSA', n: 'n', e: 'AQAB' } } },
      /Option "requestObject.signingKey" must be a private JWK or a private KeyObject/,
    ],
    [
      'a requestObject with alg none',
      { ...valid, requestObject: { signingKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }, alg: 'none' } },
      /Option "requestObject.alg" must be an asymmetric JWS algorithm/,
    ],
    ['a non-boolean dpop', { ...valid, dpop: 1 as never }, /Option "dpop" must be true or false/],
    [
      'a reserved request_uri parameter',
      { ...valid, authorizationParams: { request_uri: 'urn:x' } },
      /Option "authorizationParams.request_uri" must be left unset/,
    ],
  ])('throws a TypeError naming the option for %s', (_name, options, message) => {
    withEnv(noEnv, () => {
      expect(() => auth(options)).toThrow(TypeError);
      expect(() => auth(options)).toThrow(message);
    });
  });

  it('accepts plain http off localhost only with allowInsecureHttp, and warns', () => {
    withEnv(noEnv, () => {
      const warnings: string[] = [];
      const logger = { debug: () => undefined, info: () => undefined, warn: (m: string) => void warnings.push(m), error: () => undefined };
      auth({ ...valid, issuerBaseURL: 'http://issuer.example', baseURL: 'http://app.example', allowInsecureHttp: true, logger });
      expect(warnings.some((w) => w.includes('allowInsecureHttp'))).toBe(true);
      expect(warnings.some((w) => w.includes('allowMemoryStore'))).toBe(true);
    });
  });
});
