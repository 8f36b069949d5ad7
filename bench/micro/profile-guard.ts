/**
 * Profiles one guard server under load, by the pinned method: starts bench/servers/guard-server.ts
 * (BENCH_VARIANT, default ours) on the app core with a V8 CPU profile, sends repeated or
 * first-seen tokens for a while, and prints the CPU per request and the profile's summary.
 *
 * Run: taskset -c 1 npx tsx bench/micro/profile-guard.ts [repeat|first-seen] [RS256|ES256] [variant=ours] [requests=20000]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { startBenchIssuer, type Alg } from '../suite/issuer-keys.js';
import { cpuOf, expectOk, load, startChild } from '../suite/lib.js';

const [mode = 'repeat', alg = 'RS256', variant = 'ours', amountText = '20000'] = process.argv.slice(2);
const amount = Number(amountText);
const issuer = await startBenchIssuer();
const file = `${tmpdir()}/guard-${variant}-${mode}-${alg}-${randomBytes(4).toString('hex')}.cpuprofile`;
const child = await startChild('guard-server.ts', {
  BENCH_VARIANT: variant,
  BENCH_ISSUER: issuer.issuer,
  BENCH_AUDIENCE: issuer.audience,
  BENCH_CPU_PROFILE: file,
});
const tokens =
  mode === 'repeat' ? [await issuer.mint(alg as Alg)] : await Promise.all(Array.from({ length: amount }, () => issuer.mint(alg as Alg)));
const url = `${child.url}/api`;
// Warm-up with tokens of its own, then the measured run.
const warmTokens = mode === 'repeat' ? tokens : await Promise.all(Array.from({ length: 2000 }, () => issuer.mint(alg as Alg)));
let w = 0;
expectOk(
  await load({ url, amount: 2000, nextHeaders: () => ({ authorization: `Bearer ${warmTokens[w++ % warmTokens.length]}` }) }),
  'warm-up',
);
let i = 0;
const { micros, result } = await cpuOf(child, () =>
  load({ url, amount, nextHeaders: () => ({ authorization: `Bearer ${tokens[i++ % tokens.length]}` }) }),
);
expectOk(result, 'profiled run');
await child.stop();
await issuer.close();
process.stdout.write(
  `${variant} ${mode} ${alg}: ${(micros / result.requests).toFixed(1)} µs CPU per request, ${Math.round(result.rps)}/s (the profile covers the warm-up too)\n`,
);
process.stdout.write(
  execFileSync(
    process.execPath,
    [...process.execArgv, new URL('./profile-summary.ts', import.meta.url).pathname, file, (micros / result.requests).toFixed(1)],
    { encoding: 'utf8' },
  ),
);
