/**
 * Sign-ins, by the pinned method: the app's CPU per full sign-in (GET /login -> issuer authorize ->
 * GET /callback -> GET /page) next to sign-ins per second, our auth() against
 * express-openid-connect, both at the same bench issuer and on the same Redis. The apps run on the
 * app core; the parent (fetch() loops, cookies by hand, redirects not followed) and the issuer
 * share the other one.
 */
import { closedLoop, signIn } from './browser.js';
import { DURATION, ROUNDS, cpuOf, median, printTable, ratio, round1, startChild, type Child } from './lib.js';
import { benchPrefix, issuerStats, stopAndClean } from './login-shared.js';
import { countCommands } from './redis-count.js';

const VARIANTS = ['ours', 'eoidc', 'floor', 'floor-redis'] as const;
type Variant = (typeof VARIANTS)[number];
const CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 10);
const COUNTED_SIGNINS = Number(process.env.BENCH_COUNTED_SIGNINS ?? 100);
/** Issue 18's goal: our app CPU per full sign-in at most this fraction of express-openid-connect's. */
export const SIGNIN_GOAL_VS_EOIDC = 0.5;

export interface SignInFigures {
  concurrency: number;
  perSecond: Record<Variant, number>;
  /** App CPU per full sign-in, µs, median of rounds. */
  cpuPerSignIn: Record<Variant, number>;
  ratios: { oursVsEoidc: number; cpuOursVsEoidc: number; cpuFloorVsEoidc: number; cpuFloorRedisVsEoidc: number };
  goal: { value: number; target: number; met: boolean };
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
      children[v] = await startChild('login-server.ts', {
        BENCH_VARIANT: v,
        BENCH_ISSUER: issuer,
        BENCH_PREFIX: prefixes[v],
        BENCH_REDIS_NAME: names[v],
      });
      await closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, total: 50 });
    }
    const samples = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    const cpuSamples = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    const grants = Object.fromEntries(VARIANTS.map((v) => [v, { signIns: 0, codeGrants: 0 }])) as Record<
      Variant,
      { signIns: number; codeGrants: number }
    >;
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const v of VARIANTS) {
        const before = await issuerStats(issuer);
        const { micros, result } = await cpuOf(children[v], () =>
          closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, durationMs: DURATION * 1000 }),
        );
        const { done, seconds } = result;
        const after = await issuerStats(issuer);
        samples[v].push(done / seconds);
        cpuSamples[v].push(micros / done);
        grants[v].signIns += done;
        grants[v].codeGrants += after.codeGrants - before.codeGrants;
        if (after.refused !== before.refused)
          throw new Error(`sign-ins ${v}: the issuer refused ${after.refused - before.refused} requests`);
      }
    }
    const redisPerSignIn = {} as Record<Variant, Record<string, number>>;
    for (const v of VARIANTS) {
      if (v === 'floor' || v === 'floor-redis') continue;
      const counts = await countCommands(names[v], async () => {
        await closedLoop(() => signIn(children[v].url).then(() => undefined), { concurrency: CONCURRENCY, total: COUNTED_SIGNINS });
      });
      redisPerSignIn[v] = Object.fromEntries(
        [...Object.entries(counts.byCommand).sort((a, b) => b[1] - a[1]), ['total', counts.total] as const].map(([k, n]) => [
          k,
          ratio(n, COUNTED_SIGNINS),
        ]),
      );
    }
    const perSecond = Object.fromEntries(VARIANTS.map((v) => [v, Math.round(median(samples[v]))])) as Record<Variant, number>;
    const cpuPerSignIn = Object.fromEntries(VARIANTS.map((v) => [v, round1(median(cpuSamples[v]))])) as Record<Variant, number>;
    const cpuRatio = ratio(cpuPerSignIn.ours, cpuPerSignIn.eoidc);
    const figures: SignInFigures = {
      concurrency: CONCURRENCY,
      perSecond,
      cpuPerSignIn,
      ratios: {
        oursVsEoidc: ratio(perSecond.ours, perSecond.eoidc),
        cpuOursVsEoidc: cpuRatio,
        cpuFloorVsEoidc: ratio(cpuPerSignIn.floor, cpuPerSignIn.eoidc),
        cpuFloorRedisVsEoidc: ratio(cpuPerSignIn['floor-redis'], cpuPerSignIn.eoidc),
      },
      goal: { value: cpuRatio, target: SIGNIN_GOAL_VS_EOIDC, met: cpuRatio <= SIGNIN_GOAL_VS_EOIDC },
      codeGrantsPerSignIn: Object.fromEntries(VARIANTS.map((v) => [v, ratio(grants[v].codeGrants, grants[v].signIns)])) as Record<
        Variant,
        number
      >,
      redisPerSignIn,
    };
    printTable(`Sign-ins: app CPU per full sign-in (µs) and sign-ins/s (${CONCURRENCY} concurrent browsers, median of ${ROUNDS} rounds)`, [
      {
        'ours CPU µs': cpuPerSignIn.ours,
        'eoidc CPU µs': cpuPerSignIn.eoidc,
        'least any sign-in CPU µs': `${cpuPerSignIn.floor} (${ratio(cpuPerSignIn.floor, cpuPerSignIn.eoidc)}x eoidc)`,
        'with Redis + ID token check': `${cpuPerSignIn['floor-redis']} (${ratio(cpuPerSignIn['floor-redis'], cpuPerSignIn.eoidc)}x)`,
        [`ours/eoidc CPU (goal <= ${SIGNIN_GOAL_VS_EOIDC})`]: `${cpuRatio} ${figures.goal.met ? 'met' : 'NOT met'}`,
        'ours/s': perSecond.ours,
        'eoidc/s': perSecond.eoidc,
        'floor/s': `${perSecond.floor}, with Redis ${perSecond['floor-redis']}`,
        'code grants per sign-in (ours/eoidc/floor)': `${figures.codeGrantsPerSignIn.ours}/${figures.codeGrantsPerSignIn.eoidc}/${figures.codeGrantsPerSignIn.floor}/${figures.codeGrantsPerSignIn['floor-redis']}`,
      },
    ]);
    printTable(
      `Redis commands per sign-in (${COUNTED_SIGNINS} sign-ins, from MONITOR, app connection only)`,
      VARIANTS.filter((v) => v === 'ours' || v === 'eoidc').map((v) => ({
        variant: v === 'ours' ? 'ours' : 'express-openid-connect',
        commands: Object.entries(redisPerSignIn[v])
          .map(([k, n]) => `${k} ${n}`)
          .join(', '),
      })),
    );
    return figures;
  } finally {
    await stopAndClean(VARIANTS.map((v) => [children[v], prefixes[v]]));
  }
}
