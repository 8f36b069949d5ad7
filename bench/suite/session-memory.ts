/**
 * Memory after many sessions: RSS (and heap, after a forced GC) of our app process before and
 * after BENCH_SESSIONS sessions (default 5,000), read after each fifth of them (the curve must
 * flatten once the session layer's per-process memories are full: remembered cookie values and
 * renewals 10,000, opened records 2,000, the local record cache 5,000), each session viewed once
 * through the app as it is added; then the Redis keys the sessions left (by kind), whether every
 * one carries a TTL, and their memory in Redis. The process should not grow with sessions: they
 * live in Redis, not in the app.
 *
 * The first BENCH_REAL_SIGNINS (default 1,000) sessions are full sign-ins. The rest are seeded
 * (full sign-ins run at 25-35 a second on this machine: 100,000 would take an hour): each is the
 * record a sign-in writes, made by the library's own code (a real sign-in's record opened with
 * the app's secret, given a new session id and user, sealed to that id with `sealSignedIn`, the
 * cookie signed with `signSessionId`, the user's index entries added with `SessionIndex`), written
 * with the real record's TTL; the app then reads, opens and serves each like any other.
 */
import { randomBytes } from 'node:crypto';
import { openSignedIn, sealSignedIn, SESSION_SEAL_CONTEXT } from '../../src/login/session-data.js';
import { SessionIndex } from '../../src/redis/session-index.js';
import { unsignSessionId, signSessionId } from '../../src/session/cookie.js';
import { createSealer } from '../../src/session/seal.js';
import { closedLoop, signIn } from './browser.js';
import { load, printTable, startChild, expectOk } from './lib.js';
import { BENCH_SECRET, benchPrefix, childRss, deleteUnder, keysUnder, mib, redisClient } from './login-shared.js';
import type { Redis } from 'ioredis';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 5_000);
const CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 10);
const REAL_SIGNINS = Math.min(SESSIONS, Number(process.env.BENCH_REAL_SIGNINS ?? 1_000));

/**
 * Writes `count` more sessions like the one of `template` (a real sign-in's Cookie header), as a
 * sign-in writes them (see the file's comment); answers their Cookie headers.
 */
async function seedSessions(redis: Redis, prefix: string, template: string, count: number, serial: { n: number }): Promise<string[]> {
  const [name, value] = template.split('; ')[0]!.split('=') as [string, string];
  const templateId = unsignSessionId(decodeURIComponent(value), [BENCH_SECRET]);
  if (!templateId) throw new Error('seed: the template cookie does not verify');
  const text = await redis.get(`${prefix}sess:${templateId}`);
  const ttlMs = await redis.pttl(`${prefix}sess:${templateId}`);
  if (!text || ttlMs <= 0) throw new Error('seed: the template session has no record');
  const record = JSON.parse(text) as { cookie: unknown; oidc: { login: string } };
  const sealer = createSealer(BENCH_SECRET, SESSION_SEAL_CONTEXT);
  const opened = openSignedIn(sealer, record.oidc.login, templateId);
  if (!('record' in opened)) throw new Error(`seed: the template record does not open (${opened.failure})`);
  const login = opened.record;
  const index = new SessionIndex(redis, { prefix: `${prefix}idx:` });
  const cookies: string[] = [];
  for (let done = 0; done < count; done += 1000) {
    const pipe = redis.pipeline();
    const entries: Array<{ sessionId: string; sub: string; sid: string; expiresAt: number }> = [];
    for (let k = done; k < Math.min(count, done + 1000); k += 1) {
      const id = randomBytes(24).toString('base64url');
      const sub = `seeded-${serial.n++}`;
      const sid = randomBytes(12).toString('base64url');
      const sealed = sealSignedIn(sealer, { ...login, sub, sid, claims: { ...login.claims, sub, sid }, createdAt: Date.now() }, id);
      pipe.set(`${prefix}sess:${id}`, JSON.stringify({ ...record, oidc: { login: sealed } }), 'PX', ttlMs);
      entries.push({ sessionId: id, sub, sid, expiresAt: Date.now() + ttlMs });
      cookies.push(`${name}=${encodeURIComponent(signSessionId(id, BENCH_SECRET))}`);
    }
    await pipe.exec();
    await Promise.all(entries.map((e) => index.add(e)));
  }
  return cookies;
}

export interface SessionMemoryFigures {
  sessions: number;
  rssMiB: { start: number; afterSignIns: number; afterUse: number };
  heapMiB: { start: number; afterSignIns: number; afterUse: number };
  growthMiB: { rss: number; heap: number };
  /** RSS and heap (MiB, after a forced GC) after each batch of sign-ins: [sessions so far, rss, heap]. */
  series: Array<[number, number, number]>;
  signInsPerSecond: number;
  /** Full sign-ins among the sessions; the rest were seeded (see the file's comment). */
  realSignIns: number;
  /** Page views a second while each new session was viewed once (last fifth). */
  firstViewsPerSecond: number;
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
  const child = await startChild('login-server.ts', {
    BENCH_VARIANT: 'ours',
    BENCH_ISSUER: issuer,
    BENCH_PREFIX: prefix,
    NODE_OPTIONS: '--expose-gc',
  });
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
    const serial = { n: 0 };
    let viewsPerSecond = 0;
    for (let from = 0; from < SESSIONS; from += batch) {
      const size = Math.min(batch, SESSIONS - from);
      const real = Math.max(0, Math.min(size, REAL_SIGNINS - from));
      if (real > 0) {
        const part = await closedLoop(
          async (i) => {
            cookies[from + i] = (await signIn(child.url)).cookie;
          },
          { concurrency: CONCURRENCY, total: real },
        );
        t.done += part.done;
        t.seconds += part.seconds;
      }
      if (size > real) {
        const seeded = await seedSessions(redis, prefix, warm.cookie, size - real, serial);
        for (let k = 0; k < seeded.length; k += 1) cookies[from + real + k] = seeded[k]!;
      }
      // Each new session viewed once through the app: read, opened, cached, its cookie remembered.
      let v = from;
      const view = await load({ url: `${child.url}/page`, amount: size, connections: 10, nextHeaders: () => ({ cookie: cookies[v++]! }) });
      expectOk(view, 'session memory: viewing the new sessions');
      viewsPerSecond = view.rps;
      const now = await childRss(child.url, true);
      series.push([from + size, mib(now.rss), mib(now.heapUsed)]);
      process.stdout.write(
        `sessions ${from + size} (${REAL_SIGNINS > from ? Math.min(from + size, REAL_SIGNINS) : REAL_SIGNINS} full sign-ins): RSS ${mib(now.rss)} MiB, heap ${mib(now.heapUsed)} MiB\n`,
      );
    }
    const afterSignIns = await childRss(child.url, true);

    let i = 0;
    const use = await load({
      url: `${child.url}/page`,
      amount: SESSIONS,
      connections: 10,
      nextHeaders: () => ({ cookie: cookies[i++ % SESSIONS]! }),
    });
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
      realSignIns: REAL_SIGNINS,
      firstViewsPerSecond: Math.round(viewsPerSecond),
      redis: {
        keys: keys.length,
        byKind,
        withoutTtl,
        ttlSeconds: { min: Math.round(minTtl), max: Math.round(maxTtl) },
        bytesPerSession: Math.round(bytes / sessions),
      },
    };
    printTable(
      `Session memory (our app process, ${SESSIONS} sessions (${REAL_SIGNINS} full sign-ins, the rest seeded), one view each as added and one more after; MiB after a forced GC)`,
      [
        {
          'RSS start': figures.rssMiB.start,
          'RSS after sign-ins': figures.rssMiB.afterSignIns,
          'RSS after use': figures.rssMiB.afterUse,
          'RSS growth': figures.growthMiB.rss,
          'heap start/end': `${figures.heapMiB.start}/${figures.heapMiB.afterUse}`,
          'sign-ins/s': figures.signInsPerSecond,
        },
      ],
    );
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
