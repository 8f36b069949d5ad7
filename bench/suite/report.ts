/**
 * The bench's charts, written to bench/charts/ (committed, shown in BENCHMARKS.md): CPU per
 * request per contender with the bare-verify line and the goals, and memory over tokens and
 * sessions. Each chart is written only when its section ran.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { barChart, lineChart, type Panel } from './chart.js';
import { LABELS, type GuardFigures } from './guard.js';
import { benchDir } from './lib.js';
import type { GuardMemoryFigures } from './memory.js';
import { PAGE_LABELS, type PagesFigures } from './pages.js';
import type { SessionMemoryFigures } from './session-memory.js';
import type { SignInFigures } from './signins.js';

export const chartsDir = path.join(benchDir, 'charts');

function write(name: string, svg: string): void {
  mkdirSync(chartsDir, { recursive: true });
  writeFileSync(path.join(chartsDir, name), svg);
  process.stdout.write(`wrote bench/charts/${name}\n`);
}

function guardPanels(guard: GuardFigures[]): Panel[] {
  return guard.map((f) => ({
    title: `${f.mode === 'repeat' ? 'Repeated token' : 'First-seen token'}, ${f.alg}: the guard's own CPU per request (minus the next()-only floor)`,
    bars: (['ours', 'eojb', 'expressjwt'] as const).map((g) => ({ label: LABELS[g], value: f.own[g].median })),
    lines: f.bare
      ? [
          { label: `bare crypto.verify ${f.bare.inline} µs`, value: f.bare.inline, kind: 'bare' as const },
          { label: `goal ${f.goal.target}x bare`, value: f.goal.target * f.bare.inline, kind: 'goal' as const },
        ]
      : [{ label: `goal ${f.goal.target} µs`, value: f.goal.target, kind: 'goal' as const }],
  }));
}

export function writeCharts(results: {
  guard?: GuardFigures[];
  pages?: PagesFigures;
  signIns?: SignInFigures;
  guardMemory?: GuardMemoryFigures;
  sessionMemory?: SessionMemoryFigures;
}): void {
  if (results.guard) write('guard-cpu.svg', barChart('Bearer guard: server CPU per request (µs, app pinned to one core)', 'µs', guardPanels(results.guard)));
  const login: Panel[] = [];
  if (results.pages) {
    const p = results.pages;
    login.push({
      title: 'Signed-in page view: app CPU per view over no auth',
      bars: (['ours', 'exsess', 'eoidc'] as const).map((v) => ({ label: PAGE_LABELS[v].replace(' + connect-redis', ''), value: p.overNone[v].median })),
      lines: [{ label: `goal ${p.goal.target} µs`, value: p.goal.target, kind: 'goal' }],
    });
  }
  if (results.signIns) {
    const s = results.signIns;
    login.push({
      title: 'Full sign-in (login, callback, first page): app CPU per sign-in',
      bars: [
        { label: 'ours', value: s.cpuPerSignIn.ours },
        { label: 'express-openid-connect', value: s.cpuPerSignIn.eoidc },
      ],
      lines: [{ label: `goal ${s.goal.target}x express-openid-connect`, value: s.goal.target * s.cpuPerSignIn.eoidc, kind: 'goal' }],
    });
  }
  if (login.length > 0) write('login-cpu.svg', barChart('Sign-in half: app CPU (µs, app pinned to one core)', 'µs', login));
  if (results.guardMemory) {
    const m = results.guardMemory;
    write('guard-memory.svg', lineChart('Guard process over first-seen tokens (after a forced GC)', 'first-seen tokens verified', 'MiB', [
      { label: 'RSS', points: m.series.map(([n, rss]) => [n, rss]) },
      { label: 'heap used', points: m.series.map(([n, , heap]) => [n, heap]) },
    ]));
  }
  if (results.sessionMemory) {
    const m = results.sessionMemory;
    write('session-memory.svg', lineChart('App process over sign-ins (after a forced GC)', 'sessions signed in', 'MiB', [
      { label: 'RSS', points: m.series.map(([n, rss]) => [n, rss]) },
      { label: 'heap used', points: m.series.map(([n, , heap]) => [n, heap]) },
    ]));
  }
}
