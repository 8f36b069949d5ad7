/**
 * Counts the Redis commands one client sends while a block runs. The Redis at 127.0.0.1:6379 is
 * shared with whatever else runs on the machine (other test suites), so global deltas of
 * `INFO commandstats` are not a clean figure: the commands are read from MONITOR instead, keeping
 * only those that came from the named connection of the app under test. The global delta of
 * `total_commands_processed` is reported beside it, for reference.
 */
import type { Redis } from 'ioredis';
import { redisClient } from './login-shared.js';

export interface CommandCounts {
  /** Commands by name (upper case) from the app's connection. */
  byCommand: Record<string, number>;
  total: number;
  /** `total_commands_processed` delta of the whole server over the same block (all clients). */
  serverTotal: number;
}

async function clientAddress(redis: Redis, name: string): Promise<string> {
  const list = (await redis.client('LIST')) as string;
  for (const line of list.split('\n')) {
    const fields = Object.fromEntries(
      line
        .trim()
        .split(' ')
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    if (fields.name === name) return fields.addr!;
  }
  throw new Error(`no Redis connection named ${name}`);
}

async function totalProcessed(redis: Redis): Promise<number> {
  const info = await redis.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Runs `block` and counts the commands the connection named `name` sent meanwhile. */
export async function countCommands(name: string, block: () => Promise<void>): Promise<CommandCounts> {
  const redis = redisClient();
  const addr = await clientAddress(redis, name);
  const monitor = await redis.monitor();
  // ioredis may see other clients' MONITOR lines before it has switched the connection to monitor
  // mode (a busy shared Redis) and reports a "command queue state error": that line is lost, and
  // it comes before the block starts, so counting goes on.
  monitor.on('error', () => undefined);
  const byCommand: Record<string, number> = {};
  let total = 0;
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== addr) return;
    const command = String(args[0]).toUpperCase();
    byCommand[command] = (byCommand[command] ?? 0) + 1;
    total += 1;
  });
  // MONITOR output lags the commands a little: after the block, a marker command of ours is sent
  // and counting ends when MONITOR shows it (Redis runs commands one at a time, in order).
  const marker = `bench:monitor-marker:${process.pid}:${Date.now()}`;
  let markerSeen: () => void = () => undefined;
  const seen = new Promise<void>((resolve) => (markerSeen = resolve));
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (String(args[0]).toUpperCase() === 'EXISTS' && args[1] === marker) markerSeen();
  });
  try {
    const before = await totalProcessed(redis);
    await block();
    // Writes the app makes after answering (none expected) get a moment to reach Redis.
    await new Promise((r) => setTimeout(r, 200));
    const after = await totalProcessed(redis);
    await redis.exists(marker);
    await Promise.race([seen, new Promise((r) => setTimeout(r, 5000))]);
    return { byCommand, total, serverTotal: after - before };
  } finally {
    monitor.disconnect();
    await redis.quit();
  }
}
