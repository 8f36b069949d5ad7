import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// The built package (npm test builds it first) must load both ways on Node >= 20.19, through the
// `exports` map, by its own name (Node's package self-reference).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
const expected = ['auth', 'requiresAuth', 'requireBearer', 'requiredScopes', 'AuthError', 'InvalidTokenError'];

describe('package exports', () => {
  beforeAll(() => {
    if (!existsSync(path.join(root, 'dist/esm/index.js')) || !existsSync(path.join(root, 'dist/cjs/index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
    }
  });

  it('loads for import consumers', () => {
    const out = run(['--input-type=module', '-e', `import * as m from 'express-oidc-guard'; console.log(JSON.stringify(Object.keys(m)))`]);
    expect(JSON.parse(out)).toEqual(expect.arrayContaining(expected));
  });

  it('loads for require consumers', () => {
    const out = run(['-e', `const m = require('express-oidc-guard'); console.log(JSON.stringify(Object.keys(m)))`]);
    expect(JSON.parse(out)).toEqual(expect.arrayContaining(expected));
  });

  it('gives require and import consumers the same error classes', () => {
    const out = run(['-e', `const m = require('express-oidc-guard'); const e = new m.InvalidTokenError('x'); console.log(e.status, e.code, e instanceof m.AuthError)`]);
    expect(out).toBe('401 invalid_token true');
  });
});
