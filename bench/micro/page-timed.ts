/**
 * The auth() layer's own time per signed-in page view inside the running app (timeLayer() in
 * bench/servers/control.ts): sign in once, replay the cookie, read the mean per round. A stable
 * figure beside the CPU-per-view difference, which also holds the GC the layer causes.
 *
 * Run: taskset -c 1 npx tsx bench/micro/page-timed.ts [rounds=5]
 */
import { signIn } from '../suite/browser.js';
import { expectOk, load, startChild } from '../suite/lib.js';
import { benchPrefix, stopAndClean } from '../suite/login-shared.js';

const rounds = Number(process.argv[2] ?? 5);
const issuer = await startChild('login-issuer-server.ts', {}, { pinned: false });
const prefix = benchPrefix('page-timed');
const app = await startChild('login-server.ts', { BENCH_VARIANT: 'ours', BENCH_ISSUER: issuer.url, BENCH_PREFIX: prefix });
type Cpu = { micros: number; gcMicros: number; inRequest: { micros: number; count: number; async: number } };
const cpu = async (): Promise<Cpu> => (await (await fetch(`${app.url}/__cpu`)).json()) as Cpu;
try {
  const headers = { cookie: (await signIn(app.url)).cookie };
  const out: string[] = [];
  for (let r = 0; r <= rounds; r += 1) {
    const a = await cpu();
    const res = expectOk(await load({ url: `${app.url}/page`, headers, duration: 2, connections: 10 }), 'views');
    const b = await cpu();
    const n = b.inRequest.count - a.inRequest.count;
    if (r > 0)
      out.push(
        `${((b.inRequest.micros - a.inRequest.micros) / n).toFixed(1)} (async ${b.inRequest.async - a.inRequest.async}, GC ${((b.gcMicros - a.gcMicros) / res.requests).toFixed(1)}, CPU ${((b.micros - a.micros) / res.requests).toFixed(0)})`,
      );
  }
  process.stdout.write(`auth() layer, µs per page view timed in place: ${out.join(' ')}\n`);
} finally {
  await stopAndClean([[app, prefix]]);
  await issuer.stop();
}
