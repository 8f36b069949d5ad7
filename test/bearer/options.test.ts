import { requireBearer } from '../../src/bearer/middleware.js';
import { createBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { memoryLogger } from './fixtures.js';

const base = { issuer: 'https://issuer.example.test/', jwksUri: 'https://issuer.example.test/jwks', audience: 'https://api.example.test' };
const make = (options: unknown) => () => requireBearer({ logger: memoryLogger(), ...(options as BearerOptions) });

describe('requireBearer() options are checked at mount time', () => {
  const saved = { issuer: process.env.ISSUER_BASE_URL, audience: process.env.AUDIENCE };
  beforeEach(() => {
    delete process.env.ISSUER_BASE_URL;
    delete process.env.AUDIENCE;
  });
  afterAll(() => {
    if (saved.issuer !== undefined) process.env.ISSUER_BASE_URL = saved.issuer;
    if (saved.audience !== undefined) process.env.AUDIENCE = saved.audience;
  });

  it('returns a named middleware', () => {
    expect(requireBearer(base).name).toBe('requireBearer');
  });

  it.each<[string, unknown, RegExp]>([
    ['no issuer at all', { audience: 'a' }, /Option "issuerBaseURL" must be set.*ISSUER_BASE_URL/],
    ['no audience', { issuerBaseURL: 'https://issuer.example.test' }, /Option "audience" must be set.*AUDIENCE/],
    ['an empty audience list', { ...base, audience: [] }, /Option "audience" must be/],
    ['issuerBaseURL with issuer', { ...base, issuerBaseURL: 'https://issuer.example.test' }, /Option "issuerBaseURL" must be used alone/],
    ['issuer without keys', { issuer: base.issuer, audience: 'a' }, /Option "jwksUri" must be set/],
    ['a plain-http issuer', { ...base, issuer: 'http://issuer.example.test' }, /Option "issuer" must be an https: URL/],
    ['a relative jwksUri', { ...base, jwksUri: '/jwks' }, /Option "jwksUri" must be an absolute URL/],
    ['alg none', { ...base, algorithms: ['none'] }, /Option "algorithms" must be a list of RS256.*"none" is never accepted/],
    ['HS256 without a secret', { ...base, algorithms: ['HS256'] }, /Option "algorithms".*HMAC needs "secret"/],
    [
      'RS256 with a secret',
      { issuer: base.issuer, secret: 'x'.repeat(32), audience: 'a', algorithms: ['RS256'] },
      /Option "algorithms" must be a list of HS256, HS384, HS512/,
    ],
    [
      'a short secret',
      { issuer: base.issuer, secret: 'short', audience: 'a' },
      /Option "secret" must be a string or Uint8Array of at least 32 bytes/,
    ],
    ['secret with jwksUri', { ...base, secret: 'x'.repeat(32) }, /Option "secret" must be used without "jwksUri"/],
    ['a negative clockTolerance', { ...base, clockTolerance: -1 }, /Option "clockTolerance" must be a number of seconds from 0 to 300/],
    ['a string clockTolerance', { ...base, clockTolerance: '5s' }, /Option "clockTolerance"/],
    ['maxTokenAge 0', { ...base, maxTokenAge: 0 }, /Option "maxTokenAge"/],
    ['requiredClaims not a list', { ...base, requiredClaims: [1] }, /Option "requiredClaims"/],
    ['strict not a boolean', { ...base, strict: 'yes' }, /Option "strict" must be true or false/],
    ['an empty realm', { ...base, realm: '' }, /Option "realm"/],
    ['allowFormBody not a boolean', { ...base, allowFormBody: 1 }, /Option "allowFormBody"/],
    ['credentialsRequired not a boolean', { ...base, credentialsRequired: 'false' }, /Option "credentialsRequired"/],
    ['cache true', { ...base, cache: true }, /Option "cache" must be an object/],
    ['a fractional cache.max', { ...base, cache: { max: 1.5 } }, /Option "cache.max" must be a whole number/],
    ['a huge cache.maxTtlSeconds', { ...base, cache: { maxTtlSeconds: 1e9 } }, /Option "cache.maxTtlSeconds"/],
    ['an unknown cache member', { ...base, cache: { ttl: 5 } }, /Option "cache.ttl" is not a known option/],
    ['jwks.timeoutMs 0', { ...base, jwks: { timeoutMs: 0 } }, /Option "jwks.timeoutMs"/],
    ['jwks.cooldownMs negative', { ...base, jwks: { cooldownMs: -1 } }, /Option "jwks.cooldownMs"/],
    ['a logger without methods', { ...base, logger: {} }, /Option "logger" must be an object with debug, info, warn and error methods/],
    ['errorHandler not a function', { ...base, errorHandler: 'x' }, /Option "errorHandler" must be a function/],
    ['errorHandler with passErrors', { ...base, errorHandler: () => undefined, passErrors: true }, /Option "passErrors" must be left out/],
    ['an unknown option (typo)', { ...base, audiences: ['a'] }, /Option "audiences" is not a known option/],
    [
      'issuers with a top-level issuer',
      { ...base, issuers: [{ issuerBaseURL: 'https://a.example.test' }] },
      /Option "issuer" must be left out when "issuers" is given/,
    ],
    ['an empty issuers list', { audience: 'a', issuers: [] }, /Option "issuers" must be a non-empty array/],
    [
      'a bad entry of issuers',
      { audience: 'a', issuers: [{ issuerBaseURL: 'nope' }] },
      /Option "issuers\[0\].issuerBaseURL" must be an absolute URL/,
    ],
    [
      'an unknown member of an issuer',
      { audience: 'a', issuers: [{ issuerBaseURL: 'https://a.example.test', realm: 'x' }] },
      /Option "issuers\[0\].realm" is not a known option/,
    ],
    [
      'the same issuer twice',
      { audience: 'a', issuers: [{ issuerBaseURL: 'https://a.example.test' }, { issuerBaseURL: 'https://a.example.test/' }] },
      /Option "issuers\[1\]" must be a different issuer/,
    ],
    [
      'introspection on two issuers',
      {
        audience: 'a',
        issuers: [
          { issuerBaseURL: 'https://a.example.test', introspection: { clientId: 'c', clientSecret: 's' } },
          { issuerBaseURL: 'https://b.example.test', introspection: { clientId: 'c', clientSecret: 's' } },
        ],
      },
      /Option "issuers" must be a list where at most one issuer has "introspection"/,
    ],
    [
      'introspection without clientSecret',
      { issuerBaseURL: 'https://a.example.test', audience: 'a', introspection: { clientId: 'c' } },
      /Option "introspection.clientSecret" must be set/,
    ],
    [
      'introspection without endpoint or discovery',
      { ...base, introspection: { clientId: 'c', clientSecret: 's' } },
      /Option "introspection.endpoint" must be set/,
    ],
    [
      'a bad introspection.authMethod',
      {
        issuerBaseURL: 'https://a.example.test',
        audience: 'a',
        introspection: { clientId: 'c', clientSecret: 's', authMethod: 'private_key_jwt' },
      },
      /Option "introspection.authMethod"/,
    ],
  ])('throws a TypeError naming the option for %s', (_label, options, message) => {
    expect(make(options)).toThrow(TypeError);
    expect(make(options)).toThrow(message);
  });

  it('accepts plain http for a non-loopback issuer only with allowInsecureHttp, and warns', () => {
    const logger = memoryLogger();
    expect(() =>
      requireBearer({
        ...base,
        issuer: 'http://issuer.example.test',
        jwksUri: 'http://issuer.example.test/jwks',
        allowInsecureHttp: true,
        logger,
      }),
    ).not.toThrow();
    expect(logger.lines.some((l) => l.startsWith('warn') && l.includes('allowInsecureHttp'))).toBe(true);
  });

  it('accepts plain http on loopback (for development)', () => {
    expect(make({ issuerBaseURL: 'http://127.0.0.1:9', audience: 'a' })).not.toThrow();
  });

  it('lets explicit options win over the environment', () => {
    process.env.ISSUER_BASE_URL = 'https://env.example.test';
    process.env.AUDIENCE = 'env-audience';
    const verifier = createBearerVerifier({ issuerBaseURL: 'https://explicit.example.test', audience: 'explicit', logger: memoryLogger() });
    expect(verifier.config.issuers[0]).toMatchObject({ label: 'https://explicit.example.test', audience: ['explicit'] });
    const fromEnv = createBearerVerifier({ logger: memoryLogger() });
    expect(fromEnv.config.issuers[0]).toMatchObject({ label: 'https://env.example.test', audience: ['env-audience'] });
  });

  it('applies the documented defaults', () => {
    const { config } = createBearerVerifier({ ...base, logger: memoryLogger() });
    expect(config).toMatchObject({
      clockTolerance: 5,
      requiredClaims: [],
      strict: false,
      realm: 'api',
      allowFormBody: false,
      credentialsRequired: true,
      cache: { max: 10_000, maxTtlSeconds: 300 },
      jwks: { timeoutMs: 5000, cooldownMs: 30_000, cacheMaxAgeMs: 600_000 },
      passErrors: false,
    });
    expect(config.maxTokenAge).toBeUndefined();
    expect(createBearerVerifier({ ...base, cache: false, logger: memoryLogger() }).cache).toBeUndefined();
  });
});
