import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as login from '../../src/login/index.js';
import * as bearer from '../../src/bearer/index.js';

// The built package (npm test builds it first) must load both ways on Node >= 20.19, through the
// `exports` map, by its own name (Node's package self-reference).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
const expected = ['auth', 'requiresAuth', 'requireBearer', 'requiredScopes', 'AuthError', 'InvalidTokenError'];
const keysOf = (specifier: string, how: 'import' | 'require'): string[] =>
  JSON.parse(
    how === 'import'
      ? run(['--input-type=module', '-e', `import * as m from '${specifier}'; console.log(JSON.stringify(Object.keys(m)))`])
      : run(['-e', `console.log(JSON.stringify(Object.keys(require('${specifier}'))))`]),
  ) as string[];

// Every runtime name the main entry had before the building blocks moved to
// `express-oidc-guard/advanced` (0.1.0): each must still be reachable from one of the two.
const BEFORE_SPLIT = [
  'AuthError',
  'AuthorizationResponseError',
  'DpopNonces',
  'IdTokenError',
  'InsufficientScopeError',
  'InvalidDpopProofError',
  'InvalidGrantError',
  'InvalidRequestError',
  'InvalidTokenError',
  'IssuerDiscovery',
  'IssuerResponseError',
  'LOGIN_DEFAULTS',
  'LoginRequiredError',
  'MemoryDpopReplayStore',
  'RemoteKeySet',
  'ServiceUnavailableError',
  'UnauthorizedError',
  'UseDpopNonceError',
  'VERSION',
  'VerifiedTokenCache',
  'attemptSilentLogin',
  'auth',
  'buildChallenge',
  'certificateFromHeader',
  'certificateThumbprint',
  'checkCertificateBinding',
  'checkDpopBinding',
  'claimCheck',
  'claimEquals',
  'claimIncludes',
  'confirmationOf',
  'createBearerVerifier',
  'discover',
  'dpopAccessTokenHash',
  'dpopProofOf',
  'extractAccessToken',
  'extractBearerToken',
  'introspectAccessToken',
  'isAuthError',
  'normaliseHtu',
  'recordDpopProof',
  'redisDpopReplayStore',
  'renderError',
  'requireBearer',
  'requiredScopes',
  'requiresAuth',
  'requiresClaim',
  'safeReturnTo',
  'scopeIncludesAny',
  'scopesOf',
  'verifyAccessToken',
  'verifyDpopProof',
  'wantsJson',
];

describe('package exports', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist/esm/index.js')) || !existsSync(path.join(root, 'dist/cjs/index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    }
  });

  it('loads for import consumers', () => {
    expect(keysOf('express-oidc-guard', 'import')).toEqual(expect.arrayContaining(expected));
  });

  it('loads for require consumers', () => {
    expect(keysOf('express-oidc-guard', 'require')).toEqual(expect.arrayContaining(expected));
  });

  it('gives require and import consumers the same error classes', () => {
    const out = run([
      '-e',
      `const m = require('express-oidc-guard'); const e = new m.InvalidTokenError('x'); console.log(e.status, e.code, e instanceof m.AuthError)`,
    ]);
    expect(out).toBe('401 invalid_token true');
  });

  describe('issue 17 §4: the main entry holds what an app uses', () => {
    const keys: Record<string, string[]> = {};
    beforeAll(() => {
      for (const entry of ['express-oidc-guard', 'express-oidc-guard/advanced']) {
        for (const how of ['import', 'require'] as const) keys[`${how} ${entry}`] = keysOf(entry, how);
      }
    });
    const main = (how: 'import' | 'require' = 'import') => keys[`${how} express-oidc-guard`] ?? [];
    const advanced = (how: 'import' | 'require' = 'import') => keys[`${how} express-oidc-guard/advanced`] ?? [];

    it('has at most 30 runtime exports, the same for import and require', () => {
      expect(main().length).toBeGreaterThan(0);
      expect(main().length).toBeLessThanOrEqual(30);
      expect([...main('require')].sort()).toEqual([...main()].sort());
    });

    it('serves the building blocks from express-oidc-guard/advanced, the same for import and require', () => {
      expect(advanced()).toEqual(
        expect.arrayContaining(['normaliseHtu', 'VerifiedTokenCache', 'RemoteKeySet', 'buildChallenge', 'IssuerDiscovery']),
      );
      expect([...advanced('require')].sort()).toEqual([...advanced()].sort());
    });

    it('loses no name: everything the main entry had, and every export of the halves, is in one of the two', () => {
      const reachable = new Set([...main(), ...advanced()]);
      // The halves' index files list their public names; src/errors/index.ts also holds internals.
      const halves = [...Object.keys(login), ...Object.keys(bearer)];
      expect([...new Set([...BEFORE_SPLIT, ...halves])].filter((name) => !reachable.has(name))).toEqual([]);
    });

    it('keeps the two entries apart: no name in both', () => {
      const inMain = new Set(main());
      expect(advanced().filter((name) => inMain.has(name))).toEqual([]);
    });
  });
});
