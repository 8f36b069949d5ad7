import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Issue 16 C: the package as users install it. `npm pack` (dist/ is built by npm test first, and by
// `prepare` for a git install), install the tarball into a scratch app with only express beside it,
// compile that app under `strict` with `skipLibCheck: false` (every .d.ts we publish, and the
// types they pull in, are checked), then run it both as ES module and as CommonJS. npm resolves
// from its cache first (--prefer-offline), so this needs the registry only on a cold cache.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// One app, written once, imported the ESM way (.mts) and the CommonJS way (.cts).
const APP = `
import express from 'express';
import type { AddressInfo } from 'node:net';
import { auth, requireBearer, requiredScopes, requiresAuth, InvalidTokenError, type AuthOptions, type UserClaims } from 'express-oidc-guard';
import { buildChallenge } from 'express-oidc-guard/advanced';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const app = express();
app.use('/api', requireBearer({ issuerBaseURL: 'https://issuer.example', audience: 'https://api.example', logger: silent }));
app.get('/api/admin', requiredScopes('admin'), (req, res) => {
  res.json(req.auth?.payload ?? null);
});

const options: AuthOptions = {
  issuerBaseURL: 'https://issuer.example',
  baseURL: 'https://app.example',
  clientID: 'consumer',
  clientSecret: 'a-client-secret-of-thirty-two-chars!',
  secret: 'a-session-secret-of-at-least-32-characters',
  authRequired: false,
  session: { allowMemoryStore: true },
  logger: silent,
};
const oidc = auth(options);
app.use(oidc);
app.get('/', (req, res) => {
  const user: UserClaims | undefined = req.oidc.user;
  const name: string | undefined = user?.name; // OIDC Core §5.1: a string, not unknown
  const roles: unknown = user?.['https://app.example/roles']; // other claims stay reachable
  res.json({ signedIn: req.oidc.isAuthenticated(), name: name ?? null, roles: roles ?? null });
});
app.get('/profile', requiresAuth(), (_req, res) => {
  res.send('private');
});

async function main(): Promise<void> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const base = 'http://127.0.0.1:' + (server.address() as AddressInfo).port;
  const api = await fetch(base + '/api/admin');
  const home = await fetch(base + '/');
  const profile = await fetch(base + '/profile', { redirect: 'manual' });
  console.log(JSON.stringify({
    api: api.status,
    challenge: api.headers.get('www-authenticate'),
    home: home.status,
    homeBody: await home.json(),
    profile: profile.status,
    location: profile.headers.get('location'),
    built: buildChallenge(new InvalidTokenError('Expired.'), { realm: 'api' }),
  }));
  server.close();
  await oidc.close();
}
void main();
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: false,
    esModuleInterop: true,
    outDir: 'out',
  },
  files: ['app.mts', 'app.cts'],
};

describe('issue 16 C: the packed package in a strict consumer', () => {
  let dir = '';
  let compiled: { ok: boolean; output: string } = { ok: false, output: 'not compiled' };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'eog-consumer-'));
    const [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], root)) as Array<{
      filename: string;
    }>;
    if (!packed) throw new Error('npm pack produced no tarball');
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        dependencies: { 'express-oidc-guard': `file:./${packed.filename}`, express: versionOf('express') },
      }),
    );
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock'], dir);
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(path.join(dir, 'app.mts'), APP);
    writeFileSync(path.join(dir, 'app.cts'), APP);
    try {
      const output = execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
        cwd: dir,
        encoding: 'utf8',
      });
      compiled = { ok: true, output };
    } catch (err) {
      compiled = { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
    }
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('compiles under strict with skipLibCheck false, ESM and CommonJS, the main entry and ./advanced', () => {
    expect(compiled.output).toBe('');
    expect(compiled.ok).toBe(true);
  });

  it.each([
    ['an ES module', 'out/app.mjs'],
    ['a CommonJS module', 'out/app.cjs'],
  ])('runs as %s: auth() and requireBearer() mounted, answering as documented', (_kind, file) => {
    expect(compiled.ok).toBe(true);
    const out = execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(JSON.parse(out)).toEqual({
      api: 401,
      challenge: expect.stringMatching(/^Bearer realm="[^"]+"$/),
      home: 200,
      homeBody: { signedIn: false, name: null, roles: null },
      profile: 302,
      location: '/login?returnTo=/profile',
      built: 'Bearer realm="api", error="invalid_token", error_description="Expired."',
    });
  });

  it('has a prepare script that builds dist/, so an install from a git URL gets it', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string>; files: string[] };
    expect(pkg.scripts.prepare).toBe('npm run build');
    expect(pkg.files).toContain('dist');
  });
});
