/**
 * The bench's charts, written to bench/charts/ (committed, shown in BENCHMARKS.md): CPU per
 * request per contender with the bare-verify line and the goals, and memory over tokens and
 * sessions. Each chart is written only when its section ran.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { barChart, lineChart, type Panel } from './chart.js';
import { LABELS, type GuardFigures } from './guard.js';
import { benchDir, ratio } from './lib.js';
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
          { label: `least any guard ${f.floor.median} µs`, value: f.floor.median, kind: 'bare' as const },
          { label: `goal ${f.goal.target}x bare`, value: f.goal.target * f.bare.inline, kind: 'goal' as const },
        ]
      : [
          { label: `least any hashed cache ${f.floor.median} µs`, value: f.floor.median, kind: 'bare' as const },
          { label: `goal ${f.goal.target} µs`, value: f.goal.target, kind: 'goal' as const },
        ],
  }));
}

export interface Results {
  guard?: GuardFigures[];
  pages?: PagesFigures;
  signIns?: SignInFigures;
  guardMemory?: GuardMemoryFigures;
  sessionMemory?: SessionMemoryFigures;
}

const verdict = (met: boolean): string => (met ? 'met' : '**not met**');

/** The run's figures against issue 18's goals, as a Markdown table (for BENCHMARKS.md). */
export function goalsTable(results: Results): string {
  const rows: string[] = ['| Goal | Target | This run | Verdict |', '|---|---|---|---|'];
  for (const f of results.guard ?? []) {
    const o = f.own.ours;
    if (f.mode === 'repeat')
      rows.push(
        `| Repeated token ${f.alg}: guard's own CPU | <= ${f.goal.target} µs | over the floor ${o.median} µs (rounds ${o.min}–${o.max}); in place ${f.oursInPlace.inRequest} + GC ${f.oursInPlace.gcOverFloor} = ${f.oursInPlace.total} µs; least any hashed cache: in place ${f.floor.inRequest} µs, any cache keyed by the raw token: ${f.rawLookupInRequest} µs | ${verdict(f.goal.met)} |`,
      );
    else
      rows.push(
        `| First-seen token ${f.alg}: own CPU / bare verify | <= ${f.goal.target}x | ${f.goal.value}x (${o.median} / ${f.bare!.inline} µs); in place ${ratio(f.oursInPlace.total, f.bare!.inline)}x (${f.oursInPlace.inRequest} + GC ${f.oursInPlace.gcOverFloor}); least any guard: in place ${ratio(f.floor.inRequest, f.bare!.inline)}x (${f.floor.inRequest} µs), over the floor ${ratio(f.floor.median, f.bare!.inline)}x | ${verdict(f.goal.met)} |`,
      );
  }
  const p = results.pages;
  if (p)
    rows.push(
      `| Signed-in page view: app CPU over no auth | <= ${p.goal.target} µs, 0–1 Redis commands | +${p.goal.value} µs (rounds ${p.overNone.ours.min}–${p.overNone.ours.max}), ${p.redisPerView.ours.total} commands | ${verdict(p.goal.met && p.redisPerView.ours.total <= 1)} |`,
    );
  const s = results.signIns;
  if (s)
    rows.push(
      `| Sign-in: app CPU per full sign-in / express-openid-connect's | <= ${s.goal.target}x | ${s.goal.value}x (${s.cpuPerSignIn.ours} / ${s.cpuPerSignIn.eoidc} µs); least any sign-in ${s.ratios.cpuFloorVsEoidc}x, with Redis and the ID token's signature checked ${s.ratios.cpuFloorRedisVsEoidc}x | ${verdict(s.goal.met)} |`,
    );
  const m = results.guardMemory;
  if (m)
    rows.push(
      `| Memory: RSS after ${m.tokens} first-seen tokens | flat | ${m.rssStartMiB} → ${m.rssEndMiB} MiB, ${m.growthAfterFirstBatchMiB >= 0 ? '+' : ''}${m.growthAfterFirstBatchMiB} after the first batch | see chart |`,
    );
  const sm = results.sessionMemory;
  if (sm)
    rows.push(`| Memory: RSS after ${sm.sessions} sessions | flat | ${sm.series.map(([, rss]) => rss).join(' → ')} MiB | see chart |`);
  return rows.join('\n') + '\n';
}

/** The guard's figures as a Markdown table: CPU per request (µs) and requests/s of every contender. */
export function guardTable(guard: GuardFigures[]): string {
  const rows = [
    '| tokens | no guard | `next()` only | least any guard (own) | ours (own) | express-oauth2-jwt-bearer (own) | express-jwt (own) | bare `crypto.verify` (threadpool) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const f of guard) {
    const inPlace = (v: keyof typeof f.inRequest) =>
      f.asyncShare[v]! > 0.5 ? `sync part ${f.inRequest[v]}` : `in place ${f.inRequest[v]}`;
    const cell = (v: 'ours' | 'eojb' | 'expressjwt') =>
      `${f.cpu[v]} (**${f.own[v].median}**) · ${inPlace(v)} · GC ${f.gc[v]} · ${f.rps[v]}/s`;
    const floor = `${LABELS[f.floor.variant]}: ${f.cpu[f.floor.variant]} (**${f.floor.median}**) · ${inPlace(f.floor.variant)} · GC ${f.gc[f.floor.variant]}`;
    rows.push(
      `| ${f.mode} ${f.alg} | ${f.cpu.none} · GC ${f.gc.none} · ${f.rps.none}/s | ${f.cpu.noop} · GC ${f.gc.noop} · ${f.rps.noop}/s | ${floor} | ${cell('ours')} | ${cell('eojb')} | ${cell('expressjwt')} | ${f.bare ? `${f.bare.inline} (${f.bare.threadpool})` : '–'} |`,
    );
  }
  return rows.join('\n') + '\n';
}

/** Page views as a Markdown table. */
export function pagesTable(p: PagesFigures): string {
  const rows = [
    '| | app CPU per view | over no auth | of which GC pauses | requests/s | Redis commands per view |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const v of ['none', 'floor', 'ours', 'exsess', 'eoidc'] as const) {
    const redis = v === 'none' || v === 'floor' ? '–' : p.redisPerView[v].total;
    rows.push(
      `| ${PAGE_LABELS[v]} | ${p.cpu[v]} µs | ${v === 'none' ? '–' : `+${p.overNone[v].median} µs`} | ${p.gc[v]} µs | ${p.rps[v]} | ${redis} |`,
    );
  }
  return rows.join('\n') + '\n';
}

export function writeCharts(results: Results): void {
  if (results.guard)
    write('guard-cpu.svg', barChart('Bearer guard: server CPU per request (µs, app pinned to one core)', 'µs', guardPanels(results.guard)));
  const login: Panel[] = [];
  if (results.pages) {
    const p = results.pages;
    login.push({
      title: 'Signed-in page view: app CPU per view over no auth',
      bars: (['ours', 'exsess', 'eoidc', 'floor'] as const).map((v) => ({
        label: PAGE_LABELS[v].replace(' + connect-redis', ''),
        value: p.overNone[v].median,
      })),
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
        { label: 'least any sign-in, with Redis', value: s.cpuPerSignIn['floor-redis'] },
        { label: 'least any sign-in', value: s.cpuPerSignIn.floor },
      ],
      lines: [{ label: `goal ${s.goal.target}x express-openid-connect`, value: s.goal.target * s.cpuPerSignIn.eoidc, kind: 'goal' }],
    });
  }
  if (login.length > 0) write('login-cpu.svg', barChart('Sign-in half: app CPU (µs, app pinned to one core)', 'µs', login));
  if (results.guardMemory) {
    const m = results.guardMemory;
    write(
      'guard-memory.svg',
      lineChart('Guard process over first-seen tokens (after a forced GC)', 'first-seen tokens verified', 'MiB', [
        { label: 'RSS', points: m.series.map(([n, rss]) => [n, rss]) },
        { label: 'heap used', points: m.series.map(([n, , heap]) => [n, heap]) },
      ]),
    );
  }
  if (results.sessionMemory) {
    const m = results.sessionMemory;
    write(
      'session-memory.svg',
      lineChart('App process over sign-ins (after a forced GC)', 'sessions signed in', 'MiB', [
        { label: 'RSS', points: m.series.map(([n, rss]) => [n, rss]) },
        { label: 'heap used', points: m.series.map(([n, , heap]) => [n, heap]) },
      ]),
    );
  }
}
