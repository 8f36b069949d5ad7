/**
 * `npm run bench`: every benchmark in one run, on loopback, by the pinned method: servers under
 * test on one core (BENCH_APP_CPU, default 0), this process and the load on the other (the npm
 * script runs it under `taskset -c 1`). Figures are server CPU per request next to requests/s,
 * medians of BENCH_ROUNDS rounds (default 3) of BENCH_DURATION seconds (default 3), against the
 * floor and the bare primitive measured in the same run. Prints tables, writes
 * bench/results/latest.json and the charts in bench/charts/.
 * Select sections with BENCH_ONLY=guard,memory,pages,signins,refresh,sessions (default: all):
 * - guard: requireBearer() against express-oauth2-jwt-bearer, express-jwt, a next()-only floor and
 *   no guard, with a bare crypto.verify() on the same core;
 * - memory: the guard's RSS over 100,000 first-seen tokens (BENCH_MEMORY_TOKENS);
 * - pages: signed-in page views, our auth() against express-openid-connect, express-session and no
 *   auth, with the Redis commands per view;
 * - signins: app CPU per full code-flow sign-in, ours against express-openid-connect;
 * - refresh: 50 concurrent requests of one expiring session over two processes;
 * - sessions: our app's memory over 5,000 sessions (BENCH_SESSIONS), and the Redis keys they leave.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBenchIssuer } from './issuer-keys.js';
import { benchGuard } from './guard.js';
import { benchGuardMemory } from './memory.js';
import { benchPages } from './pages.js';
import { benchRefresh } from './refresh.js';
import { benchSessionMemory } from './session-memory.js';
import { benchSignIns } from './signins.js';
import { APP_CPU, benchDir, CONNECTIONS, DURATION, ROUNDS, startChild } from './lib.js';
import { goalsTable, guardTable, pagesTable, writeCharts, type Results } from './report.js';

const SECTIONS = ['guard', 'memory', 'pages', 'signins', 'refresh', 'sessions'] as const;
const only = new Set((process.env.BENCH_ONLY ?? SECTIONS.join(',')).split(',').map((s) => s.trim()));
for (const name of only) {
  if (!(SECTIONS as readonly string[]).includes(name))
    throw new Error(`BENCH_ONLY: unknown section "${name}" (known: ${SECTIONS.join(', ')})`);
}
const load = () => os.loadavg().map((n) => Math.round(n * 100) / 100);
const started = Date.now();
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAvgAtStart: load(),
  },
  settings: { rounds: ROUNDS, durationSeconds: DURATION, connections: CONNECTIONS, appCpu: APP_CPU, sections: [...only] },
};
const timings: Record<string, number> = {};
async function section<T>(name: string, key: string, run: () => Promise<T>): Promise<void> {
  if (!only.has(name)) return;
  const t = Date.now();
  results[key] = await run();
  timings[name] = Math.round((Date.now() - t) / 1000);
}

if (only.has('guard') || only.has('memory')) {
  const issuer = await startBenchIssuer();
  try {
    await section('guard', 'guard', () => benchGuard(issuer));
    await section('memory', 'guardMemory', () => benchGuardMemory(issuer));
  } finally {
    await issuer.close();
  }
}
if (only.has('pages') || only.has('signins') || only.has('refresh') || only.has('sessions')) {
  // The sign-in sections share one fast OpenID Provider, in its own process.
  const issuer = await startChild('login-issuer-server.ts', {}, { pinned: false });
  try {
    await section('pages', 'pages', () => benchPages(issuer.url));
    await section('signins', 'signIns', () => benchSignIns(issuer.url));
    await section('refresh', 'refresh', () => benchRefresh(issuer.url));
    await section('sessions', 'sessionMemory', () => benchSessionMemory(issuer.url));
  } finally {
    await issuer.stop();
  }
}

(results.machine as Record<string, unknown>).loadAvgAtEnd = load();
results.secondsBySection = timings;
results.totalSeconds = Math.round((Date.now() - started) / 1000);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
const file = path.join(benchDir, 'results', 'latest.json');
writeCharts(results as Results);
// The tables BENCHMARKS.md shows, in Markdown.
const r = results as Results;
const summary = [
  `Run ${results.date as string}, load average ${JSON.stringify((results.machine as { loadAvgAtStart: number[] }).loadAvgAtStart)} at the start.\n`,
  goalsTable(r),
  r.guard ? guardTable(r.guard) : '',
  r.pages ? pagesTable(r.pages) : '',
].join('\n');
writeFileSync(path.join(benchDir, 'results', 'summary.md'), summary);
process.stdout.write(`\n${summary}`);
writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
process.stdout.write(`\nwrote ${path.relative(process.cwd(), file)} (${results.totalSeconds} s)\n`);
