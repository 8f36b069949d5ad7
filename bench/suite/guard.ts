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
import {
  DURATION,
  ROUNDS,
  costOf,
  expectOk,
  load,
  median,
  printTable,
  ratio,
  round1,
  startChild,
  type Child,
  type LoadResult,
  type ServerCost,
} from './lib.js';

const VARIANTS = ['none', 'noop', 'ours', 'eojb', 'expressjwt', 'hashauth', 'lookupauth', 'verifyauth'] as const;
const GUARDS = ['ours', 'eojb', 'expressjwt'] as const;
type Variant = (typeof VARIANTS)[number];
type Guard = (typeof GUARDS)[number];
/**
 * The least any guard does for each kind of token (see bench/servers/guard-server.ts): for a
 * repeated token, one SHA-256 of it and `req.auth` set; for a first-seen one, one verify and
 * `req.auth` set. Each is measured only where it is that floor.
 */
const FLOORS = { repeat: 'hashauth', 'first-seen': 'verifyauth' } as const;
type Mode = keyof typeof FLOORS;
/** A cache keyed by the raw token (which ours never holds) is measured too, for a repeated token: the floor under any cache. */
const variantsOf = (mode: Mode): Variant[] =>
  mode === 'repeat'
    ? ['none', 'noop', 'lookupauth', FLOORS[mode], 'ours', 'eojb', 'expressjwt']
    : ['none', 'noop', FLOORS[mode], 'ours', 'eojb', 'expressjwt'];
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
  hashauth: 'SHA-256 + req.auth only',
  lookupauth: 'raw-token Map lookup + req.auth only',
  verifyauth: 'crypto.verify + req.auth only',
};

/** One contender's figures in one round: requests/s and the server's cost per request (the guard timed in place). */
export interface Sample extends ServerCost {
  rps: number;
}

export interface GuardFigures {
  alg: Alg;
  mode: Mode;
  /** Medians of rounds of each measured contender's `Sample` members. */
  rps: Partial<Record<Variant, number>>;
  cpu: Partial<Record<Variant, number>>;
  gc: Partial<Record<Variant, number>>;
  inRequest: Partial<Record<Variant, number>>;
  asyncShare: Partial<Record<Variant, number>>;
  /** A guard's CPU per request minus the floor's (same round), µs: median, and the rounds' range. */
  own: Record<Guard, { median: number; min: number; max: number }>;
  /**
   * The least any guard costs for this kind of token (FLOORS), measured the same way: its CPU
   * per request minus the next()-only floor's (median, range), and its time in place.
   */
  floor: { variant: Variant; median: number; min: number; max: number; inRequest: number };
  /** Repeat only: the raw-token lookup floor timed in place, µs (`lookupauth`). */
  rawLookupInRequest?: number;
  /**
   * Ours, timed in place: its own time in the request (µs) plus the GC pauses per request it adds
   * over the next()-only floor, the steadier reading of its own cost on this machine.
   */
  oursInPlace: { inRequest: number; gcOverFloor: number; total: number; range: [number, number] };
  /** The floor over no guard, µs. */
  floorOverNone: number;
  /** First-seen only: a bare crypto.verify() on the app core, µs (inline; with a callback on the threadpool). */
  bare?: { inline: number; threadpool: number };
  /** Our own cost against the goal: µs (repeat) or a multiple of the bare inline verify (first-seen). */
  goal: { value: number; target: number; met: boolean };
  /** Every round's raw figures, in the order measured. */
  rounds: Array<Partial<Record<Variant, Sample>>>;
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

/** One measured run against one child: requests/s, server CPU, GC and the guard's time in place, per request. */
async function measure(child: Child, run: () => Promise<LoadResult>, label: string): Promise<Sample> {
  const { result, ...cost } = await costOf(child, run);
  expectOk(result, label);
  return { rps: result.rps, ...cost };
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
        const rep: GuardFigures['rounds'][number] = {};
        for (const v of variantsOf('repeat')) {
          const m = await measure(
            children[v],
            () => load({ url: `${children[v].url}/api`, headers: { authorization: `Bearer ${repeatTokens[alg]}` }, duration: DURATION }),
            `${v} ${alg} repeat`,
          );
          rep[v] = m;
        }
        rounds.repeat[alg].push(rep);
        // First-seen: every request carries a token this server has not verified before.
        const tokens = await Promise.all(Array.from({ length: FIRST_SEEN_AMOUNT }, () => issuer.mint(alg)));
        const first: GuardFigures['rounds'][number] = {};
        for (const v of variantsOf('first-seen')) {
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
          first[v] = m;
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
      const overNoop = (v: Variant) => {
        const values = rs.map((x) => x[v]!.cpu - x.noop!.cpu);
        return { median: round1(median(values)), min: round1(Math.min(...values)), max: round1(Math.max(...values)) };
      };
      const own = Object.fromEntries(GUARDS.map((g) => [g, overNoop(g)])) as GuardFigures['own'];
      const measured = variantsOf(mode);
      const pick = (member: keyof Sample, digits = 1) =>
        Object.fromEntries(measured.map((v) => [v, Math.round(med((x) => x[v]![member]) * 10 ** digits) / 10 ** digits]));
      const floorVariant = FLOORS[mode];
      const floor = { variant: floorVariant, ...overNoop(floorVariant), inRequest: round1(med((x) => x[floorVariant]!.inRequest)) };
      const inPlace = rs.map((x) => x.ours!.inRequest + x.ours!.gc - x.noop!.gc);
      const oursInPlace = {
        inRequest: round1(med((x) => x.ours!.inRequest)),
        gcOverFloor: round1(med((x) => x.ours!.gc - x.noop!.gc)),
        total: round1(median(inPlace)),
        range: [round1(Math.min(...inPlace)), round1(Math.max(...inPlace))] as [number, number],
      };
      const b =
        mode === 'first-seen' ? { inline: round1(median(bare[alg].inline)), threadpool: round1(median(bare[alg].threadpool)) } : undefined;
      const goal = b
        ? { value: ratio(own.ours.median, b.inline), target: GUARD_GOALS.firstSeenTimesBare[alg] }
        : { value: own.ours.median, target: GUARD_GOALS.repeatMicros };
      out.push({
        alg,
        mode,
        rps: pick('rps', 0),
        cpu: pick('cpu'),
        gc: pick('gc'),
        inRequest: pick('inRequest'),
        asyncShare: pick('asyncShare', 2),
        own,
        floor,
        ...(mode === 'repeat' ? { rawLookupInRequest: round1(med((x) => x.lookupauth!.inRequest)) } : {}),
        oursInPlace,
        floorOverNone: round1(med((x) => x.noop!.cpu - x.none!.cpu)),
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
      'least any guard': `${f.floor.median} (${f.floor.min}–${f.floor.max}), in place ${f.floor.inRequest}${f.rawLookupInRequest !== undefined ? ` (raw-token cache ${f.rawLookupInRequest})` : ''}`,
      'ours own': `${f.own.ours.median} (${f.own.ours.min}–${f.own.ours.max}) ${f.rps.ours}/s`,
      'ours in place': `${f.oursInPlace.inRequest} + GC ${f.oursInPlace.gcOverFloor} = ${f.oursInPlace.total}`,
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
