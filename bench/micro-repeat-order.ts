/**
 * Does a full verified-token cache slow the repeat-token case? bench/guard.ts measured ES256's
 * repeat rounds after RS256's first-seen rounds had filled our cache to its bound (10,000
 * entries). This measures ours/unprotected for one repeated token on fresh servers, then again
 * after `fill` first-seen tokens went to both, rounds interleaved.
 *
 * Run: npx tsx bench/micro-repeat-order.ts [ES256|RS256] [fill=15000] [rounds=3]
 */
import { startBenchIssuer, type Alg } from './issuer-keys.js';
import { DURATION, load, median, ratio, startChild, type Child } from './lib.js';

const [alg = 'ES256', fillText = '15000', roundsText = '3'] = process.argv.slice(2);
const fill = Number(fillText);
const rounds = Number(roundsText);
const issuer = await startBenchIssuer();
const env = (v: string) => ({ BENCH_VARIANT: v, BENCH_ISSUER: issuer.issuer, BENCH_AUDIENCE: issuer.audience });
const children: Record<'none' | 'ours', Child> = { none: await startChild('guard-server.ts', env('none')), ours: await startChild('guard-server.ts', env('ours')) };
const token = await issuer.mint(alg as Alg);
const heap = async (c: Child): Promise<number> => Math.round(((await (await fetch(`${c.url}/__rss`)).json()) as { rss: number }).rss / 2 ** 20);

async function phase(name: string): Promise<void> {
  const rps: Record<'none' | 'ours', number[]> = { none: [], ours: [] };
  for (let r = 0; r < rounds; r += 1) {
    for (const v of ['none', 'ours'] as const) {
      const res = await load({ url: `${children[v].url}/api`, headers: { authorization: `Bearer ${token}` }, duration: DURATION });
      if (res.non2xx > 0) throw new Error(`${v}: ${res.non2xx} non-2xx`);
      rps[v].push(res.rps);
    }
  }
  const none = median(rps.none);
  const ours = median(rps.ours);
  process.stdout.write(`${alg} repeat, ${name}: unprotected ${Math.round(none)} ours ${Math.round(ours)} ratio ${ratio(ours, none)} (ours RSS ${await heap(children.ours)} MiB; rounds ours ${rps.ours.map(Math.round).join('/')}, none ${rps.none.map(Math.round).join('/')})\n`);
}

try {
  await phase('fresh servers');
  const tokens = await Promise.all(Array.from({ length: fill }, () => issuer.mint('RS256')));
  for (const v of ['none', 'ours'] as const) {
    let i = 0;
    await load({ url: `${children[v].url}/api`, amount: fill, nextHeaders: () => ({ authorization: `Bearer ${tokens[i++ % tokens.length]}` }) });
  }
  await phase(`after ${fill} first-seen RS256 tokens`);
} finally {
  await Promise.all(Object.values(children).map((c) => c.stop()));
  await issuer.close();
}
