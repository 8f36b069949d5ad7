/**
 * The README's option tables (`## Configuration`) against the code, so the docs cannot drift:
 * - every option of `AuthOptions` / `BearerOptions` has a row, and every row names a real option
 *   (the `*_PATHS` records below are typed `Record<OptionPath, ...>`, so `tsc` fails when an
 *   option is added to or removed from the types without updating them);
 * - every literal default in the tables is the value the factories really resolve to;
 * - the environment column matches what `loginEnv()` / `bearerEnv()` read, and every variable
 *   `src/config/from-env.ts` names is documented.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loginEnv, bearerEnv } from '../../src/config/from-env.js';
import {
  resolveLoginConfig,
  type AuthOptions,
  type AuthorizationParams,
  type LoginConfig,
  type RouteOptions,
  type SessionOptions,
} from '../../src/login/options.js';
import { resolveBearerOptions, type ResolvedBearerConfig } from '../../src/bearer/config.js';
import type { BearerOptions, DpopOptions, IntrospectionOptions, MtlsOptions } from '../../src/bearer/types.js';
import { IssuerDiscovery } from '../../src/issuer/discovery.js';
import type { Logger } from '../../src/util/logger.js';
import { unpaddedRow } from '../support/markdown.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const fromEnvSource = readFileSync(`${root}src/config/from-env.ts`, 'utf8');

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

// ---------------------------------------------------------------------------------------------
// Every option path, derived from the types (a missing or extra key is a compile error).

/** The named members of T (an index signature such as `[param: string]` left out). */
type Named<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]-?: T[K] };
type Keys<T> = keyof Named<NonNullable<T>> & string;

type AuthNested = 'authorizationParams' | 'routes' | 'session' | 'discovery' | 'requestObject' | 'mtls' | 'backchannelLogout';
type AuthOptionPath =
  | Exclude<Keys<AuthOptions>, AuthNested>
  | `authorizationParams.${Keys<AuthorizationParams>}`
  | 'authorizationParams.*'
  | `routes.${Keys<RouteOptions>}`
  | `session.${Exclude<Keys<SessionOptions>, 'cookie'>}`
  | `session.cookie.${Keys<SessionOptions['cookie']>}`
  | `discovery.${Keys<AuthOptions['discovery']>}`
  | `requestObject.${Keys<AuthOptions['requestObject']>}`
  | `mtls.${Keys<AuthOptions['mtls']>}`
  | `backchannelLogout.${Keys<Exclude<AuthOptions['backchannelLogout'], true>>}`;

type BearerNested = 'introspection' | 'jwks' | 'dpop' | 'mtls';
type DpopNonceObject = Exclude<DpopOptions['nonce'], boolean | undefined>;
type BearerOptionPath =
  | Exclude<Keys<BearerOptions>, BearerNested>
  | `introspection.${Keys<IntrospectionOptions>}`
  | `cache.${Keys<Exclude<BearerOptions['cache'], false>>}`
  | `jwks.${Keys<BearerOptions['jwks']>}`
  | `dpop.${Keys<DpopOptions>}`
  | `dpop.nonce.${Keys<DpopNonceObject>}`
  | `mtls.${Keys<MtlsOptions>}`;

/**
 * What each `auth()` option resolves to when left out, for the rows whose README default is a
 * literal; `null` for options without a literal default (required, computed, or a function).
 */
const AUTH_PATHS: Record<AuthOptionPath, ((c: LoginConfig) => unknown) | null> = {
  issuerBaseURL: null,
  baseURL: null,
  clientID: null,
  clientSecret: null,
  secret: null,
  authRequired: (c) => c.authRequired,
  'authorizationParams.scope': (c) => c.scope,
  'authorizationParams.response_mode': (c) => c.responseMode,
  'authorizationParams.resource': null,
  'authorizationParams.audience': null,
  'authorizationParams.prompt': null,
  'authorizationParams.max_age': null,
  'authorizationParams.*': null,
  'routes.login': (c) => c.routes.login,
  'routes.callback': (c) => c.routes.callback,
  'routes.logout': (c) => c.routes.logout,
  'routes.backchannelLogout': (c) => c.routes.backchannelLogout,
  'routes.postLogoutRedirect': null,
  idpLogout: null,
  revokeOnLogout: null,
  clientAuthMethod: (c) => c.clientAuthMethod,
  clientAssertionSigningKey: null,
  clientAssertionSigningAlg: (c) => c.clientAssertionSigningAlg,
  afterCallback: null,
  getLoginState: null,
  tokenEndpointParams: null,
  pushedAuthorizationRequests: (c) => c.pushedAuthorizationRequests,
  'requestObject.signingKey': null,
  'requestObject.alg': null,
  'mtls.key': null,
  'mtls.cert': null,
  'mtls.ca': null,
  dpop: (c) => c.dpop,
  mergeUserInfo: (c) => c.mergeUserInfo,
  idTokenSigningAlgs: null,
  clockTolerance: (c) => c.clockTolerance,
  httpTimeout: (c) => c.httpTimeout,
  fetch: null,
  refreshMargin: (c) => c.refreshMargin,
  'session.redis': null,
  'session.store': null,
  'session.allowMemoryStore': (c) => c.session.allowMemoryStore,
  'session.cookieName': (c) => c.session.cookieName,
  'session.name': null,
  'session.cookie.domain': null,
  'session.cookie.transient': (c) => c.session.cookie.transient,
  'session.cookie.sameSite': (c) => c.session.cookie.sameSite,
  'session.rolling': (c) => c.session.rolling,
  'session.rollingDuration': (c) => c.session.rollingDuration,
  'session.touchAfter': (c) => c.session.touchAfter,
  'session.absoluteDuration': (c) => c.session.absoluteDuration,
  'session.prefix': (c) => c.session.prefix,
  'session.localCache': (c) => c.session.localCache !== false,
  useExistingSession: (c) => c.useExistingSession,
  allowInsecureHttp: (c) => c.allowInsecureHttp,
  logger: null,
  errorHandler: null,
  renderLogoutConfirm: null,
  logoutParams: null,
  onLogoutToken: null,
  'backchannelLogout.allowMissingExp': (c) => c.backchannelLogout.allowMissingExp,
  // The discovery delays are applied by IssuerDiscovery itself (see `discoveryDefault` below).
  'discovery.retryMinDelayMs': () => discoveryDefault('retryMinDelayMs'),
  'discovery.retryMaxDelayMs': () => discoveryDefault('retryMaxDelayMs'),
  'discovery.cacheMaxAgeMs': () => discoveryDefault('cacheMaxAgeMs'),
  'discovery.jwksCooldownMs': (c) => c.discovery.jwksCooldownMs,
};

/** The same for `requireBearer()`. */
const BEARER_PATHS: Record<BearerOptionPath, ((c: ResolvedBearerConfig) => unknown) | null> = {
  issuerBaseURL: null,
  issuer: null,
  jwksUri: null,
  secret: null,
  audience: null,
  issuers: null,
  algorithms: null,
  maxTokenLength: (c) => c.maxTokenLength,
  validators: null,
  'introspection.endpoint': null,
  'introspection.clientID': null,
  'introspection.clientId': null,
  'introspection.clientSecret': null,
  'introspection.authMethod': (c) => c.issuers[0]?.introspection?.authMethod,
  'introspection.timeoutMs': (c) => c.issuers[0]?.introspection?.timeoutMs,
  'introspection.cacheMaxTtlSeconds': (c) => c.issuers[0]?.introspection?.cacheMaxTtlSeconds,
  clockTolerance: (c) => c.clockTolerance,
  maxTokenAge: null,
  requiredClaims: null,
  strict: (c) => c.strict,
  realm: (c) => c.realm,
  allowFormBody: (c) => c.allowFormBody,
  credentialsRequired: (c) => c.credentialsRequired,
  cache: null,
  'cache.max': (c) => (c.cache === false ? undefined : c.cache.max),
  'cache.maxTtlSeconds': (c) => (c.cache === false ? undefined : c.cache.maxTtlSeconds),
  'jwks.timeoutMs': (c) => c.jwks.timeoutMs,
  'jwks.cooldownMs': (c) => c.jwks.cooldownMs,
  'jwks.cacheMaxAgeMs': (c) => c.jwks.cacheMaxAgeMs,
  fetch: null,
  allowInsecureHttp: (c) => c.allowInsecureHttp,
  logger: null,
  errorHandler: null,
  passErrors: (c) => c.passErrors,
  'dpop.mode': (c) => c.dpop.mode,
  'dpop.algorithms': null,
  'dpop.maxProofAge': (c) => c.dpop.maxProofAge,
  'dpop.baseURL': null,
  'dpop.redis': null,
  'dpop.redisKeyPrefix': (c) => c.dpop.redisKeyPrefix,
  'dpop.nonce': (c) => c.dpop.nonce !== undefined,
  'dpop.nonce.secret': null,
  'dpop.nonce.windowSeconds': (c) => c.dpop.nonce?.windowSeconds,
  'mtls.certificateHeader': null,
  'mtls.getCertificate': null,
};

function discoveryDefault(name: 'retryMinDelayMs' | 'retryMaxDelayMs' | 'cacheMaxAgeMs'): unknown {
  const discovery = new IssuerDiscovery('https://issuer.example', { logger: silent });
  return (discovery as unknown as Record<string, unknown>)[name];
}

// ---------------------------------------------------------------------------------------------
// Reading the README.

interface Row {
  option: string;
  env: string | undefined;
  defaultCell: string;
}

/** The rows of the first table under `heading` (a `### ` line), before the next heading. */
function tableUnder(heading: string): Row[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README has no heading ${heading}`);
  const rest = readme.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n#{2,4} /));
  const lines = section
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map(unpaddedRow);
  expect(lines[0]).toBe('| option | environment | default |');
  return lines.slice(2).map((line) => {
    const cells = line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    expect(cells).toHaveLength(3);
    const [option, env, defaultCell] = cells as [string, string, string];
    const name = /^`([^`]+)`$/.exec(option)?.[1];
    if (name === undefined) throw new Error(`README option cell is not one code span: ${option}`);
    const envName = env === '' ? undefined : /^`([A-Z_]+)`$/.exec(env)?.[1];
    if (env !== '' && envName === undefined) throw new Error(`README environment cell is not one variable: ${env}`);
    return { option: name, env: envName, defaultCell };
  });
}

/** The literal a default cell starts with (`'x'`, `60`, `true`), or undefined for prose. */
function leadingLiteral(cell: string): { value: unknown } | undefined {
  const code = /^`([^`]+)`/.exec(cell)?.[1];
  if (code === undefined) return undefined;
  if (/^'[^']*'$/.test(code)) return { value: code.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(code)) return { value: Number(code) };
  if (code === 'true' || code === 'false') return { value: code === 'true' };
  return undefined;
}

const authRows = tableUnder('### `auth(options)`');
const bearerRows = tableUnder('### `requireBearer(options)`');

/** `{ a: { b: value } }` for the path `a.b`. */
function nested(path: string, value: unknown): Record<string, unknown> {
  const parts = path.split('.');
  let out: unknown = value;
  for (const part of parts.reverse()) out = { [part]: out };
  return out as Record<string, unknown>;
}

function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  try {
    for (const [name, value] of Object.entries(vars)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const ENV_NAMES = [...new Set([...fromEnvSource.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{4,})'/g)].map((m) => m[1]!))];
const clearedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, undefined]));

const minimalLogin: AuthOptions = {
  issuerBaseURL: 'https://issuer.example',
  baseURL: 'http://localhost:3000',
  clientID: 'client',
  clientSecret: 'client-secret',
  secret: 'a-session-secret-of-at-least-32-characters',
  session: { redis: 'redis://127.0.0.1:6379' },
  logger: silent,
};
const minimalBearer: BearerOptions = {
  issuer: 'https://issuer.example',
  jwksUri: 'https://issuer.example/jwks',
  audience: 'https://api.example',
  logger: silent,
};

describe('README ## Configuration', () => {
  describe('auth(options) table', () => {
    it('has one row per option of AuthOptions, and no row for an option that does not exist', () => {
      const documented = authRows.map((row) => row.option);
      expect(new Set(documented).size).toBe(documented.length);
      expect([...documented].sort()).toEqual(Object.keys(AUTH_PATHS).sort());
    });

    it('states the default auth() really applies, for every row whose default is a literal', () => {
      const config = withEnv(clearedEnv, () => resolveLoginConfig(minimalLogin));
      const checked: string[] = [];
      for (const row of authRows) {
        const literal = leadingLiteral(row.defaultCell);
        const resolve = AUTH_PATHS[row.option as AuthOptionPath];
        if (literal === undefined) continue;
        if (resolve === null) throw new Error(`README gives a literal default for ${row.option}; map it in AUTH_PATHS`);
        expect({ option: row.option, default: resolve(config) }).toEqual({ option: row.option, default: literal.value });
        checked.push(row.option);
      }
      // Every option with a resolvable default is documented with a literal.
      const resolvable = Object.entries(AUTH_PATHS)
        .filter(([, resolve]) => resolve !== null)
        .map(([path]) => path);
      expect(checked.sort()).toEqual(resolvable.sort());
    });

    it('names the environment variable each option falls back to (loginEnv())', () => {
      for (const row of authRows.filter((r) => r.env !== undefined)) {
        const read = withEnv({ ...clearedEnv, [row.env!]: 'from-the-environment' }, () => loginEnv());
        expect({ [row.env!]: read }).toEqual({ [row.env!]: { [row.option]: 'from-the-environment' } });
      }
    });
  });

  describe('requireBearer(options) table', () => {
    it('has one row per option of BearerOptions, and no row for an option that does not exist', () => {
      const documented = bearerRows.map((row) => row.option);
      expect(new Set(documented).size).toBe(documented.length);
      expect([...documented].sort()).toEqual(Object.keys(BEARER_PATHS).sort());
    });

    it('documents only option names requireBearer() knows (it refuses unknown ones)', () => {
      const knownError = (options: Record<string, unknown>): string | undefined => {
        try {
          resolveBearerOptions({ ...minimalBearer, ...options } as BearerOptions);
          return undefined;
        } catch (err) {
          return err instanceof Error ? err.message : String(err);
        }
      };
      // The check bites: a made-up name is refused, at the top level and nested.
      expect(knownError({ notAnOption: undefined })).toMatch(/is not a known option/);
      expect(knownError({ jwks: { notAnOption: undefined } })).toMatch(/is not a known option/);
      for (const row of bearerRows) {
        const message = knownError(nested(row.option, undefined));
        expect({ option: row.option, refusedAsUnknown: /is not a known option/.test(message ?? '') }).toEqual({
          option: row.option,
          refusedAsUnknown: false,
        });
      }
    });

    it('states the default requireBearer() really applies, for every row whose default is a literal', () => {
      const plain = withEnv(clearedEnv, () => resolveBearerOptions(minimalBearer));
      const withIntrospection = withEnv(clearedEnv, () =>
        resolveBearerOptions({
          ...minimalBearer,
          introspection: { endpoint: 'https://issuer.example/introspect', clientId: 'rs', clientSecret: 'rs-secret' },
        }),
      );
      const withNonce = withEnv(clearedEnv, () =>
        resolveBearerOptions({ ...minimalBearer, dpop: { nonce: { secret: 'a-nonce-secret-of-at-least-32-bytes!' } } }),
      );
      const configFor = (option: string): ResolvedBearerConfig =>
        option.startsWith('introspection.') ? withIntrospection : option.startsWith('dpop.nonce.') ? withNonce : plain;
      const checked: string[] = [];
      for (const row of bearerRows) {
        const literal = leadingLiteral(row.defaultCell);
        const resolve = BEARER_PATHS[row.option as BearerOptionPath];
        if (literal === undefined) continue;
        if (resolve === null) throw new Error(`README gives a literal default for ${row.option}; map it in BEARER_PATHS`);
        expect({ option: row.option, default: resolve(configFor(row.option)) }).toEqual({ option: row.option, default: literal.value });
        checked.push(row.option);
      }
      const resolvable = Object.entries(BEARER_PATHS)
        .filter(([, resolve]) => resolve !== null)
        .map(([path]) => path);
      expect(checked.sort()).toEqual(resolvable.sort());
    });

    it('names the environment variable each option falls back to (bearerEnv())', () => {
      for (const row of bearerRows.filter((r) => r.env !== undefined)) {
        const read = withEnv({ ...clearedEnv, [row.env!]: 'from-the-environment' }, () => bearerEnv());
        expect({ [row.env!]: read }).toEqual({ [row.env!]: { [row.option]: 'from-the-environment' } });
      }
    });
  });

  it('documents every environment variable src/config/from-env.ts reads', () => {
    expect(ENV_NAMES.length).toBeGreaterThanOrEqual(6);
    const documented = new Set([...authRows, ...bearerRows].map((row) => row.env).filter((name) => name !== undefined));
    expect(ENV_NAMES.filter((name) => !documented.has(name))).toEqual([]);
  });
});

describe('README ## Supported versions', () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
    engines: { node: string };
    peerDependencies: { express: string };
  };
  const section = readme.slice(
    readme.indexOf('## Supported versions'),
    readme.indexOf('\n## ', readme.indexOf('## Supported versions') + 1),
  );

  it('states the Node.js range of package.json engines', () => {
    expect(pkg.engines.node).toBe('>=20.19');
    expect(section).toContain('Node.js `>= 20.19`');
  });

  it('states both Express majors of the peer dependency range', () => {
    expect(pkg.peerDependencies.express).toBe('^4.18.0 || ^5.0.0');
    expect(section).toContain('Express 4 (`^4.18`) and 5 (`^5.0`)');
  });

  it('states the semantic versioning policy', () => {
    expect(section).toMatch(/semantic versioning/);
    expect(section).toMatch(/`0\.y\.z`/);
  });
});
