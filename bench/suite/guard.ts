/**
 * Guard benchmark, by the pinned method (../shared MEASURING.md): each contender serves one route
 * in its own process on the app core, the load comes from the other core, and the figure is the
 * server's CPU per request next to requests/s. Contenders: no guard, a middleware that only calls
 * next() (the floor any guard starts from: one more handler in the route's stack), our
 * requireBearer(), express-oauth2-jwt-bearer and express-jwt + jwks-rsa; one token repeated and
 * first-seen tokens; RS256 and ES256. A guard's own cost is its CPU per request minus the floor's,
 * round by round. In the same run and on the same core, the no-guard server also times a bare
 * `crypto.verify()` of the same signatures (inline, and with a callback on the threadpool), the
 * primitive a first-seen token cannot avoid.
 */
import { type Alg, type BenchIssuer } from './issuer-keys.js';
import { DURATION, ROUNDS, cpuOf, expectOk, load, median, printTable, ratio, round1, startChild, type Child } from './lib.js';

const VARIANTS = ['none', 'noop', 'ours', 'eojb', 'expressjwt'] as const;
const GUARDS = ['ours', 'eojb', 'expressjwt'] as const;
type Variant = (typeof VARIANTS)[number];
type Guard = (typeof GUARDS)[number];
const ALGS = ['RS256', 'ES256'] as const;
const FIRST_SEEN_AMOUNT = Number(process.env.BENCH_FIRST_SEEN ?? 2000);
/** Issue 18's goals for our guard's own CPU: µs for a repeated token, a multiple of the bare verify for a first-seen one. */
export const GUARD_GOALS = { repeatMicros: 5, firstSeenTimesBare: { RS256: 1.6, ES256: 1.3 } } as const;
export const LABELS: Record<Variant, string> = {
  none: 'no guard',
  noop: 'next() only',
  ours: 'ours',
  eojb: 'express-oauth2-jwt-bearer',
  expressjwt: 'express-jwt + jwks-rsa',
};

export interface GuardFigures {
  alg: Alg;
  mode: 'repeat' | 'first-seen';
  /** Requests/s, median of rounds. */
  rps: Record<Variant, number>;
  /** Server CPU per request, µs, median of rounds. */
  cpu: Record<Variant, number>;
  /** A guard's CPU per request minus the floor's (same round), µs: median, and the rounds' range. */
  own: Record<Guard, { median: number; min: number; max: number }>;
  /** The floor over no guard, µs. */
  floorOverNone: number;
  /** First-seen only: a bare crypto.verify() on the app core, µs (inline; with a callback on the threadpool). */
  bare?: { inline: number; threadpool: number };
  /** Our own cost against the goal: µs (repeat) or a multiple of the bare inline verify (first-seen). */
  goal: { value: number; target: number; met: boolean };
  /** Every round's raw figures, in the order measured. */
  rounds: Array<{ rps: Record<Variant, number>; cpu: Record<Variant, number> }>;
}

async function warm(child: Child, token: string): Promise<void> {
  const res = await fetch(`${child.url}/api`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`warm-up answered ${res.status}`);
}

async function bareVerify(
  child: Child,
  alg: Alg,
  jwk: Record<string, unknown>,
  tokens: string[],
  mode: 'inline' | 'threadpool',
): Promise<number> {
  const res = await fetch(`${child.url}/__verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ alg, jwk, tokens, mode }),
  });
  if (res.status !== 200) throw new Error(`bare verify answered ${res.status}`);
  return ((await res.json()) as { microsPerVerify: number }).microsPerVerify;
}

/** One measured run against one child: requests/s and server CPU µs per request. */
async function measure(
  child: Child,
  run: () => Promise<Awaited<ReturnType<typeof load>>>,
  label: string,
): Promise<{ rps: number; cpu: number }> {
  const { micros, result } = await cpuOf(child, run);
  expectOk(result, label);
  return { rps: result.rps, cpu: micros / result.requests };
}

export async function benchGuard(issuer: BenchIssuer): Promise<GuardFigures[]> {
  const children = {} as Record<Variant, Child>;
  for (const v of VARIANTS) {
    children[v] = await startChild('guard-server.ts', { BENCH_VARIANT: v, BENCH_ISSUER: issuer.issuer, BENCH_AUDIENCE: issuer.audience });
  }
  const rounds = { repeat: { RS256: [], ES256: [] }, 'first-seen': { RS256: [], ES256: [] } } as Record<
    GuardFigures['mode'],
    Record<Alg, GuardFigures['rounds']>
  >;
  const bare = {
    RS256: { inline: [] as number[], threadpool: [] as number[] },
    ES256: { inline: [] as number[], threadpool: [] as number[] },
  };
  try {
    const repeatTokens = { RS256: await issuer.mint('RS256'), ES256: await issuer.mint('ES256') };
    for (const alg of ALGS) for (const v of VARIANTS) await warm(children[v], repeatTokens[alg]);
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const alg of ALGS) {
        // Repeat: one token, many requests (our verified-token cache answers after the first).
        const rep = { rps: {}, cpu: {} } as GuardFigures['rounds'][number];
        for (const v of VARIANTS) {
          const m = await measure(
            children[v],
            () => load({ url: `${children[v].url}/api`, headers: { authorization: `Bearer ${repeatTokens[alg]}` }, duration: DURATION }),
            `${v} ${alg} repeat`,
          );
          rep.rps[v] = m.rps;
          rep.cpu[v] = m.cpu;
        }
        rounds.repeat[alg].push(rep);
        // First-seen: every request carries a token this server has not verified before.
        const tokens = await Promise.all(Array.from({ length: FIRST_SEEN_AMOUNT }, () => issuer.mint(alg)));
        const first = { rps: {}, cpu: {} } as GuardFigures['rounds'][number];
        for (const v of VARIANTS) {
          let i = 0;
          const m = await measure(
            children[v],
            () =>
              load({
                url: `${children[v].url}/api`,
                amount: FIRST_SEEN_AMOUNT,
                nextHeaders: () => ({ authorization: `Bearer ${tokens[i++ % tokens.length]}` }),
              }),
            `${v} ${alg} first-seen`,
          );
          first.rps[v] = m.rps;
          first.cpu[v] = m.cpu;
        }
        rounds['first-seen'][alg].push(first);
        const sample = tokens.slice(0, 2000);
        bare[alg].inline.push(await bareVerify(children.none, alg, issuer.jwk(alg), sample, 'inline'));
        bare[alg].threadpool.push(await bareVerify(children.none, alg, issuer.jwk(alg), sample, 'threadpool'));
      }
    }
  } finally {
    await Promise.all(VARIANTS.map((v) => children[v]?.stop()));
  }
  const out: GuardFigures[] = [];
  for (const mode of ['repeat', 'first-seen'] as const) {
    for (const alg of ALGS) {
      const rs = rounds[mode][alg];
      const med = (pick: (x: GuardFigures['rounds'][number]) => number) => median(rs.map(pick));
      const own = Object.fromEntries(
        GUARDS.map((g) => {
          const values = rs.map((x) => x.cpu[g] - x.cpu.noop);
          return [g, { median: round1(median(values)), min: round1(Math.min(...values)), max: round1(Math.max(...values)) }];
        }),
      ) as GuardFigures['own'];
      const b =
        mode === 'first-seen' ? { inline: round1(median(bare[alg].inline)), threadpool: round1(median(bare[alg].threadpool)) } : undefined;
      const goal = b
        ? { value: ratio(own.ours.median, b.inline), target: GUARD_GOALS.firstSeenTimesBare[alg] }
        : { value: own.ours.median, target: GUARD_GOALS.repeatMicros };
      out.push({
        alg,
        mode,
        rps: Object.fromEntries(VARIANTS.map((v) => [v, Math.round(med((x) => x.rps[v]))])) as Record<Variant, number>,
        cpu: Object.fromEntries(VARIANTS.map((v) => [v, round1(med((x) => x.cpu[v]))])) as Record<Variant, number>,
        own,
        floorOverNone: round1(med((x) => x.cpu.noop - x.cpu.none)),
        ...(b ? { bare: b } : {}),
        goal: { ...goal, met: goal.value <= goal.target },
        rounds: rs,
      });
    }
  }
  printTable(
    `Guard: server CPU per request (µs, median of ${ROUNDS} rounds; own = minus the next()-only floor) and requests/s`,
    out.map((f) => ({
      tokens: `${f.mode} ${f.alg}`,
      'no guard': `${f.cpu.none} µs ${f.rps.none}/s`,
      'next() only': `${f.cpu.noop} µs ${f.rps.noop}/s`,
      'ours own': `${f.own.ours.median} (${f.own.ours.min}–${f.own.ours.max}) ${f.rps.ours}/s`,
      'eojb own': `${f.own.eojb.median} ${f.rps.eojb}/s`,
      'express-jwt own': `${f.own.expressjwt.median} ${f.rps.expressjwt}/s`,
      'bare verify': f.bare ? `${f.bare.inline} (threadpool ${f.bare.threadpool})` : '-',
      goal:
        f.mode === 'repeat'
          ? `${f.goal.value} µs <= ${f.goal.target}: ${f.goal.met ? 'met' : 'NOT met'}`
          : `${f.goal.value}x bare <= ${f.goal.target}: ${f.goal.met ? 'met' : 'NOT met'}`,
    })),
  );
  return out;
}
