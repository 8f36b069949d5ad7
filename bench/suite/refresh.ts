/**
 * Refresh under contention: 50 concurrent requests of one session whose access token is due for a
 * refresh, spread over two instances of our app (two processes sharing Redis), each calling
 * `req.oidc.getAccessToken()`. Reports the refresh grants the issuer saw (must be 1 per burst)
 * and the latency of the 50 against the same burst when the token is fresh.
 */
import { signIn } from './browser.js';
import { ROUNDS, median, printTable, startChild, type Child } from './lib.js';
import { benchPrefix, configureIssuer, deleteUnder, issuerStats, redisClient } from './login-shared.js';

const BURST = Number(process.env.BENCH_REFRESH_BURST ?? 50);

export interface RefreshFigures {
  burst: number;
  instances: number;
  rounds: number;
  /** Refresh grants the issuer answered in each expired-token burst (each must be 1). */
  refreshGrantsPerBurst: number[];
  /** Distinct access tokens the burst's requests got (must be 1: every waiter gets the new one). */
  distinctTokensPerBurst: number[];
  freshMs: { p50: number; p99: number };
  expiredMs: { p50: number; p99: number };
  addedMs: { p50: number; p99: number };
  ok: boolean;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Fires the burst at once, alternating between the instances; answers latencies and token digests. */
async function burst(apps: Child[], cookie: string): Promise<{ ms: number[]; tokens: Set<string> }> {
  const tokens = new Set<string>();
  const ms = await Promise.all(
    Array.from({ length: BURST }, async (_, i) => {
      const start = performance.now();
      const res = await fetch(`${apps[i % apps.length]!.url}/token`, { headers: { cookie, accept: 'application/json' } });
      const body = await res.text();
      const elapsed = performance.now() - start;
      if (res.status !== 200) throw new Error(`refresh burst: GET /token answered ${res.status} ${body.slice(0, 200)}`);
      tokens.add((JSON.parse(body) as { token: string }).token);
      return elapsed;
    }),
  );
  return { ms, tokens };
}

const round1 = (n: number) => Math.round(n * 10) / 10;

export async function benchRefresh(issuer: string): Promise<RefreshFigures> {
  const prefix = benchPrefix('refresh');
  const apps: Child[] = [];
  try {
    for (let i = 0; i < 2; i += 1)
      apps.push(await startChild('login-server.ts', { BENCH_VARIANT: 'ours', BENCH_ISSUER: issuer, BENCH_PREFIX: prefix }));
    // Open the connections first, so neither burst pays for TCP set-up.
    await Promise.all(Array.from({ length: BURST }, (_, i) => fetch(`${apps[i % 2]!.url}/__rss`).then((r) => r.text())));

    const fresh: number[][] = [];
    const expired: number[][] = [];
    const grants: number[] = [];
    const distinct: number[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      // Fresh: tokens valid for an hour, no refresh.
      await configureIssuer(issuer, { codeExpiresIn: 3600, refreshExpiresIn: 3600 });
      const a = await signIn(apps[0]!.url);
      await burst(apps, a.cookie); // warm this session's path once
      const f = await burst(apps, a.cookie);
      fresh.push(f.ms);

      // Expired: the sign-in's access token lives one second and the burst starts after it
      // expired, so every request wants a refresh; the refreshed token lives an hour, so one
      // refresh serves the whole burst.
      await configureIssuer(issuer, { codeExpiresIn: 1, refreshExpiresIn: 3600 });
      const signedInAt = Date.now();
      const b = await signIn(apps[0]!.url);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, signedInAt + 2100 - Date.now())));
      const before = await issuerStats(issuer);
      const e = await burst(apps, b.cookie);
      const after = await issuerStats(issuer);
      expired.push(e.ms);
      grants.push(after.refreshGrants - before.refreshGrants);
      distinct.push(e.tokens.size);
    }
    await configureIssuer(issuer, { codeExpiresIn: 3600, refreshExpiresIn: 3600 });

    const stats = (runs: number[][]) => {
      const p50s = runs.map((ms) =>
        percentile(
          [...ms].sort((x, y) => x - y),
          50,
        ),
      );
      const p99s = runs.map((ms) =>
        percentile(
          [...ms].sort((x, y) => x - y),
          99,
        ),
      );
      return { p50: round1(median(p50s)), p99: round1(median(p99s)) };
    };
    const freshMs = stats(fresh);
    const expiredMs = stats(expired);
    const figures: RefreshFigures = {
      burst: BURST,
      instances: apps.length,
      rounds: ROUNDS,
      refreshGrantsPerBurst: grants,
      distinctTokensPerBurst: distinct,
      freshMs,
      expiredMs,
      addedMs: { p50: round1(expiredMs.p50 - freshMs.p50), p99: round1(expiredMs.p99 - freshMs.p99) },
      ok: grants.every((g) => g === 1) && distinct.every((d) => d === 1),
    };
    printTable(`Refresh under contention (${BURST} concurrent requests of one session over 2 processes; ms, median of ${ROUNDS} bursts)`, [
      {
        'refresh grants per burst': grants.join(','),
        'distinct tokens per burst': distinct.join(','),
        'fresh p50/p99': `${freshMs.p50}/${freshMs.p99}`,
        'expired p50/p99': `${expiredMs.p50}/${expiredMs.p99}`,
        'added p50/p99': `${figures.addedMs.p50}/${figures.addedMs.p99}`,
        verdict: figures.ok ? 'one refresh per burst' : 'FAILED',
      },
    ]);
    return figures;
  } finally {
    await Promise.all(apps.map((a) => a.stop()));
    const redis = redisClient();
    await deleteUnder(redis, prefix);
    await redis.quit();
  }
}
