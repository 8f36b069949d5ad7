/**
 * What the sign-in benchmarks share between the parent and its children: the bench client's
 * credentials, the issuer's control endpoints, and a Redis client for counting and cleaning up.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const BENCH_CLIENT_ID = 'bench-client';
export const BENCH_CLIENT_SECRET = 'bench-client-secret-0123456789abcdef';
export const BENCH_SECRET = 'bench-cookie-secret-0123456789abcdef0123456789';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Counters of what the issuer did; its `/__stats` answers them. */
export interface IssuerStats {
  authorizations: number;
  codeGrants: number;
  refreshGrants: number;
  refused: number;
}

/** Token lifetimes in seconds (`expires_in` of the code and refresh grants) and a refresh delay in ms. */
export interface IssuerConfig {
  codeExpiresIn: number;
  refreshExpiresIn: number;
  refreshDelayMs: number;
}

export async function issuerStats(issuer: string): Promise<IssuerStats> {
  return (await (await fetch(`${issuer}/__stats`)).json()) as IssuerStats;
}

export async function configureIssuer(issuer: string, config: Partial<IssuerConfig>): Promise<void> {
  const res = await fetch(`${issuer}/__config`, { method: 'POST', body: JSON.stringify(config) });
  await res.text();
  if (res.status !== 200) throw new Error(`issuer /__config answered ${res.status}`);
}

/** A fresh Redis key prefix for one benchmark run of one variant. */
export function benchPrefix(name: string): string {
  return `bench:${name}:${randomBytes(4).toString('hex')}:`;
}

export function redisClient(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
}

/** Every key under `prefix`. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return [...new Set(keys)];
}

/** Deletes every key under `prefix`; answers how many there were. */
export async function deleteUnder(redis: Redis, prefix: string): Promise<number> {
  const keys = await keysUnder(redis, prefix);
  for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  return keys.length;
}

/** Stops the children that started and deletes the keys under their prefixes. */
export async function stopAndClean(started: Array<[{ stop(): Promise<void> } | undefined, string | undefined]>): Promise<void> {
  await Promise.all(started.map(([child]) => child?.stop()));
  const redis = redisClient();
  for (const [, prefix] of started) if (prefix) await deleteUnder(redis, prefix);
  await redis.quit();
}

export async function childRss(url: string, gc = false): Promise<{ rss: number; heapUsed: number }> {
  return (await (await fetch(`${url}/__rss${gc ? '?gc=1' : ''}`)).json()) as { rss: number; heapUsed: number };
}

export const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
