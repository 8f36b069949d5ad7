/**
 * Guard benchmark: a protected route behind requireBearer() against the same route unprotected,
 * behind express-oauth2-jwt-bearer and behind express-jwt + jwks-rsa, on the same tokens, RS256
 * and ES256, for a repeated token (our verified-token cache) and for first-seen tokens.
 */
import { type Alg, type BenchIssuer } from './issuer-keys.js';
import { DURATION, ROUNDS, load, median, printTable, ratio, startChild, type Child } from './lib.js';

const VARIANTS = ['none', 'ours', 'eojb', 'expressjwt'] as const;
type Variant = (typeof VARIANTS)[number];
const FIRST_SEEN_AMOUNT = Number(process.env.BENCH_FIRST_SEEN ?? 5000);

export interface GuardFigures {
  alg: Alg;
  mode: 'repeat' | 'first-seen';
  rps: Record<Variant, number>;
  ratios: { oursVsNone: number; oursVsEojb: number; oursVsExpressJwt: number };
}

async function warm(child: Child, token: string): Promise<void> {
  const res = await fetch(`${child.url}/api`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`warm-up answered ${res.status}`);
}

export async function benchGuard(issuer: BenchIssuer): Promise<GuardFigures[]> {
  const children = {} as Record<Variant, Child>;
  for (const v of VARIANTS) {
    children[v] = await startChild('guard-server.ts', { BENCH_VARIANT: v, BENCH_ISSUER: issuer.issuer, BENCH_AUDIENCE: issuer.audience });
  }
  const out: GuardFigures[] = [];
  try {
    for (const alg of ['RS256', 'ES256'] as const) {
      const repeatToken = await issuer.mint(alg);
      for (const v of VARIANTS) await warm(children[v], repeatToken);
      // Repeat tokens: one token, many requests. Rounds interleave the variants so drift on a
      // shared machine hits them alike.
      const repeat = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
      for (let r = 0; r < ROUNDS; r += 1) {
        for (const v of VARIANTS) {
          const res = await load({ url: `${children[v].url}/api`, headers: { authorization: `Bearer ${repeatToken}` }, duration: DURATION });
          if (res.non2xx > 0 || res.errors > 0) throw new Error(`${v} ${alg} repeat: ${res.non2xx} non-2xx, ${res.errors} errors`);
          repeat[v].push(res.rps);
        }
      }
      // First-seen tokens: every request carries a token the server has not verified before.
      const firstSeen = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
      for (let r = 0; r < ROUNDS; r += 1) {
        const tokens = await Promise.all(Array.from({ length: FIRST_SEEN_AMOUNT }, () => issuer.mint(alg)));
        for (const v of VARIANTS) {
          let i = 0;
          const res = await load({
            url: `${children[v].url}/api`,
            amount: FIRST_SEEN_AMOUNT,
            nextHeaders: () => ({ authorization: `Bearer ${tokens[i++ % tokens.length]}` }),
          });
          if (res.non2xx > 0 || res.errors > 0) throw new Error(`${v} ${alg} first-seen: ${res.non2xx} non-2xx, ${res.errors} errors`);
          firstSeen[v].push(res.rps);
        }
      }
      for (const [mode, samples] of [['repeat', repeat], ['first-seen', firstSeen]] as const) {
        const rps = Object.fromEntries(VARIANTS.map((v) => [v, Math.round(median(samples[v]))])) as Record<Variant, number>;
        out.push({
          alg,
          mode,
          rps,
          ratios: { oursVsNone: ratio(rps.ours, rps.none), oursVsEojb: ratio(rps.ours, rps.eojb), oursVsExpressJwt: ratio(rps.ours, rps.expressjwt) },
        });
      }
    }
  } finally {
    await Promise.all(VARIANTS.map((v) => children[v]?.stop()));
  }
  printTable(
    'Guard (requests/s, median of rounds; ratios are ours / other)',
    out.map((f) => ({
      alg: f.alg,
      tokens: f.mode,
      unprotected: f.rps.none,
      ours: f.rps.ours,
      'express-oauth2-jwt-bearer': f.rps.eojb,
      'express-jwt': f.rps.expressjwt,
      'ours/unprotected': f.ratios.oursVsNone,
      'ours/eojb': f.ratios.oursVsEojb,
      'ours/express-jwt': f.ratios.oursVsExpressJwt,
    })),
  );
  return out;
}
