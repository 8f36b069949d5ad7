/**
 * Benchmark plumbing: servers under test run in child processes pinned to one core (BENCH_APP_CPU,
 * default 0) while this process, the load generator, runs on the other (`npm run bench` starts it
 * under `taskset -c 1`); autocannon drives them on loopback; each server answers its own CPU time,
 * so every figure comes as server CPU per request next to requests/s (see ../shared MEASURING.md:
 * CPU per request hardly moves when the machine is busy, req/s does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const rootDir = path.resolve(benchDir, '..');

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
export const DURATION = Number(process.env.BENCH_DURATION ?? 2);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Child {
  url: string;
  proc: ChildProcess;
  /** Sends a request to the child's control endpoint and returns its JSON. */
  stop(): Promise<void>;
}

/** Children still running: killed when this process exits, even after a failure. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of running) proc.kill('SIGTERM');
});

/** The core the servers under test run on (the load generator runs on the other one). */
export const APP_CPU = process.env.BENCH_APP_CPU ?? '0';

/**
 * Starts `bench/servers/<script>` under tsx with the given env; resolves when it prints
 * `ready <url>`. A server under test is pinned to APP_CPU with taskset (`pinned: false` for helpers
 * such as the issuer, which then share the load generator's core).
 */
export async function startChild(script: string, env: Record<string, string>, { pinned = true } = {}): Promise<Child> {
  const node = [path.join(rootDir, 'node_modules/tsx/dist/cli.mjs'), path.join(benchDir, 'servers', script)];
  const [command, args] = pinned ? ['taskset', ['-c', APP_CPU, process.execPath, ...node]] : [process.execPath, node];
  const proc = spawn(command, args, {
    cwd: rootDir,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  const lines = createInterface({ input: proc.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 120 s`)), 120_000);
    lines.on('line', (line) => {
      const m = /^ready (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return {
    url,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** What a server's `GET /__cpu` answers (bench/servers/control.ts): its counters so far. */
export interface ServerCounters {
  /** Process CPU time, µs (all threads). */
  micros: number;
  /** Main-thread GC pauses, µs. */
  gcMicros: number;
  /** The layer timed in place (timeLayer()): µs summed, calls, calls that returned before next(). */
  inRequest: { micros: number; count: number; async: number };
}

export async function serverCounters(child: Child): Promise<ServerCounters> {
  return (await (await fetch(`${child.url}/__cpu`)).json()) as ServerCounters;
}

/** The child's CPU time so far, in µs (all its threads: libuv's threadpool counts too). */
export async function cpuMicros(child: Child): Promise<number> {
  return (await serverCounters(child)).micros;
}

/** Runs `work` and answers the child's CPU time it took, in µs. */
export async function cpuOf<T>(child: Child, work: () => Promise<T>): Promise<{ micros: number; result: T }> {
  const before = await cpuMicros(child);
  const result = await work();
  return { micros: (await cpuMicros(child)) - before, result };
}

/** A load run's cost on the server, per request. */
export interface ServerCost {
  /** Server CPU, µs. */
  cpu: number;
  /** Main-thread GC pauses, µs (part of `cpu`). */
  gc: number;
  /** The layer timed in place, µs per call (0 when the server times none). */
  inRequest: number;
  /** Share of the timed calls that returned before next(): `inRequest` is then their synchronous part. */
  asyncShare: number;
}

/** Runs a load on `child` and answers its result and the server's cost per request it answered. */
export async function costOf<T extends { requests: number }>(child: Child, run: () => Promise<T>): Promise<ServerCost & { result: T }> {
  const before = await serverCounters(child);
  const result = await run();
  // The GC observer reports a pause after it ends: a moment for the last ones (the core idles meanwhile).
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = await serverCounters(child);
  const timed = after.inRequest.count - before.inRequest.count;
  return {
    result,
    cpu: (after.micros - before.micros) / result.requests,
    gc: (after.gcMicros - before.gcMicros) / result.requests,
    inRequest: timed > 0 ? (after.inRequest.micros - before.inRequest.micros) / timed : 0,
    asyncShare: timed > 0 ? (after.inRequest.async - before.inRequest.async) / timed : 0,
  };
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  /** Per-request headers (first-seen tokens): called for each request. */
  nextHeaders?: () => Record<string, string>;
  /** A fixed number of requests instead of a duration. */
  amount?: number;
  duration?: number;
  connections?: number;
}

export interface LoadResult {
  rps: number;
  /** Responses received. */
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const next = options.nextHeaders;
  const opts = {
    url: options.url,
    connections: options.connections ?? CONNECTIONS,
    ...(options.amount ? { amount: options.amount } : { duration: options.duration ?? DURATION }),
    headers: options.headers ?? {},
    ...(next
      ? {
          requests: [
            {
              setupRequest: (req: Record<string, unknown>) => ({ ...req, headers: { ...(req.headers as object), ...next() } }),
            },
          ],
        }
      : {}),
  } as autocannon.Options;
  // autocannon notices the end of a fixed-amount run only on its one-second tick, so its own
  // duration is rounded up to whole seconds; time the responses here instead.
  let first = 0;
  let last = 0;
  let count = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', () => {
      const now = performance.now();
      if (count === 0) first = now;
      last = now;
      count += 1;
    });
  });
  const seconds = (last - first) / 1000;
  return {
    rps: seconds > 0 ? (count - 1) / seconds : 0,
    requests: count,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** Fails the run on any error or non-2xx answer (a lost session answers 302, a refused token 401); returns `res`. */
export function expectOk<T extends Pick<LoadResult, 'non2xx' | 'errors'>>(res: T, label: string): T {
  if (res.non2xx > 0 || res.errors > 0) throw new Error(`${label}: ${res.non2xx} non-2xx, ${res.errors} errors`);
  return res;
}

/** Prints a table of rows with aligned columns. */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const fmt = (cells: string[]) => cells.map((cell, i) => cell.padEnd(width[i]!)).join('  ');
  process.stdout.write(`\n${title}\n${fmt(cols)}\n${fmt(width.map((w) => '-'.repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${fmt(cols.map((c) => String(r[c])))}\n`);
}

export const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
export const round1 = (x: number): number => Math.round(x * 10) / 10;
