import type { Config } from 'jest';

// ESM throughout: jose and oidc-provider are ESM-only, so jest runs in its native ESM mode
// (`node --experimental-vm-modules`, see the `test` script) and ts-jest emits ES modules.
// Type checking is a separate `tsc --noEmit` step, so ts-jest only transpiles (fast).
// `EXPRESS_MAJOR=4 npm run test:jest` runs the same suites against Express 4 (installed under the
// alias `express4`): every `import express from 'express'`, in src/ and test/ alike, gets it.
const express4 = process.env.EXPRESS_MAJOR === '4';

const config: Config = {
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
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30_000,
  // Real servers and a real Redis: keep the 2-core machine from thrashing.
  maxWorkers: 2,
};

export default config;
