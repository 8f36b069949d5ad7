import type { Config } from 'jest';

// ESM throughout: jose and oidc-provider are ESM-only, so jest runs in its native ESM mode
// (`node --experimental-vm-modules`, see the `test` script) and ts-jest emits ES modules.
// Type checking is a separate `tsc --noEmit` step, so ts-jest only transpiles (fast).
// `EXPRESS_MAJOR=4 npm run test:jest` runs the same suites against Express 4 (installed under the
// alias `express4`): every `import express from 'express'`, in src/ and test/ alike, gets it.
const express4 = process.env.EXPRESS_MAJOR === '4';

/**
 * Tests that need no network: no Redis, no server, no HTTP (test/support/no-network.ts fails any
 * of them that tries). `npm run test:unit` runs them alone, in seconds; every other test file is
 * an integration test (`npm run test:integration`). `npm test` runs both.
 */
export const UNIT_TESTS = [
  'test/bearer/cache-order.test.ts',
  'test/bearer/extract.test.ts',
  'test/bearer/options.test.ts',
  'test/bearer/verify.test.ts',
  'test/bench/median-interval.test.ts',
  'test/config/unknown-keys.test.ts',
  'test/docs/readme-options.test.ts',
  'test/errors/www-authenticate.test.ts',
  'test/example-app/html.test.ts',
  'test/express-version.test.ts',
  'test/interop/google-issuer.test.ts',
  'test/login/needs-refresh.test.ts',
  'test/login/options.test.ts',
  'test/login/return-to.test.ts',
  'test/login/transactions.test.ts',
  'test/session/cookie.test.ts',
  'test/session/seal.test.ts',
  'test/support/cookie-jar.test.ts',
];

const shared = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Sources import './x.js' (NodeNext style); jest must find './x.ts'.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    ...(express4 ? { '^express$': 'express4' } : {}),
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
} satisfies Config;

const escape = (path: string): string => path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

const config: Config = {
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: UNIT_TESTS.map((path) => `<rootDir>/${path}`),
      setupFilesAfterEnv: ['<rootDir>/test/support/no-network.ts'],
    },
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...UNIT_TESTS.map((path) => `<rootDir>/${escape(path)}$`)],
    },
  ],
  // Real servers and a real Redis: keep the 2-core machine from thrashing.
  maxWorkers: 2,
  // Jest reads the timeout from the top level only: inside `projects` it is ignored (5 s then).
  testTimeout: 30_000,
};

export default config;
