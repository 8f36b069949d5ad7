/**
 * The control routes every bench server carries, mounted before the route under test:
 * - GET /__cpu: the process CPU time so far, in µs (all threads, so libuv's threadpool counts),
 *   the main thread's garbage-collection pauses so far, in µs, and `inRequest` (see `timeLayer()`);
 *   the parent divides a delta by the requests it sent;
 * - GET /__rss: RSS and heap (`?gc=1` collects garbage first when node runs with --expose-gc);
 * - POST /__verify: the bare primitive on this same pinned core, `crypto.verify()` of the posted
 *   tokens' signatures with the posted JWK (ES256 with `dsaEncoding: 'ieee-p1363'`), inline or
 *   with a callback (on the threadpool, 20 in flight); answers CPU µs per verify.
 * With BENCH_CPU_PROFILE=<file>, the server writes a V8 CPU profile of its life there on SIGTERM
 * (summarised by bench/micro/profile-summary.ts; NODE_OPTIONS does not accept --cpu-prof).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session as InspectorSession } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import express, { type Express, type RequestHandler } from 'express';

const cpuNow = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/**
 * The main thread's GC pauses so far, in µs: the part of a request's CPU that its garbage costs
 * later (a guard's own cost counts the collections its allocations and cache entries cause).
 */
let gcMicros = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMicros += entry.duration * 1000;
}).observe({ entryTypes: ['gc'] });

/**
 * A layer's own time inside the running server, summed over the requests it saw (see `timeLayer()`).
 * `async`: the calls that returned before calling next() (only their synchronous part is timed).
 */
export const inRequest = { micros: 0, count: 0, async: 0 };

/**
 * Wraps a middleware to time it where it runs: from the call until it calls next() or returns,
 * whichever comes first, with performance.now(). On the pinned core, otherwise idle, that wall
 * time is the layer's CPU on the event loop, without the collections its garbage causes later
 * (GC is counted apart) and without the noise of a difference of two busy servers: this machine's
 * core speed drifts by 10–20 % from second to second, which the difference of two ~230 µs
 * figures turns into tens of µs, while a ~15 µs figure timed in place moves by about one.
 */
export function timeLayer(layer: RequestHandler): RequestHandler {
  return function timed(req, res, next) {
    const t0 = performance.now();
    let timed = false;
    const stop = () => {
      timed = true;
      inRequest.micros += (performance.now() - t0) * 1000;
      inRequest.count += 1;
    };
    void layer(req, res, (err?: unknown) => {
      if (!timed) stop();
      next(err as never);
    });
    if (!timed) {
      stop();
      inRequest.async += 1;
    }
  };
}

interface VerifyRequest {
  alg: 'RS256' | 'ES256';
  jwk: Record<string, unknown>;
  tokens: string[];
  passes?: number;
  mode?: 'inline' | 'threadpool';
}

async function bareVerify({ alg, jwk, tokens, passes = 3, mode = 'inline' }: VerifyRequest): Promise<number> {
  const key: KeyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
  const keyArg = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  const parts = tokens.map((t) => {
    const dot = t.lastIndexOf('.');
    return { data: Buffer.from(t.slice(0, dot)), signature: Buffer.from(t.slice(dot + 1), 'base64url') };
  });
  const check = (ok: boolean) => {
    if (!ok) throw new Error('bare verify refused a valid signature');
  };
  for (const p of parts.slice(0, 100)) check(verify('sha256', p.data, keyArg, p.signature));
  const start = cpuNow();
  for (let pass = 0; pass < passes; pass += 1) {
    if (mode === 'inline') {
      for (const p of parts) check(verify('sha256', p.data, keyArg, p.signature));
    } else {
      let next = 0;
      const one = (p: (typeof parts)[number]) =>
        new Promise<void>((resolve, reject) =>
          verify('sha256', p.data, keyArg, p.signature, (err, ok) => (err ? reject(err) : resolve(check(ok)))),
        );
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < parts.length) await one(parts[next++]!);
        }),
      );
    }
  }
  return (cpuNow() - start) / (parts.length * passes);
}

const profileFile = process.env.BENCH_CPU_PROFILE;
const inspector = profileFile ? new InspectorSession() : undefined;
if (inspector) {
  inspector.connect();
  await new Promise<void>((resolve, reject) =>
    inspector.post('Profiler.enable', () => inspector.post('Profiler.start', (err) => (err ? reject(err) : resolve()))),
  );
}

/** Writes the CPU profile asked for with BENCH_CPU_PROFILE (no-op otherwise). */
export async function writeProfile(): Promise<void> {
  if (!inspector || !profileFile) return;
  const profile = await new Promise<unknown>((resolve, reject) =>
    inspector.post('Profiler.stop', (err, result) => (err ? reject(err) : resolve(result.profile))),
  );
  writeFileSync(profileFile, JSON.stringify(profile));
}

export function mountControl(app: Express): void {
  app.get('/__cpu', (_req, res) => {
    res.json({ micros: cpuNow(), gcMicros, inRequest });
  });
  app.get('/__rss', (req, res) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (req.query.gc === '1' && gc) gc();
    const { rss, heapUsed } = process.memoryUsage();
    res.json({ rss, heapUsed, gc: Boolean(gc) });
  });
  app.post('/__verify', express.json({ limit: '50mb' }), async (req, res, next) => {
    try {
      res.json({ microsPerVerify: await bareVerify(req.body as VerifyRequest) });
    } catch (err) {
      next(err);
    }
  });
}
