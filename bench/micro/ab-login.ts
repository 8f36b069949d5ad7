/**
 * A/B rounds of two builds of the sign-in half, by the pinned method: bench/servers/login-server.ts
 * (ours) importing build A (BENCH_DIST_A, an absolute path to a `dist/esm/index.js`) and build B
 * (BENCH_DIST_B, default this tree's dist), plus the no-auth page, interleaved round by round;
 * prints the app CPU per view (or per full sign-in) of each round and the medians.
 *
 * Run: taskset -c 1 npx tsx bench/micro/ab-login.ts [views|signins] [rounds=9]
 */
import { closedLoop, signIn } from '../suite/browser.js';
import { DURATION, cpuOf, expectOk, load, median, round1, startChild, type Child } from '../suite/lib.js';
import { benchPrefix, stopAndClean } from '../suite/login-shared.js';

const [mode = 'views', roundsText = '9'] = process.argv.slice(2);
const rounds = Number(roundsText);
const builds = { A: process.env.BENCH_DIST_A!, B: process.env.BENCH_DIST_B ?? '' };
if (!builds.A) throw new Error("set BENCH_DIST_A to the other build's dist/esm/index.js");
const issuer = await startChild('login-issuer-server.ts', {}, { pinned: false });
const names = mode === 'views' ? (['none', 'A', 'B'] as const) : (['A', 'B'] as const);
const children = {} as Record<string, Child>;
const prefixes = {} as Record<string, string>;
const cookies = {} as Record<string, Record<string, string>>;
try {
  for (const n of names) {
    prefixes[n] = benchPrefix(`ab-${n}`);
    const env: Record<string, string> = {
      BENCH_VARIANT: n === 'none' ? 'none' : 'ours',
      BENCH_ISSUER: issuer.url,
      BENCH_PREFIX: prefixes[n]!,
    };
    if (n === 'A' || (n === 'B' && builds.B)) env.BENCH_DIST = builds[n];
    children[n] = await startChild('login-server.ts', env);
    cookies[n] = n === 'none' ? {} : { cookie: (await signIn(children[n]!.url)).cookie };
    if (mode === 'views')
      expectOk(await load({ url: `${children[n]!.url}/page`, headers: cookies[n]!, amount: 3000, connections: 10 }), `warm-up ${n}`);
    else await closedLoop(() => signIn(children[n]!.url).then(() => undefined), { concurrency: 10, total: 100 });
  }
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<string, number[]>;
  for (let r = 0; r < rounds; r += 1) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    const line: string[] = [];
    for (const n of order) {
      if (mode === 'views') {
        const { micros, result } = await cpuOf(children[n]!, () =>
          load({ url: `${children[n]!.url}/page`, headers: cookies[n]!, duration: DURATION }),
        );
        expectOk(result, `views ${n}`);
        samples[n]!.push(micros / result.requests);
      } else {
        const { micros, result } = await cpuOf(children[n]!, () =>
          closedLoop(() => signIn(children[n]!.url).then(() => undefined), { concurrency: 10, durationMs: DURATION * 1000 }),
        );
        samples[n]!.push(micros / result.done);
      }
      line.push(`${n} ${round1(samples[n]!.at(-1)!)}`);
    }
    process.stdout.write(`round ${r + 1}: ${line.join(', ')}\n`);
  }
  const med = Object.fromEntries(names.map((n) => [n, round1(median(samples[n]!))]));
  process.stdout.write(`medians (µs CPU per ${mode === 'views' ? 'view' : 'sign-in'}): ${JSON.stringify(med)}\n`);
  if (mode === 'views') {
    const over = (n: string) => samples[n]!.map((x, i) => x - samples.none![i]!);
    process.stdout.write(
      `over no auth, median (min–max): A ${round1(median(over('A')))} (${round1(Math.min(...over('A')))}–${round1(Math.max(...over('A')))}), B ${round1(median(over('B')))} (${round1(Math.min(...over('B')))}–${round1(Math.max(...over('B')))})\n`,
    );
    process.stdout.write(`B − A per round, median: ${round1(median(samples.B!.map((x, i) => x - samples.A![i]!)))} µs\n`);
  } else {
    process.stdout.write(`B / A per round, median: ${median(samples.B!.map((x, i) => x / samples.A![i]!)).toFixed(3)}\n`);
  }
} finally {
  await stopAndClean(names.map((n) => [children[n]!, prefixes[n]!] as const));
  await issuer.stop();
}
