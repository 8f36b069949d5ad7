/**
 * The auth() layer's own time per signed-in page view inside the running app (timeLayer() in
 * bench/servers/control.ts), with the GC pauses and the CPU per view: sign in once, replay the
 * cookie, one figure per round. Steadier than the CPU-per-view difference on a shared machine
 * (it is not the difference of two large figures), so it can judge a change of a few µs: with
 * BENCH_DIST_A=<another build's dist/esm/index.js>, that build runs too, in interleaved rounds.
 *
 * Run: taskset -c 1 npx tsx bench/micro/page-timed.ts [rounds=5]
 */
import { signIn } from '../suite/browser.js';
import { costOf, expectOk, load, median, round1, startChild, type Child } from '../suite/lib.js';
import { benchPrefix, stopAndClean } from '../suite/login-shared.js';

const rounds = Number(process.argv[2] ?? 5);
const issuer = await startChild('login-issuer-server.ts', {}, { pinned: false });
const builds: Record<string, string | undefined> = { B: undefined };
if (process.env.BENCH_DIST_A) builds.A = process.env.BENCH_DIST_A;
const apps: Array<{ name: string; child: Child; prefix: string; headers: Record<string, string> }> = [];
try {
  for (const [name, dist] of Object.entries(builds)) {
    const prefix = benchPrefix(`page-timed-${name}`);
    const child = await startChild('login-server.ts', {
      BENCH_VARIANT: 'ours',
      BENCH_ISSUER: issuer.url,
      BENCH_PREFIX: prefix,
      ...(dist ? { BENCH_DIST: dist } : {}),
    });
    apps.push({ name, child, prefix, headers: { cookie: (await signIn(child.url)).cookie } });
  }
  const figures: Record<string, { inPlace: number[]; gc: number[]; cpu: number[] }> = {};
  for (let r = 0; r <= rounds; r += 1) {
    for (const app of r % 2 ? [...apps].reverse() : apps) {
      const cost = await costOf(app.child, async () =>
        expectOk(await load({ url: `${app.child.url}/page`, headers: app.headers, duration: 2, connections: 10 }), 'views'),
      );
      if (r === 0) continue; // warm-up
      const f = (figures[app.name] ??= { inPlace: [], gc: [], cpu: [] });
      f.inPlace.push(cost.inRequest);
      f.gc.push(cost.gc);
      f.cpu.push(cost.cpu);
    }
  }
  for (const [name, f] of Object.entries(figures)) {
    process.stdout.write(
      `${name}: auth() layer in place ${round1(median(f.inPlace))} µs (${f.inPlace.map(round1).join(' ')}), GC ${round1(median(f.gc))}, CPU per view ${round1(median(f.cpu))}\n`,
    );
  }
  if (figures.A) {
    const d = figures.B!.inPlace.map((x, i) => x - figures.A!.inPlace[i]!);
    const g = figures.B!.gc.map((x, i) => x - figures.A!.gc[i]!);
    process.stdout.write(`B − A per round, median: in place ${round1(median(d))} µs, GC ${round1(median(g))} µs\n`);
  }
} finally {
  await stopAndClean(apps.map((a) => [a.child, a.prefix] as const));
  await issuer.stop();
}
