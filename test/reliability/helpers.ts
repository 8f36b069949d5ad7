/**
 * Plumbing of the reliability tests: the example app as a real process, a TCP relay in front of
 * Redis that a test can cut and restore, a throwaway redis-server, free ports, and polling with a
 * deadline (never a fixed sleep).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { eventuallyValue } from '../support/eventually.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const REDIS_URL = 'redis://127.0.0.1:6379';

export { freePort } from '../support/net.js';

/** `eventuallyValue()` of test/support, with positional arguments: polls `probe` until `ok(value)`. */
export function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 20_000, what = 'condition'): Promise<T> {
  return eventuallyValue(probe, ok, { timeoutMs: deadlineMs, what, stepMs: 100 });
}

/** True when a TCP connection to 127.0.0.1:port is refused. */
export function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * A TCP relay to the real Redis (127.0.0.1:6379) on a port of its own that stays the same across
 * `cut()` and `open()`: cut drops every connection and stops listening (connections are refused),
 * open listens again.
 */
export class RedisRelay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((inbound) => {
      const outbound = net.connect(6379, '127.0.0.1');
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.once('close', () => outbound.destroy());
      outbound.once('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A redis-server of its own on `port` (no persistence), for "Redis comes up later" tests;
 * `pause()` / `resume()` stop and continue the process (SIGSTOP / SIGCONT): a Redis that keeps its
 * connections open but answers nothing.
 */
export async function startRedisServer(port: number): Promise<{ stop(): Promise<void>; pause(): void; resume(): void }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await eventually(
      async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
        return probe.status === 'ready' ? probe.ping() : 'no';
      },
      (answer) => answer === 'PONG',
      10_000,
      `redis-server on port ${port}`,
    );
  } finally {
    probe.disconnect();
  }
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGTERM');
      }
      await exited;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  };
}

/** Every variable of docs/CONTRACT.md: cleared from the parent's environment before a spawn. */
export const CONTROLLED = [
  'PORT',
  'HOST',
  'BASE_URL',
  'ISSUER_BASE_URL',
  'CLIENT_ID',
  'CLIENT_SECRET',
  'SCOPE',
  'AUDIENCE',
  'SESSION_SECRET',
  'SECRET',
  'REDIS_URL',
  'NODE_ENV',
  'IDP_PORT',
  'NODE_DEBUG',
];

/** The example app (`npm start`) as a child process. */
export interface AppProcess {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves once the app printed `listening on <url>`. */
  listening(deadlineMs?: number): Promise<void>;
  /** SIGKILL when still running (cleanup). */
  kill(): Promise<void>;
}

const children = new Set<AppProcess>();

/** Spawns `example-app/server.ts` with exactly `env` (plus PATH and friends). */
export function spawnApp(env: Record<string, string>): AppProcess {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of CONTROLLED) delete base[name];
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'example-app/server.ts'], {
    cwd: ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own: tsx runs the app in a child process, and a SIGKILL (cleanup)
    // must reach that one too (signals sent to the tsx process itself are relayed by tsx).
    detached: true,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  let done = false;
  void exited.then(() => (done = true));
  const app: AppProcess = {
    child,
    url: env.BASE_URL ?? `http://localhost:${env.PORT}`,
    stdout: () => out,
    stderr: () => err,
    exited,
    async listening(deadlineMs = 45_000) {
      const until = Date.now() + deadlineMs;
      while (!/^listening on /m.test(out)) {
        if (done || Date.now() > until) throw new Error(`the app did not start (exited: ${done})\nstdout: ${out}\nstderr: ${err}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill() {
      children.delete(app);
      if (!done) {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        await exited;
      }
    },
  };
  children.add(app);
  return app;
}

/** Kills every app process still running (afterEach / afterAll). */
export async function killApps(): Promise<void> {
  await Promise.all([...children].map((app) => app.kill()));
}

/** Resolves with the exit code, or `'timeout'` after `deadlineMs`. */
export async function exitCode(app: AppProcess, deadlineMs = 30_000): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
  });
  const code = await Promise.race([app.exited, timeout]);
  clearTimeout(timer);
  return code;
}

/** Deletes every key under `prefix`. */
export { deleteKeys as deletePrefix } from '../support/redis.js';

/** The session id inside an express-session cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sessionIdOf(cookieValue: string | undefined): string {
  const match = /^s:([^.]+)\./.exec(decodeURIComponent(cookieValue ?? ''));
  if (!match) throw new Error('not a signed session cookie');
  return match[1]!;
}
