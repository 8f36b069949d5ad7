/**
 * Summarises a V8 CPU profile (a server's BENCH_CPU_PROFILE file, or node --cpu-prof output):
 * self time by function and by place (our src/, express, node internals, GC, ...), as shares of
 * the busy (not idle) samples, and as µs per request when the measured CPU per request is given
 * (each share of it).
 *
 * Run: npx tsx bench/micro/profile-summary.ts <file.cpuprofile> [cpu µs per request] [top=25]
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, perRequestText, topText = '25'] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [cpu µs per request] [top]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const perRequest = perRequestText ? Number(perRequestText) : undefined;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const idle = profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id);
for (const id of idle) self.delete(id);
const total = [...self.values()].reduce((a, b) => a + b, 0);

function place(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)') return name;
  if (url.includes('/src/') || url.includes('/dist/esm/')) return 'ours (src/dist)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return url.replace(/^file:\/\//, '');
}

const byFunction = new Map<string, number>();
const byPlace = new Map<string, number>();
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src|dist)\//, '$1/')}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + t);
  const p = place(url, functionName);
  byPlace.set(p, (byPlace.get(p) ?? 0) + t);
}
const fmt = (t: number) =>
  `${((t / total) * 100).toFixed(1).padStart(5)} %${perRequest ? `  ${((t / total) * perRequest).toFixed(2).padStart(7)} µs/req` : ''}`;
process.stdout.write(
  `${file}: ${(total / 1000).toFixed(0)} ms busy${perRequest ? `, shares of ${perRequest} µs per request` : ''}\n\nby place\n`,
);
for (const [p, t] of [...byPlace].sort((a, b) => b[1] - a[1])) process.stdout.write(`${fmt(t)}  ${p}\n`);
process.stdout.write(`\nby function (self time, top ${topText})\n`);
for (const [k, t] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(topText))) process.stdout.write(`${fmt(t)}  ${k}\n`);
