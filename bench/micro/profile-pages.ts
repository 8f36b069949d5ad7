/**
 * Profiles signed-in page views or full sign-ins, by the pinned method: the bench issuer, then
 * bench/servers/login-server.ts (BENCH_VARIANT, default ours) on the app core with a V8 CPU
 * profile; one sign-in, then page views with its cookie (or that many sign-ins, 10 at a time);
 * prints the CPU per view (or sign-in) and the profile's summary.
 *
 * Run: taskset -c 1 npx tsx bench/micro/profile-pages.ts [variant=ours] [count=20000] [views|signins]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { closedLoop, signIn } from '../suite/browser.js';
import { cpuOf, expectOk, load, startChild } from '../suite/lib.js';
import { benchPrefix, stopAndClean } from '../suite/login-shared.js';

const [variant = 'ours', viewsText = '20000', mode = 'views'] = process.argv.slice(2);
const views = Number(viewsText);
const file = `${tmpdir()}/pages-${variant}-${randomBytes(4).toString('hex')}.cpuprofile`;
const issuer = await startChild('login-issuer-server.ts', {}, { pinned: false });
const prefix = benchPrefix(`profile-${variant}`);
const app = await startChild('login-server.ts', {
  BENCH_VARIANT: variant,
  BENCH_ISSUER: issuer.url,
  BENCH_PREFIX: prefix,
  BENCH_CPU_PROFILE: file,
});
const headers: Record<string, string> = variant === 'none' ? {} : { cookie: (await signIn(app.url)).cookie };
const url = `${app.url}/page`;
expectOk(await load({ url, headers, amount: 2000 }), 'warm-up');
const { micros, result } =
  mode === 'signins'
    ? await cpuOf(app, async () => ({
        ...(await closedLoop(() => signIn(app.url).then(() => undefined), { concurrency: 10, total: views })),
        requests: views,
        rps: 0,
      }))
    : await cpuOf(app, async () => expectOk(await load({ url, headers, amount: views }), 'profiled run'));
await stopAndClean([[app, prefix]]);
await issuer.stop();
process.stdout.write(
  `${variant} ${mode}: ${(micros / result.requests).toFixed(1)} µs CPU each, ${Math.round(result.rps)}/s (the profile covers the sign-in and warm-up too)\n`,
);
process.stdout.write(
  execFileSync(
    process.execPath,
    [...process.execArgv, new URL('./profile-summary.ts', import.meta.url).pathname, file, (micros / result.requests).toFixed(1), '40'],
    { encoding: 'utf8' },
  ),
);
