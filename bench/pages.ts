/**
 * Signed-in page views: GET /page (answers the user's `sub`) behind our auth() with its Redis
 * session, behind express-openid-connect with connect-redis on the same Redis, and with no
 * authentication. Each auth variant signs in once at the bench issuer; autocannon then replays the
 * session cookie. Also counts the Redis commands of a fixed number of page views per variant.
 */
import { signIn } from './browser.js';
import { DURATION, ROUNDS, load, median, printTable, ratio, startChild, type Child, expectOk } from './lib.js';
import { benchPrefix, deleteUnder, redisClient } from './login-shared.js';
import { countCommands } from './redis-count.js';

const VARIANTS = ['none', 'ours', 'eoidc'] as const;
type Variant = (typeof VARIANTS)[number];
const COUNTED_VIEWS = Number(process.env.BENCH_COUNTED_VIEWS ?? 1000);
/** Target of issue 8: our page views at least this many times express-openid-connect's. */
export const PAGE_VIEW_TARGET = 1.5;

export interface RedisPerView {
  GET: number;
  SET: number;
  EXPIRE: number;
  other: number;
  total: number;
  /** Server-wide command delta per view over the same requests (includes other clients). */
  serverTotal: number;
}

export interface PagesFigures {
  rps: Record<Variant, number>;
  p50Ms: Record<Variant, number>;
  p99Ms: Record<Variant, number>;
  ratios: { oursVsEoidc: number; oursVsNone: number; eoidcVsNone: number };
  target: { oursVsEoidcAtLeast: number; met: boolean };
  redisPerView: { views: number; ours: RedisPerView; eoidc: RedisPerView };
}

const perView = (counts: { byCommand: Record<string, number>; total: number; serverTotal: number }, views: number): RedisPerView => {
  const r = (n: number) => Math.round((n / views) * 100) / 100;
  const { GET = 0, SET = 0, EXPIRE = 0 } = counts.byCommand;
  return { GET: r(GET), SET: r(SET), EXPIRE: r(EXPIRE), other: r(counts.total - GET - SET - EXPIRE), total: r(counts.total), serverTotal: r(counts.serverTotal) };
};

export async function benchPages(issuer: string): Promise<PagesFigures> {
  const children = {} as Record<Variant, Child>;
  const prefixes = {} as Record<Variant, string>;
  const names = {} as Record<Variant, string>;
  const cookies = {} as Record<Variant, Record<string, string>>;
  try {
    for (const v of VARIANTS) {
      prefixes[v] = benchPrefix(`pages-${v}`);
      names[v] = `bench-pages-${v}-${process.pid}`;
      children[v] = await startChild('login-server.ts', { BENCH_VARIANT: v, BENCH_ISSUER: issuer, BENCH_PREFIX: prefixes[v], BENCH_REDIS_NAME: names[v] });
      cookies[v] = v === 'none' ? {} : { cookie: (await signIn(children[v].url)).cookie };
      const warm = await load({ url: `${children[v].url}/page`, headers: cookies[v], amount: 500, connections: 10 });
      expectOk(warm, `pages warm-up (${v})`);
    }

    const samples = Object.fromEntries(VARIANTS.map((v) => [v, { rps: [] as number[], p50: [] as number[], p99: [] as number[] }])) as Record<
      Variant,
      { rps: number[]; p50: number[]; p99: number[] }
    >;
    // Rounds interleave the variants so drift on a shared machine hits them alike.
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const v of VARIANTS) {
        const res = await load({ url: `${children[v].url}/page`, headers: cookies[v], duration: DURATION });
        // A lost session would answer 302 to /login: non-2xx fails the run.
        expectOk(res, `pages ${v}`);
        samples[v].rps.push(res.rps);
        samples[v].p50.push(res.p50);
        samples[v].p99.push(res.p99);
      }
    }

    const counted = {} as Record<'ours' | 'eoidc', RedisPerView>;
    for (const v of ['ours', 'eoidc'] as const) {
      const counts = await countCommands(names[v], async () => {
        const res = await load({ url: `${children[v].url}/page`, headers: cookies[v], amount: COUNTED_VIEWS, connections: 10 });
        expectOk(res, `pages count ${v}`);
      });
      counted[v] = perView(counts, COUNTED_VIEWS);
    }

    const pick = (key: 'rps' | 'p50' | 'p99') => Object.fromEntries(VARIANTS.map((v) => [v, Math.round(median(samples[v][key]) * 10) / 10])) as Record<Variant, number>;
    const rps = pick('rps');
    for (const v of VARIANTS) rps[v] = Math.round(rps[v]);
    const ratios = { oursVsEoidc: ratio(rps.ours, rps.eoidc), oursVsNone: ratio(rps.ours, rps.none), eoidcVsNone: ratio(rps.eoidc, rps.none) };
    const figures: PagesFigures = {
      rps,
      p50Ms: pick('p50'),
      p99Ms: pick('p99'),
      ratios,
      target: { oursVsEoidcAtLeast: PAGE_VIEW_TARGET, met: ratios.oursVsEoidc >= PAGE_VIEW_TARGET },
      redisPerView: { views: COUNTED_VIEWS, ...counted },
    };
    printTable('Signed-in page views (requests/s, median of rounds)', [
      {
        unprotected: rps.none,
        ours: rps.ours,
        'express-openid-connect': rps.eoidc,
        'ours/eoidc': ratios.oursVsEoidc,
        [`target >= ${PAGE_VIEW_TARGET}`]: figures.target.met ? 'met' : 'NOT met',
        'ours/unprotected': ratios.oursVsNone,
        'eoidc/unprotected': ratios.eoidcVsNone,
        'p50 ms (none/ours/eoidc)': `${figures.p50Ms.none}/${figures.p50Ms.ours}/${figures.p50Ms.eoidc}`,
        'p99 ms (none/ours/eoidc)': `${figures.p99Ms.none}/${figures.p99Ms.ours}/${figures.p99Ms.eoidc}`,
      },
    ]);
    printTable(
      `Redis commands per page view (${COUNTED_VIEWS} views, from MONITOR, app connection only)`,
      (['ours', 'eoidc'] as const).map((v) => ({ variant: v === 'ours' ? 'ours' : 'express-openid-connect', ...counted[v] })),
    );
    return figures;
  } finally {
    await Promise.all(VARIANTS.map((v) => children[v]?.stop()));
    const redis = redisClient();
    for (const v of VARIANTS) if (prefixes[v]) await deleteUnder(redis, prefixes[v]);
    await redis.quit();
  }
}
