import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import { closeRedisClient, createRedisClient, whenReady } from '../../src/redis/client.js';
import type { Logger } from '../../src/util/logger.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh key prefix for one test file. */
export function testPrefix(file: string): string {
  return `test:${file}:${randomBytes(6).toString('base64url')}:`;
}

export interface RecordingLogger extends Logger {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A client with this package's defaults, connected (to the shared Redis unless `source` says otherwise). */
export async function connect(logger: Logger = recordingLogger(), source: string | RedisOptions = REDIS_URL): Promise<Redis> {
  const { client } = createRedisClient(source, logger);
  await whenReady(client, 10_000);
  return client as Redis;
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

export async function cleanup(prefix: string, ...clients: Redis[]): Promise<void> {
  if (clients[0]) await deleteKeys(clients[0], prefix);
  await Promise.all(clients.map((c) => closeRedisClient(c)));
}

/** A loopback port nothing listens on (bound, then freed). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await closeServer(server);
  return port;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
}
