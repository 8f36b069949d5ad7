/**
 * Sign-ins: full authorization code round trips per second (GET /login -> issuer authorize ->
 * GET /callback -> GET /page), our auth() against express-openid-connect, both at the same bench
 * issuer and on the same Redis. The parent drives them with a fixed number of concurrent fetch()
 * loops (cookies by hand, redirects not followed); apps and issuer run in child processes.
 */
import { closedLoop, signIn } from './browser.js';
import { DURATION, ROUNDS, median, printTable, ratio, startChild, type Child } from './lib.js';
import { benchPrefix, deleteUnder, issuerStats, redisClient } from './login-shared.js';
import { countCommands } from './redis-count.js';

const VARIANTS = ['ours', 'eoidc'] as const;
type Variant = (typeof VARIANTS)[number];
const CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 10);
const COUNTED_SIGNINS = Number(process.env.BENCH_COUNTED_SIGNINS ?? 100);

export interface SignInFigures {
  concurrency: number;
  perSecond: Record<Variant, number>;
  ratios: { oursVsEoidc: number };
  /** Code grants the issuer answered per completed sign-in (must be 1). */
  codeGrantsPerSignIn: Record<Variant, number>;
  /** Redis commands per sign-in (all four requests), by command, from MONITOR. */
  redisPerSignIn: Record<Variant, Record<string, number>>;
}

export async function benchSignIns(issuer: string): Promise<SignInFigures> {
  const children = {} as Record<Variant, Child>;
  const prefixes = {} as Record<Variant, string>;
  const names = {} as Record<Variant, string>;
  try {
    for (const v of VARIANTS) {
      prefixes[v] = benchPrefix(`signin-${v}`);
      names[v] = `bench-signin-${v}-${process.pid}`;
      children[v] = await startChild('login-server.ts', { BENCH_VARIANT: v, BENCH_ISSUER: issuer, BENCH_PREFIX: prefixes[v], BENCH_REDIS_NAME: names[v] });
      await closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, total: 50 });
    }
    const samples = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    const grants = Object.fromEntries(VARIANTS.map((v) => [v, { signIns: 0, codeGrants: 0 }])) as Record<Variant, { signIns: number; codeGrants: number }>;
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const v of VARIANTS) {
        const before = await issuerStats(issuer);
        const { done, seconds } = await closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, durationMs: DURATION * 1000 });
        const after = await issuerStats(issuer);
        samples[v].push(done / seconds);
        grants[v].signIns += done;
        grants[v].codeGrants += after.codeGrants - before.codeGrants;
        if (after.refused !== before.refused) throw new Error(`sign-ins ${v}: the issuer refused ${after.refused - before.refused} requests`);
      }
    }
    const redisPerSignIn = {} as Record<Variant, Record<string, number>>;
    for (const v of VARIANTS) {
      const counts = await countCommands(names[v], async () => {
        await closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, total: COUNTED_SIGNINS });
      });
      redisPerSignIn[v] = Object.fromEntries(
        [...Object.entries(counts.byCommand).sort((a, b) => b[1] - a[1]), ['total', counts.total] as const].map(([k, n]) => [k, ratio(n, COUNTED_SIGNINS)]),
      );
    }
    const perSecond = Object.fromEntries(VARIANTS.map((v) => [v, Math.round(median(samples[v]))])) as Record<Variant, number>;
    const figures: SignInFigures = {
      concurrency: CONCURRENCY,
      perSecond,
      ratios: { oursVsEoidc: ratio(perSecond.ours, perSecond.eoidc) },
      codeGrantsPerSignIn: Object.fromEntries(VARIANTS.map((v) => [v, ratio(grants[v].codeGrants, grants[v].signIns)])) as Record<Variant, number>,
      redisPerSignIn,
    };
    printTable(`Sign-ins (full code-flow round trips/s, ${CONCURRENCY} concurrent browsers, median of rounds)`, [
      {
        ours: perSecond.ours,
        'express-openid-connect': perSecond.eoidc,
        'ours/eoidc': figures.ratios.oursVsEoidc,
        'code grants per sign-in (ours/eoidc)': `${figures.codeGrantsPerSignIn.ours}/${figures.codeGrantsPerSignIn.eoidc}`,
      },
    ]);
    printTable(
      `Redis commands per sign-in (${COUNTED_SIGNINS} sign-ins, from MONITOR, app connection only)`,
      VARIANTS.map((v) => ({ variant: v === 'ours' ? 'ours' : 'express-openid-connect', commands: Object.entries(redisPerSignIn[v]).map(([k, n]) => `${k} ${n}`).join(', ') })),
    );
    return figures;
  } finally {
    await Promise.all(VARIANTS.map((v) => children[v]?.stop()));
    const redis = redisClient();
    for (const v of VARIANTS) if (prefixes[v]) await deleteUnder(redis, prefixes[v]);
    await redis.quit();
  }
}
