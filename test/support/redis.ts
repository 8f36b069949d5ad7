/**
 * The test Redis (127.0.0.1:6379, or `REDIS_URL`): a unique key prefix per test file, clients with
 * this package's defaults, cleanup by prefix, and loggers that record or say nothing.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { closeRedisClient, createRedisClient, whenReady } from '../../src/redis/client.js';
import type { Logger } from '../../src/util/logger.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix for one test file: `test:<file>:<random>:`. */
export function testPrefix(file: string): string {
  return `test:${file}:${randomBytes(6).toString('hex')}:`;
}

/** A logger that says nothing. */
export const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface RecordingLogger extends Logger {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
}

/** A logger that keeps every line it is given. */
export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A client with this package's defaults, connected (to the test Redis unless `source` says otherwise). */
export async function connect(logger: Logger = recordingLogger(), source: string | RedisOptions = REDIS_URL): Promise<Redis> {
  const { client } = createRedisClient(source, logger);
  await whenReady(client, 10_000);
  return client as Redis;
}

/** A plain ioredis client for assertions (and cleanup) in tests. */
export function assertionRedis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under the prefix. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** Deletes the prefix's keys (with the first client), then closes every client. */
export async function cleanup(prefix: string, ...clients: Redis[]): Promise<void> {
  if (clients[0]) await deleteKeys(clients[0], prefix);
  await Promise.all(clients.map((c) => closeRedisClient(c)));
}
