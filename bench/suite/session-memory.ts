/**
 * Memory after many sessions: RSS (and heap, after a forced GC) of our app process before and
 * after 5,000 sign-ins (BENCH_SESSIONS), read after each fifth of them (the curve must flatten
 * once the local record cache is full), and after each of those sessions is used once more; then the Redis keys
 * the sign-ins left (by kind), whether every one carries a TTL, and their memory in Redis.
 * The process should not grow with sessions: they live in Redis, not in the app.
 */
import { closedLoop, signIn } from './browser.js';
import { load, printTable, startChild, expectOk } from './lib.js';
import { benchPrefix, childRss, deleteUnder, keysUnder, mib, redisClient } from './login-shared.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 10);

export interface SessionMemoryFigures {
  sessions: number;
  rssMiB: { start: number; afterSignIns: number; afterUse: number };
  heapMiB: { start: number; afterSignIns: number; afterUse: number };
  growthMiB: { rss: number; heap: number };
  /** RSS and heap (MiB, after a forced GC) after each batch of sign-ins: [sessions so far, rss, heap]. */
  series: Array<[number, number, number]>;
  signInsPerSecond: number;
  redis: {
    keys: number;
    byKind: Record<string, number>;
    withoutTtl: number;
    /** Smallest and largest TTL left, in seconds. */
    ttlSeconds: { min: number; max: number };
    /** MEMORY USAGE summed over the keys, per session. */
    bytesPerSession: number;
  };
}

function kindOf(key: string, prefix: string): string {
  const rest = key.slice(prefix.length);
  if (rest.startsWith('sess:')) return 'sess';
  if (rest.startsWith('idx:sub:')) return 'idx:sub';
  if (rest.startsWith('idx:sid:')) return 'idx:sid';
  if (rest.startsWith('refresh:')) return 'refresh';
  return rest.split(':')[0] ?? 'other';
}

export async function benchSessionMemory(issuer: string): Promise<SessionMemoryFigures> {
  const prefix = benchPrefix('memory');
  const child = await startChild('login-server.ts', { BENCH_VARIANT: 'ours', BENCH_ISSUER: issuer, BENCH_PREFIX: prefix, NODE_OPTIONS: '--expose-gc' });
  const redis = redisClient();
  try {
    // Warm every code path once, so start-up allocations are not counted as growth.
    const warm = await signIn(child.url);
    await load({ url: `${child.url}/page`, headers: { cookie: warm.cookie }, amount: 500, connections: 10 });
    const start = await childRss(child.url, true);

    const cookies: string[] = new Array<string>(SESSIONS);
    const series: SessionMemoryFigures['series'] = [[0, mib(start.rss), mib(start.heapUsed)]];
    const batch = Math.ceil(SESSIONS / 5);
    const t = { done: 0, seconds: 0 };
    for (let from = 0; from < SESSIONS; from += batch) {
      const size = Math.min(batch, SESSIONS - from);
      const part = await closedLoop(
        async (i) => {
          cookies[from + i] = (await signIn(child.url)).cookie;
        },
        { concurrency: CONCURRENCY, total: size },
      );
      t.done += part.done;
      t.seconds += part.seconds;
      const now = await childRss(child.url, true);
      series.push([from + size, mib(now.rss), mib(now.heapUsed)]);
    }
    const afterSignIns = await childRss(child.url, true);

    let i = 0;
    const use = await load({ url: `${child.url}/page`, amount: SESSIONS, connections: 10, nextHeaders: () => ({ cookie: cookies[i++ % SESSIONS]! }) });
    expectOk(use, 'session memory: using the sessions');
    const afterUse = await childRss(child.url, true);

    const keys = await keysUnder(redis, prefix);
    const byKind: Record<string, number> = {};
    for (const k of keys) byKind[kindOf(k, prefix)] = (byKind[kindOf(k, prefix)] ?? 0) + 1;
    let withoutTtl = 0;
    let minTtl = Infinity;
    let maxTtl = 0;
    let bytes = 0;
    for (let j = 0; j < keys.length; j += 1000) {
      const batch = keys.slice(j, j + 1000);
      const pipe = redis.pipeline();
      for (const k of batch) pipe.pttl(k).memory('USAGE', k);
      const out = (await pipe.exec()) ?? [];
      for (let n = 0; n < out.length; n += 2) {
        const ttl = Number(out[n]![1]);
        if (ttl < 0) withoutTtl += 1;
        else {
          minTtl = Math.min(minTtl, ttl / 1000);
          maxTtl = Math.max(maxTtl, ttl / 1000);
        }
        bytes += Number(out[n + 1]![1] ?? 0);
      }
    }
    const sessions = SESSIONS + 1;
    const figures: SessionMemoryFigures = {
      sessions: SESSIONS,
      rssMiB: { start: mib(start.rss), afterSignIns: mib(afterSignIns.rss), afterUse: mib(afterUse.rss) },
      heapMiB: { start: mib(start.heapUsed), afterSignIns: mib(afterSignIns.heapUsed), afterUse: mib(afterUse.heapUsed) },
      growthMiB: { rss: mib(afterUse.rss - start.rss), heap: mib(afterUse.heapUsed - start.heapUsed) },
      series,
      signInsPerSecond: Math.round(t.done / t.seconds),
      redis: {
        keys: keys.length,
        byKind,
        withoutTtl,
        ttlSeconds: { min: Math.round(minTtl), max: Math.round(maxTtl) },
        bytesPerSession: Math.round(bytes / sessions),
      },
    };
    printTable(`Session memory (our app process, ${SESSIONS} sign-ins then one page view each; MiB after a forced GC)`, [
      {
        'RSS start': figures.rssMiB.start,
        'RSS after sign-ins': figures.rssMiB.afterSignIns,
        'RSS after use': figures.rssMiB.afterUse,
        'RSS growth': figures.growthMiB.rss,
        'heap start/end': `${figures.heapMiB.start}/${figures.heapMiB.afterUse}`,
        'sign-ins/s': figures.signInsPerSecond,
      },
    ]);
    process.stdout.write(`RSS/heap MiB after each batch: ${series.map(([n, r, h]) => `${n}: ${r}/${h}`).join(', ')}\n`);
    printTable('Redis keys left by those sign-ins', [
      {
        keys: keys.length,
        ...byKind,
        'without TTL': withoutTtl,
        'TTL min..max s': `${figures.redis.ttlSeconds.min}..${figures.redis.ttlSeconds.max}`,
        'bytes/session': figures.redis.bytesPerSession,
      },
    ]);
    return figures;
  } finally {
    await child.stop();
    await deleteUnder(redis, prefix);
    await redis.quit();
  }
}
