/**
 * Memory under many distinct tokens: the guard's process RSS before and after 100,000 first-seen
 * tokens (the verified-token cache must stay within its bound), against the unprotected route.
 */
import { type BenchIssuer } from './issuer-keys.js';
import { load, printTable, startChild, expectOk } from './lib.js';

const TOKENS = Number(process.env.BENCH_MEMORY_TOKENS ?? 100_000);

async function rss(url: string): Promise<number> {
  const res = await fetch(`${url}/__rss`);
  return ((await res.json()) as { rss: number }).rss;
}

export interface GuardMemoryFigures {
  tokens: number;
  rssStartMiB: number;
  rssEndMiB: number;
  growthMiB: number;
  baselineGrowthMiB: number;
}

export async function benchGuardMemory(issuer: BenchIssuer): Promise<GuardMemoryFigures> {
  const tokens: string[] = [];
  for (let i = 0; i < TOKENS; i += 1000) {
    tokens.push(...(await Promise.all(Array.from({ length: Math.min(1000, TOKENS - i) }, () => issuer.mint('ES256')))));
  }
  const measure = async (variant: string) => {
    const child = await startChild('guard-server.ts', { BENCH_VARIANT: variant, BENCH_ISSUER: issuer.issuer, BENCH_AUDIENCE: issuer.audience });
    try {
      await fetch(`${child.url}/api`, { headers: { authorization: `Bearer ${tokens[0]}` } });
      const start = await rss(child.url);
      let i = 0;
      const res = await load({ url: `${child.url}/api`, amount: tokens.length, nextHeaders: () => ({ authorization: `Bearer ${tokens[i++]}` }) });
      expectOk(res, `memory run (${variant})`);
      return { start, end: await rss(child.url) };
    } finally {
      await child.stop();
    }
  };
  const ours = await measure('ours');
  const none = await measure('none');
  const mib = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
  const figures = {
    tokens: tokens.length,
    rssStartMiB: mib(ours.start),
    rssEndMiB: mib(ours.end),
    growthMiB: mib(ours.end - ours.start),
    baselineGrowthMiB: mib(none.end - none.start),
  };
  printTable('Guard memory (RSS, MiB)', [{ ...figures }]);
  return figures;
}
