/**
 * Memory under many distinct tokens: our guard's process RSS (after a forced GC) while it verifies
 * BENCH_MEMORY_TOKENS first-seen tokens (default 100,000; the goal is read at 1,000,000), read
 * after each batch, so the curve shows whether the verified-token cache stays within its bound.
 * Tokens are minted batch by batch (the parent never holds them all).
 */
import { type BenchIssuer } from './issuer-keys.js';
import { expectOk, load, printTable, startChild } from './lib.js';
import { childRss, mib } from './login-shared.js';

const TOKENS = Number(process.env.BENCH_MEMORY_TOKENS ?? 100_000);
const BATCH = Number(process.env.BENCH_MEMORY_BATCH ?? 20_000);

export interface GuardMemoryFigures {
  tokens: number;
  /** [tokens so far, RSS MiB, heap MiB] after each batch (after a forced GC). */
  series: Array<[number, number, number]>;
  rssStartMiB: number;
  rssEndMiB: number;
  /** RSS after the last batch minus after the first: flat when the cache is bounded. */
  growthAfterFirstBatchMiB: number;
}

export async function benchGuardMemory(issuer: BenchIssuer): Promise<GuardMemoryFigures> {
  const child = await startChild('guard-server.ts', {
    BENCH_VARIANT: 'ours',
    BENCH_ISSUER: issuer.issuer,
    BENCH_AUDIENCE: issuer.audience,
    NODE_OPTIONS: '--expose-gc',
  });
  try {
    const first = await issuer.mint('ES256');
    await (await fetch(`${child.url}/api`, { headers: { authorization: `Bearer ${first}` } })).arrayBuffer();
    const start = await childRss(child.url, true);
    const series: GuardMemoryFigures['series'] = [[0, mib(start.rss), mib(start.heapUsed)]];
    for (let done = 0; done < TOKENS;) {
      const size = Math.min(BATCH, TOKENS - done);
      const tokens: string[] = [];
      for (let i = 0; i < size; i += 1000)
        tokens.push(...(await Promise.all(Array.from({ length: Math.min(1000, size - i) }, () => issuer.mint('ES256')))));
      let i = 0;
      expectOk(
        await load({ url: `${child.url}/api`, amount: tokens.length, nextHeaders: () => ({ authorization: `Bearer ${tokens[i++]}` }) }),
        'guard memory run',
      );
      done += size;
      const now = await childRss(child.url, true);
      series.push([done, mib(now.rss), mib(now.heapUsed)]);
    }
    const figures: GuardMemoryFigures = {
      tokens: TOKENS,
      series,
      rssStartMiB: series[0]![1],
      rssEndMiB: series.at(-1)![1],
      growthAfterFirstBatchMiB: Math.round((series.at(-1)![1] - series[Math.min(1, series.length - 1)]![1]) * 10) / 10,
    };
    printTable(`Guard memory over ${TOKENS} first-seen ES256 tokens (RSS/heap MiB after a forced GC, after each batch)`, [
      Object.fromEntries(series.map(([n, rss, heap]) => [String(n), `${rss}/${heap}`])),
    ]);
    return figures;
  } finally {
    await child.stop();
  }
}
