/**
 * Issue 16 A: auth() refuses what is not an option, at every level, with the dotted path and the
 * closest option; express-openid-connect's options we do not have name what to use instead; a
 * Bearer-guard configuration is sent to requireBearer().
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { resolveLoginConfig, type AuthOptions } from '../../src/login/options.js';

const valid: AuthOptions = {
  issuerBaseURL: 'https://issuer.example',
  baseURL: 'https://app.example',
  clientID: 'client',
  clientSecret: 'client-secret',
  secret: 'a-session-secret-of-at-least-32-characters',
  session: { redis: 'redis://127.0.0.1:6379' },
};
const resolve = (options: Record<string, unknown>) => resolveLoginConfig(options as AuthOptions);

describe('auth() options › unknown keys', () => {
  it.each([
    ['a top-level typo', { ...valid, authRequierd: false }, 'Option "authRequierd" is not a known option. Did you mean "authRequired"?'],
    [
      'a typo of clientSecret',
      { ...valid, clientSecret: undefined, clientSecert: 'x' },
      'Option "clientSecert" is not a known option. Did you mean "clientSecret"?',
    ],
    [
      'a session typo',
      { ...valid, session: { reddis: 'redis://127.0.0.1:6379' } },
      'Option "session.reddis" is not a known option. Did you mean "session.redis"?',
    ],
    [
      'a routes typo',
      { ...valid, routes: { callbak: '/cb' } },
      'Option "routes.callbak" is not a known option. Did you mean "routes.callback"?',
    ],
    [
      'a discovery typo',
      { ...valid, discovery: { cacheMaxAge: 1 } },
      'Option "discovery.cacheMaxAge" is not a known option. Did you mean "discovery.cacheMaxAgeMs"?',
    ],
    [
      'a session.localCache typo',
      { ...valid, session: { ...valid.session, localCache: { maxAge: 5 } } },
      'Option "session.localCache.maxAge" is not a known option. Did you mean "session.localCache.maxAgeSeconds"?',
    ],
    [
      'a session.cookie typo',
      { ...valid, session: { ...valid.session, cookie: { sameSit: 'Lax' } } },
      'Option "session.cookie.sameSit" is not a known option. Did you mean "session.cookie.sameSite"?',
    ],
    [
      'a requestObject typo',
      { ...valid, requestObject: { signingKey: {}, algo: 'RS256' } },
      'Option "requestObject.algo" is not a known option. Did you mean "requestObject.alg"?',
    ],
    [
      'clientId spelt the other way',
      { ...valid, clientID: undefined, clientId: 'x' },
      'Option "clientId" is not a known option. Did you mean "clientID"?',
    ],
    ['a name close to nothing', { ...valid, somethingElse: 1 }, 'Option "somethingElse" is not a known option.'],
  ])('refuses %s, naming the dotted path and the closest option', (_name, options, message) => {
    expect(() => resolve(options)).toThrow(new TypeError(message));
  });
});

describe('auth() options › express-openid-connect options this package does not have', () => {
  it.each([
    ['auth0Logout', { auth0Logout: true }, /^Option "auth0Logout" is not supported: .*"idpLogout"/],
    ['idTokenSigningAlg', { idTokenSigningAlg: 'RS256' }, /^Option "idTokenSigningAlg" is not supported: use "idTokenSigningAlgs"/],
    ['discoveryCacheMaxAge', { discoveryCacheMaxAge: 1000 }, /use "discovery.cacheMaxAgeMs"/],
    ['attemptSilentLogin', { attemptSilentLogin: true }, /attemptSilentLogin\(\) middleware/],
    ['transactionCookie', { transactionCookie: { name: 'x' } }, /no transaction cookie/],
    ['requestObjectSigningKey', { requestObjectSigningKey: {} }, /use "requestObject.signingKey"/],
    ['session.genid', { session: { ...valid.session, genid: () => 'id' } }, /^Option "session.genid" is not supported: /],
    [
      'session.cookie.path',
      { session: { ...valid.session, cookie: { path: '/app' } } },
      /^Option "session.cookie.path" is not supported: .*"session.cookieName"/,
    ],
  ])('names what to use instead of %s', (_name, extra, message) => {
    expect(() => resolve({ ...valid, ...extra })).toThrow(message);
  });
});

describe('auth() options › a Bearer guard configuration (express-oauth2-jwt-bearer)', () => {
  it('says to use requireBearer() when given an audience and no baseURL', () => {
    const saved = process.env.BASE_URL;
    delete process.env.BASE_URL;
    try {
      expect(() => resolve({ issuerBaseURL: 'https://issuer.example', audience: 'https://api.example' })).toThrow(
        /use requireBearer\(\{ issuerBaseURL, audience \}\)/,
      );
    } finally {
      if (saved !== undefined) process.env.BASE_URL = saved;
    }
  });
});

describe('auth() options › private keys (issue 16 B)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });

  it('accepts a private KeyObject from crypto.createPrivateKey() for requestObject.signingKey', () => {
    const keyObject = createPrivateKey(pem);
    expect(resolve({ ...valid, requestObject: { signingKey: keyObject } }).requestObject).toEqual({ signingKey: keyObject, alg: 'RS256' });
  });

  it('accepts a private KeyObject for clientAssertionSigningKey', () => {
    const keyObject = createPrivateKey(pem);
    expect(resolve({ ...valid, clientAuthMethod: 'private_key_jwt', clientAssertionSigningKey: keyObject }).clientAssertionSigningKey).toBe(
      keyObject,
    );
  });

  it('refuses a public KeyObject', () => {
    expect(() => resolve({ ...valid, requestObject: { signingKey: publicKey } })).toThrow(
      'Option "requestObject.signingKey" must be a private JWK or a private KeyObject.',
    );
  });
});

describe("auth() options › clientAuthMethod 'none' (a public client)", () => {
  it('needs no client secret', () => {
    expect(resolve({ ...valid, clientSecret: undefined, clientAuthMethod: 'none' }).clientAuthMethod).toBe('none');
  });
});

describe('auth() options › session.name and session.cookie (express-openid-connect names)', () => {
  it('takes session.name as the cookie name', () => {
    expect(resolve({ ...valid, session: { ...valid.session, name: 'appSession' } }).session.cookieName).toBe('appSession');
  });

  it('refuses session.name together with session.cookieName', () => {
    expect(() => resolve({ ...valid, session: { ...valid.session, name: 'a', cookieName: 'b' } })).toThrow(
      /Option "session.name" must be left unset/,
    );
  });

  it('reads sameSite in any case, and refuses None over http', () => {
    expect(resolve({ ...valid, session: { ...valid.session, cookie: { sameSite: 'Strict' } } }).session.cookie.sameSite).toBe('strict');
    expect(() =>
      resolve({ ...valid, baseURL: 'http://localhost:3000', session: { ...valid.session, cookie: { sameSite: 'None' } } }),
    ).toThrow(/Option "session.cookie.sameSite" must be "Lax" or "Strict". "None" needs a Secure cookie/);
  });

  it('names a cookie shared with subdomains __Secure-, since __Host- forbids a domain', () => {
    const config = resolve({ ...valid, session: { ...valid.session, cookie: { domain: 'app.example' } } });
    expect(config.session.cookieName).toBe('__Secure-oidc.sid');
    expect(config.session.cookie.domain).toBe('app.example');
    expect(() => resolve({ ...valid, session: { ...valid.session, cookieName: '__Host-x', cookie: { domain: 'app.example' } } })).toThrow(
      /forbids "session.cookie.domain"/,
    );
  });
});
