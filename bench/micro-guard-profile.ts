/**
 * CPU profile of one guard variant under first-seen (or repeat) load: starts the bench issuer,
 * runs bench/guard-server.ts with `--cpu-prof`, sends tokens with autocannon, and stops it so
 * the profile is written. Also prints the server's CPU time per request.
 *
 * Run: npx tsx bench/micro-guard-profile.ts <variant> <RS256|ES256> <first-seen|repeat> <amount> [profile dir] [prefill]
 * With `prefill`, that many first-seen RS256 tokens are sent before the warm-up (as bench/guard.ts
 * did before ES256's repeat rounds), to see whether a full verified-token cache slows hits.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { startBenchIssuer, type Alg } from './issuer-keys.js';
import { benchDir, load, rootDir } from './lib.js';

const [variant = 'ours', alg = 'ES256', mode = 'first-seen', amountText = '20000', dir = '', prefillText = '0'] = process.argv.slice(2);
const prefill = Number(prefillText);
const amount = Number(amountText);
const issuer = await startBenchIssuer();
const tsx = path.join(rootDir, 'node_modules/tsx/dist');
const proc = spawn(process.execPath, [
  ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []),
  '--require', path.join(tsx, 'preflight.cjs'), '--import', `file://${path.join(tsx, 'loader.mjs')}`,
  path.join(benchDir, 'guard-server.ts'),
], { cwd: rootDir, env: { ...process.env, NODE_ENV: 'production', BENCH_VARIANT: variant, BENCH_ISSUER: issuer.issuer, BENCH_AUDIENCE: issuer.audience }, stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise<string>((resolve) => {
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const m = /^ready (\S+)/.exec(line);
    if (m) resolve(m[1]!);
  });
});
const cpu = async (): Promise<number> => ((await (await fetch(`${url}/__cpu`)).json()) as { micros: number }).micros;
const tokens = await Promise.all(Array.from({ length: mode === 'repeat' ? 1 : amount }, () => issuer.mint(alg as Alg)));
if (prefill > 0) {
  const filling = await Promise.all(Array.from({ length: prefill }, () => issuer.mint('RS256')));
  let f = 0;
  await load({ url: `${url}/api`, amount: filling.length, nextHeaders: () => ({ authorization: `Bearer ${filling[f++ % filling.length]}` }) });
}
// Warm-up (JIT), on tokens of its own so first-seen stays first-seen.
const warmTokens = await Promise.all(Array.from({ length: 3000 }, () => issuer.mint(alg as Alg)));
let w = 0;
await load({ url: `${url}/api`, amount: warmTokens.length, nextHeaders: () => ({ authorization: `Bearer ${warmTokens[w++ % warmTokens.length]}` }) });
const before = await cpu();
let i = 0;
const res = await load({ url: `${url}/api`, amount, nextHeaders: () => ({ authorization: `Bearer ${tokens[i++ % tokens.length]}` }) });
const after = await cpu();
process.stdout.write(`${variant} ${alg} ${mode}${prefill ? ` after ${prefill} RS256 first-seen` : ''}: ${Math.round(res.rps)} req/s, ${((after - before) / amount).toFixed(1)} µs server CPU per request, non-2xx ${res.non2xx}\n`);
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
await issuer.close();
