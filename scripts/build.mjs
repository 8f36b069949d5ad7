// Builds the package twice from one source: ES modules (dist/esm) and CommonJS (dist/cjs),
// each with its own declarations, behind the `exports` map in package.json. A small
// package.json in dist/cjs marks that folder as CommonJS so Node and TypeScript read the
// `.js` and `.d.ts` files there as CJS, which is what @arethetypeswrong expects.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = (args) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', ...args], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc(['-p', 'tsconfig.build.json', '--outDir', 'dist/esm']);
tsc(['-p', 'tsconfig.build.json', '--outDir', 'dist/cjs', '--module', 'commonjs', '--moduleResolution', 'node10']);
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');
