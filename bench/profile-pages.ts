/**
 * Profiling aid (not part of `npm run bench`): starts the bench issuer and one page-view app
 * (BENCH_VARIANT, default ours) with a CPU profile, signs in once, loads GET /page for
 * BENCH_DURATION seconds and writes the profile to BENCH_CPU_PROFILE (default /tmp/pages.cpuprofile).
 * Prints the hottest functions by self time.
 */
import { readFileSync } from 'node:fs';
import { signIn } from './browser.js';
import { DURATION, load, startChild } from './lib.js';
import { benchPrefix, deleteUnder, redisClient } from './login-shared.js';

const variant = process.env.BENCH_VARIANT ?? 'ours';
const file = process.env.BENCH_CPU_PROFILE ?? '/tmp/pages.cpuprofile';
const issuer = await startChild('login-issuer-server.ts', {});
const prefix = benchPrefix(`profile-${variant}`);
const app = await startChild('login-server.ts', { BENCH_VARIANT: variant, BENCH_ISSUER: issuer.url, BENCH_PREFIX: prefix, BENCH_CPU_PROFILE: file });
try {
  const cookie: Record<string, string> = variant === 'none' ? {} : { cookie: (await signIn(app.url)).cookie };
  const res = await load({ url: `${app.url}/page`, headers: cookie, duration: DURATION });
  process.stdout.write(`${variant}: ${Math.round(res.rps)} req/s, non2xx ${res.non2xx}\n`);
} finally {
  await app.stop();
  await issuer.stop();
  const redis = redisClient();
  await deleteUnder(redis, prefix);
  await redis.quit();
}

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount: number; children?: number[] }
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[] };
const self = new Map<string, number>();
let total = 0;
for (const n of profile.nodes) {
  const where = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/main\//, '');
  const key = `${n.callFrame.functionName || '(anon)'} ${where}:${n.callFrame.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + n.hitCount);
  total += n.hitCount;
}
const byFile = new Map<string, number>();
for (const [key, hits] of self) {
  const f = key.split(' ')[1]!.replace(/:\d+$/, '').replace(/^(\w[^/]*)\/.*$/, '$1');
  byFile.set(f, (byFile.get(f) ?? 0) + hits);
}
const pct = (n: number) => ((n / total) * 100).toFixed(1).padStart(5);
process.stdout.write('\nself time by function\n');
for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) process.stdout.write(`${pct(hits)}%  ${key}\n`);
process.stdout.write('\nself time by file/package\n');
for (const [key, hits] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) process.stdout.write(`${pct(hits)}%  ${key}\n`);
