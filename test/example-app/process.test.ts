/**
 * `npm start` as a process (docs/CONTRACT.md, "Start"): the `listening on <BASE_URL>` line, a
 * clean exit on SIGTERM/SIGINT, and the production refusals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../support/net.js';
import { CONTROLLED } from '../reliability/helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Started {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

const children = new Set<ChildProcess>();

function start(env: Record<string, string>): Started {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of CONTROLLED) delete base[name];
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'example-app/server.ts'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function waitFor(started: Started, pattern: RegExp, deadlineMs = 45_000): Promise<RegExpMatchArray> {
  const until = Date.now() + deadlineMs;
  let exited = false;
  void started.exited.then(() => (exited = true));
  for (;;) {
    const match = pattern.exec(started.stdout());
    if (match) return match;
    if (exited || Date.now() > until) {
      throw new Error(`no ${pattern} in stdout (exited: ${exited}).\nstdout: ${started.stdout()}\nstderr: ${started.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function exitCode(started: Started, deadlineMs = 30_000): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  const code = await Promise.race([started.exited, timeout]);
  clearTimeout(timer);
  return code;
}

afterEach(async () => {
  for (const child of children) {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
});

describe('npm start (example-app/server.ts)', () => {
  it('prints `listening on <BASE_URL>` once it accepts requests, with the IdP URL and demo login, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const app = start({ PORT: String(port) });
    await waitFor(app, /^listening on (\S+)$/m);
    const lines = app
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('listening on '));
    expect(lines).toEqual([`listening on http://localhost:${port}`]);
    expect(app.stdout()).toMatch(/^embedded development IdP: http:\/\/127\.0\.0\.1:\d+$/m);
    expect(app.stdout()).toMatch(/^demo login: demo \/ password: demo$/m);
    expect(app.stderr()).toMatch(/REDIS_URL is not set/);

    const home = await fetch(`http://localhost:${port}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('>Log in</a>');
    const login = await fetch(`http://localhost:${port}/login`, { redirect: 'manual' });
    expect(login.status).toBe(302);

    app.child.kill('SIGTERM');
    expect(await exitCode(app)).toBe(0);
  });

  it('follows BASE_URL and IDP_PORT, and exits 0 on SIGINT', async () => {
    const [port, idpPort] = [await freePort(), await freePort()];
    const app = start({ PORT: String(port), BASE_URL: `http://127.0.0.1:${port}`, IDP_PORT: String(idpPort) });
    await waitFor(app, /^listening on /m);
    expect(app.stdout()).toContain(`listening on http://127.0.0.1:${port}\n`);
    expect(app.stdout()).toContain(`embedded development IdP: http://127.0.0.1:${idpPort}\n`);
    const metadata = await fetch(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`);
    expect(metadata.status).toBe(200);
    app.child.kill('SIGINT');
    expect(await exitCode(app)).toBe(0);
  });

  it('starts in production with REDIS_URL and SESSION_SECRET', async () => {
    const port = await freePort();
    const app = start({
      PORT: String(port),
      NODE_ENV: 'production',
      REDIS_URL: 'redis://127.0.0.1:6379',
      SESSION_SECRET: 'production-test-secret-0123456789abcdef',
    });
    await waitFor(app, /^listening on /m);
    expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
    app.child.kill('SIGTERM');
    expect(await exitCode(app)).toBe(0);
  });

  describe('NODE_ENV=production refuses to start, saying why (exit code 1, one line on stderr)', () => {
    it.each([
      ['REDIS_URL', { SESSION_SECRET: 'production-test-secret-0123456789abcdef' }, /REDIS_URL/],
      ['SESSION_SECRET', { REDIS_URL: 'redis://127.0.0.1:6379' }, /SESSION_SECRET/],
    ])('without %s', async (_missing, env, message) => {
      const app = start({ PORT: String(await freePort()), NODE_ENV: 'production', ...env });
      expect(await exitCode(app)).toBe(1);
      const ours = app
        .stderr()
        .split('\n')
        .filter((line) => line.startsWith('example-app:'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(message);
      expect(ours[0]).toContain('NODE_ENV=production');
      expect(app.stdout()).not.toContain('listening on');
    });
  });
});
