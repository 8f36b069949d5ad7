/**
 * Signed-in page views, by the pinned method: GET /page (answers the user's `sub`) behind our
 * auth() with its Redis session, behind express-openid-connect with connect-redis, behind plain
 * express-session with connect-redis (the session layer alone), and with no authentication, each
 * in its own process on the app core. The figure is the app's CPU per view over no auth, next to
 * requests/s; the Redis commands of a fixed number of views are counted too. Each auth variant
 * signs in once (express-session: one seeded session); autocannon then replays the cookie.
 */
import { Browser, signIn } from './browser.js';
import { DURATION, ROUNDS, costOf, expectOk, load, median, printTable, ratio, round1, startChild, type Child } from './lib.js';
import { benchPrefix, stopAndClean } from './login-shared.js';
import { countCommands } from './redis-count.js';

const VARIANTS = ['none', 'floor', 'ours', 'exsess', 'eoidc'] as const;
type Variant = (typeof VARIANTS)[number];
const COUNTED_VIEWS = Number(process.env.BENCH_COUNTED_VIEWS ?? 1000);
/** Issue 18's goal: our signed-in page view at most this many µs of app CPU over no auth. */
export const PAGE_VIEW_GOAL_MICROS = 40;
export const PAGE_LABELS: Record<Variant, string> = {
  none: 'no auth',
  floor: 'least any session (Map, no Redis)',
  ours: 'ours',
  exsess: 'express-session + connect-redis',
  eoidc: 'express-openid-connect + connect-redis',
};

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
  /** App CPU per view, µs, median of rounds. */
  cpu: Record<Variant, number>;
  /** App CPU per view over no auth (same round), µs: median and the rounds' range. */
  overNone: Record<Exclude<Variant, 'none'>, { median: number; min: number; max: number }>;
  /** Main-thread GC pauses per view, µs, median of rounds (part of `cpu`). */
  gc: Record<Variant, number>;
  /** Our auth() layer's own time per view, timed in place (timeLayer()), µs, median of rounds. */
  oursInPlace: number;
  goal: { value: number; target: number; met: boolean };
  ratios: { oursVsEoidc: number };
  redisPerView: { views: number } & Record<'ours' | 'exsess' | 'eoidc', RedisPerView>;
}

const perView = (counts: { byCommand: Record<string, number>; total: number; serverTotal: number }, views: number): RedisPerView => {
  const r = (n: number) => Math.round((n / views) * 100) / 100;
  const { GET = 0, SET = 0, EXPIRE = 0 } = counts.byCommand;
  return {
    GET: r(GET),
    SET: r(SET),
    EXPIRE: r(EXPIRE),
    other: r(counts.total - GET - SET - EXPIRE),
    total: r(counts.total),
    serverTotal: r(counts.serverTotal),
  };
};

async function sessionCookie(v: Variant, url: string): Promise<Record<string, string>> {
  if (v === 'none') return {};
  if (v !== 'exsess') return { cookie: (await signIn(url)).cookie };
  const browser = new Browser();
  const seeded = await browser.get(`${url}/__seed`);
  if (seeded.status !== 200) throw new Error(`GET /__seed answered ${seeded.status}`);
  return { cookie: browser.cookieHeader(url) };
}

export async function benchPages(issuer: string): Promise<PagesFigures> {
  const children = {} as Record<Variant, Child>;
  const prefixes = {} as Record<Variant, string>;
  const names = {} as Record<Variant, string>;
  const cookies = {} as Record<Variant, Record<string, string>>;
  try {
    for (const v of VARIANTS) {
      prefixes[v] = benchPrefix(`pages-${v}`);
      names[v] = `bench-pages-${v}-${process.pid}`;
      children[v] = await startChild('login-server.ts', {
        BENCH_VARIANT: v,
        BENCH_ISSUER: issuer,
        BENCH_PREFIX: prefixes[v],
        BENCH_REDIS_NAME: names[v],
      });
      cookies[v] = await sessionCookie(v, children[v].url);
      expectOk(await load({ url: `${children[v].url}/page`, headers: cookies[v], amount: 2000, connections: 10 }), `pages warm-up (${v})`);
    }
    const rounds: Array<Record<Variant, { rps: number; cpu: number; p50: number; p99: number; gc: number; inPlace: number }>> = [];
    // Rounds interleave the variants so drift on a shared machine hits them alike.
    for (let r = 0; r < ROUNDS; r += 1) {
      const round = {} as (typeof rounds)[number];
      for (const v of VARIANTS) {
        const { result, cpu, gc, inRequest } = await costOf(children[v], () =>
          load({ url: `${children[v].url}/page`, headers: cookies[v], duration: DURATION }),
        );
        // A lost session would answer 302 to /login: non-2xx fails the run.
        expectOk(result, `pages ${v}`);
        round[v] = { rps: result.rps, cpu, p50: result.p50, p99: result.p99, gc, inPlace: inRequest };
      }
      rounds.push(round);
    }
    const counted = {} as Record<Exclude<Variant, 'none'>, RedisPerView>;
    for (const v of ['ours', 'exsess', 'eoidc'] as const) {
      const counts = await countCommands(names[v], async () => {
        expectOk(
          await load({ url: `${children[v].url}/page`, headers: cookies[v], amount: COUNTED_VIEWS, connections: 10 }),
          `pages count ${v}`,
        );
      });
      counted[v] = perView(counts, COUNTED_VIEWS);
    }
    const pick = (key: 'rps' | 'cpu' | 'p50' | 'p99' | 'gc' | 'inPlace', digits = 1) =>
      Object.fromEntries(
        VARIANTS.map((v) => [v, Math.round(median(rounds.map((x) => x[v][key])) * 10 ** digits) / 10 ** digits]),
      ) as Record<Variant, number>;
    const overNone = Object.fromEntries(
      (['floor', 'ours', 'exsess', 'eoidc'] as const).map((v) => {
        const values = rounds.map((x) => x[v].cpu - x.none.cpu);
        return [v, { median: round1(median(values)), min: round1(Math.min(...values)), max: round1(Math.max(...values)) }];
      }),
    ) as PagesFigures['overNone'];
    const rps = pick('rps', 0);
    const figures: PagesFigures = {
      rps,
      p50Ms: pick('p50'),
      p99Ms: pick('p99'),
      cpu: pick('cpu'),
      overNone,
      gc: pick('gc'),
      oursInPlace: pick('inPlace').ours,
      goal: { value: overNone.ours.median, target: PAGE_VIEW_GOAL_MICROS, met: overNone.ours.median <= PAGE_VIEW_GOAL_MICROS },
      ratios: { oursVsEoidc: ratio(rps.ours, rps.eoidc) },
      redisPerView: { views: COUNTED_VIEWS, ...counted },
    };
    printTable(
      `Signed-in page views: app CPU per view (µs, median of ${ROUNDS} rounds), over no auth, requests/s, Redis commands per view`,
      VARIANTS.map((v) => ({
        variant: PAGE_LABELS[v],
        'CPU µs': figures.cpu[v],
        'over no auth': v === 'none' ? '-' : `${overNone[v].median} (${overNone[v].min}–${overNone[v].max})`,
        'req/s': rps[v],
        'p50/p99 ms': `${figures.p50Ms[v]}/${figures.p99Ms[v]}`,
        'GC µs': figures.gc[v],
        'Redis/view': v === 'none' || v === 'floor' ? '-' : counted[v].total,
      })),
    );
    process.stdout.write(
      `page-view goal: ours +${figures.goal.value} µs <= ${PAGE_VIEW_GOAL_MICROS}: ${figures.goal.met ? 'met' : 'NOT met'} (auth() layer in place ${figures.oursInPlace} µs)\n`,
    );
    return figures;
  } finally {
    await stopAndClean(VARIANTS.map((v) => [children[v], prefixes[v]]));
  }
}
