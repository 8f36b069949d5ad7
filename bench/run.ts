/**
 * `npm run bench`: every benchmark in one run, on loopback. Figures are medians of BENCH_ROUNDS
 * rounds (default 3) of BENCH_DURATION seconds (default 3), reported as ratios against baselines
 * measured in the same run. Prints tables and writes bench/results/latest.json.
 * Select sections with BENCH_ONLY=guard,memory (default: all).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBenchIssuer } from './issuer-keys.js';
import { benchGuard } from './guard.js';
import { benchGuardMemory } from './memory.js';
import { benchDir, CONNECTIONS, DURATION, ROUNDS } from './lib.js';

const only = new Set((process.env.BENCH_ONLY ?? 'guard,memory').split(',').map((s) => s.trim()));
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  settings: { rounds: ROUNDS, durationSeconds: DURATION, connections: CONNECTIONS },
};

const issuer = await startBenchIssuer();
try {
  if (only.has('guard')) results.guard = await benchGuard(issuer);
  if (only.has('memory')) results.guardMemory = await benchGuardMemory(issuer);
} finally {
  await issuer.close();
}

mkdirSync(path.join(benchDir, 'results'), { recursive: true });
const file = path.join(benchDir, 'results', 'latest.json');
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)}\n`);
