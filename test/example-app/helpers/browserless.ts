/** The example-app tests' browser: test/support/browserless.ts over the one cookie jar. */
export * from '../../support/browserless.js';
