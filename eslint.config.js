// ESLint (flat config): typescript-eslint's recommended rules, plus the type-aware
// no-floating-promises and no-misused-promises: an unawaited promise in a middleware is an
// unhandled rejection or a response sent twice, which Express 4 does not catch for us.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'docs/api/', 'coverage/', 'artifacts/', 'bench/results/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_next` keeps an Express error handler at four parameters; `{ secret: _, ...rest }` omits a member.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `let { answer: res, fresh }` where only res changes; a timer read by a callback declared before it.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }],
      // The validators match control characters on purpose (return-to paths, header values).
      'no-control-regex': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
