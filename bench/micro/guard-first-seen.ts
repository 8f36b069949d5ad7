/**
 * First-seen tokens through the guards in process (no HTTP), split the way a profile cannot on a
 * busy machine: process CPU per token (all threads), the main thread's own CPU (from
 * /proc/self/task, Linux only), and the GC pauses, all and major ones (PerformanceObserver). Rounds interleave the
 * variants, every variant gets the same tokens (each guard has its own cache, so each sees them
 * first), and the minimum and median over rounds are printed: on a shared machine the minimum is
 * the steadier figure.
 *
 * Variants: ours (requireBearer() defaults), ours-nocache (`cache: false`), eojb
 * (express-oauth2-jwt-bearer).
 *
 * With BENCH_DIST=<folder of another build's index.js> the variant `base` is that build's
 * requireBearer() defaults, for an A/B in one process; `ours` is then this checkout's build
 * (dist/esm, `npm run build` first) rather than its sources.
 *
 * Run: npx tsx bench/micro/guard-first-seen.ts [RS256|ES256] [amount=4000] [rounds=5] [variants=ours,eojb]
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import { startBenchIssuer, type Alg } from '../suite/issuer-keys.js';
import { runGuard } from './request.js';
type Package = typeof import('../../src/index.js');
const dist = process.env.BENCH_DIST;
const { requireBearer } = (
  dist ? await import(new URL('../../dist/esm/index.js', import.meta.url).href) : await import('../../src/index.js')
) as Package;
const base = dist ? ((await import(`file://${dist}/index.js`)) as Package) : undefined;

const [algText = 'RS256', amountText = '4000', roundsText = '5', variantsText = 'ours,eojb'] = process.argv.slice(2);
const alg = algText as Alg;
const amount = Number(amountText);
const rounds = Number(roundsText);
const issuer = await startBenchIssuer();
const jwksUri = `${issuer.issuer}/jwks`;
const options = { issuer: issuer.issuer, jwksUri, audience: issuer.audience, algorithms: ['RS256', 'ES256'] };
const { auth } = await import('express-oauth2-jwt-bearer');
const make: Record<string, () => RequestHandler> = {
  ours: () => requireBearer(options),
  'ours-nocache': () => requireBearer({ ...options, cache: false }),
  base: () => base!.requireBearer(options),
  eojb: () => auth({ issuer: issuer.issuer, jwksUri, audience: issuer.audience }) as unknown as RequestHandler,
};
const names = variantsText.split(',');
const guards = Object.fromEntries(names.map((n) => [n, make[n]!()]));

let gcMs = 0;
let majorMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    // perf_hooks.constants.NODE_PERFORMANCE_GC_MAJOR
    if (((entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0) & 4) majorMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });

/** CPU time of the main thread so far, in µs (clock ticks of 10 ms). */
function mainThreadMicros(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

interface Figures {
  cpu: number;
  main: number;
  gc: number;
  major: number;
}

async function measure(guard: RequestHandler, tokens: string[]): Promise<Figures> {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadMicros();
  const gc0 = gcMs;
  const major0 = majorMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < tokens.length) await runGuard(guard, tokens[next++]!);
    }),
  );
  // Let the GC observer report what happened during the run.
  await new Promise((r) => setImmediate(r));
  const cpu = process.cpuUsage(cpu0);
  return {
    cpu: (cpu.user + cpu.system) / tokens.length,
    main: (mainThreadMicros() - main0) / tokens.length,
    gc: ((gcMs - gc0) * 1000) / tokens.length,
    major: ((majorMs - major0) * 1000) / tokens.length,
  };
}

// Warm-up, and fill the verified-token caches as a long first-seen run does.
for (let i = 0; i < 3; i += 1) {
  const warm = await Promise.all(Array.from({ length: 4000 }, () => issuer.mint(alg)));
  for (const g of Object.values(guards)) await measure(g, warm);
}
const results: Record<string, Figures[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r += 1) {
  const tokens = await Promise.all(Array.from({ length: amount }, () => issuer.mint(alg)));
  const order = r % 2 === 0 ? names : [...names].reverse();
  for (const name of order) results[name]!.push(await measure(guards[name]!, tokens));
}
const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
const min = (x: number[]) => Math.min(...x);
process.stdout.write(`${alg}, ${amount} tokens × ${rounds} rounds (µs per token, min / median)\n`);
for (const name of names) {
  const f = results[name]!;
  const col = (pick: (x: Figures) => number) => `${min(f.map(pick)).toFixed(1).padStart(6)} /${med(f.map(pick)).toFixed(1).padStart(6)}`;
  process.stdout.write(
    `${name.padEnd(14)} CPU ${col((x) => x.cpu)}   main thread ${col((x) => x.main)}   GC ${col((x) => x.gc)} (major ${col((x) => x.major)})\n`,
  );
}
await issuer.close();
process.exit(0);
