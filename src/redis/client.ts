import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { isPlainObject, optionError } from '../config/assert.js';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';

/** A Redis connection this package can use: a single node or a cluster (ioredis 5). */
export type RedisClient = Redis | Cluster;

/**
 * The defaults applied to a connection this package creates (from a URL or options). They make a
 * Redis outage cost a request a fast error (answered 503 upstream) rather than a hanging request
 * or an unbounded queue in memory, while the client keeps reconnecting in the background.
 */
export const REDIS_DEFAULTS = {
  /** Give up one connection attempt after this long, in ms. */
  connectTimeout: 2000,
  /** Reject a command that got no answer within this long, in ms. */
  commandTimeout: 2000,
  /** Retry a command at most once across a reconnect. */
  maxRetriesPerRequest: 1,
  /** While disconnected, reject commands at once instead of queueing them. */
  enableOfflineQueue: false,
  /** Longest pause between two reconnect attempts, in ms. */
  maxReconnectDelayMs: 2000,
  /** On close, wait this long for the socket to end before destroying it, in ms (ioredis: 2000). */
  disconnectTimeout: 500,
} as const;

/** Least time between two logged connection errors of one client, in ms. */
const ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * Reconnect delay for the n-th attempt: doubles from 50 ms up to the cap, with jitter, and never
 * gives up (returning a number, never `null`), so the client comes back with Redis.
 */
export function reconnectDelay(attempt: number, capMs: number = REDIS_DEFAULTS.maxReconnectDelayMs): number {
  const base = Math.min(capMs, 50 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16));
  return Math.max(1, Math.round(base / 2 + Math.random() * (base / 2)));
}

function isRedisClient(value: unknown): value is RedisClient {
  if (value instanceof Redis || value instanceof Cluster) return true;
  // Another copy of ioredis: recognise the shape.
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Redis).sendCommand === 'function' &&
    typeof (value as Redis).on === 'function' &&
    typeof (value as Redis).status === 'string'
  );
}

/**
 * Names an error for a log line: its name and code only, never its message (an ioredis message
 * may quote a URL with a password). Duck-typed: errors from Node's own modules may come from
 * another realm (a test VM), where `instanceof Error` is false.
 */
function describeConnectionError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return describeCause(err);
  if (typeof err === 'object' && err !== null) {
    const { name, code } = err as { name?: unknown; code?: unknown };
    return {
      error: typeof name === 'string' ? name : 'Error',
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { error: typeof err };
}

/**
 * Logs connection errors without letting them become unhandled `'error'` events, at most once per
 * interval (a down Redis emits one per reconnect attempt), and logs when the client is back.
 */
function watchErrors(client: RedisClient, logger: Logger): void {
  let lastLoggedAt = -Infinity;
  let suppressed = 0;
  let failing = false;
  client.on('error', (err: unknown) => {
    failing = true;
    const now = Date.now();
    if (now - lastLoggedAt < ERROR_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    logger.warn('redis connection error; reconnecting', { ...describeConnectionError(err), ...(suppressed > 0 ? { suppressed } : {}) });
    lastLoggedAt = now;
    suppressed = 0;
  });
  // Emitted only for an unplanned disconnect (not after quit/disconnect).
  client.on('reconnecting', () => {
    failing = true;
  });
  client.on('ready', () => {
    if (!failing) return;
    failing = false;
    suppressed = 0;
    lastLoggedAt = -Infinity;
    logger.info('redis connection restored');
  });
}

/**
 * Resolves the `redis` option to a client.
 *
 * - A `redis://` or `rediss://` URL, or ioredis options: a new single-node client with
 *   {@link REDIS_DEFAULTS} (options you set win), an `'error'` listener that logs (throttled) and
 *   reconnects forever with capped backoff. `owned: true`: close it with {@link closeRedisClient}.
 * - An ioredis `Redis` or `Cluster`: used as given, `owned: false` (yours to configure and close;
 *   give it an `'error'` listener and consider the same defaults).
 *
 * Note: with `enableOfflineQueue: false`, commands sent before the first connection is ready are
 * rejected; await {@link pingRedis} (or {@link whenReady}) at start-up.
 *
 * @param optionPath the option name used in a TypeError for a bad value. Default `"redis"`.
 * @example
 * const { client, owned } = createRedisClient('redis://127.0.0.1:6379');
 * await pingRedis(client);
 */
export function createRedisClient(
  source: string | RedisOptions | Redis | Cluster,
  logger: Logger = defaultLogger,
  optionPath = 'redis',
): { client: Redis | Cluster; owned: boolean } {
  if (isRedisClient(source)) return { client: source, owned: false };

  const defaults: RedisOptions = {
    connectTimeout: REDIS_DEFAULTS.connectTimeout,
    commandTimeout: REDIS_DEFAULTS.commandTimeout,
    maxRetriesPerRequest: REDIS_DEFAULTS.maxRetriesPerRequest,
    enableOfflineQueue: REDIS_DEFAULTS.enableOfflineQueue,
    disconnectTimeout: REDIS_DEFAULTS.disconnectTimeout,
    retryStrategy: (times: number) => reconnectDelay(times),
  };

  let client: Redis;
  if (typeof source === 'string') {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw optionError(optionPath, 'a Redis URL such as "redis://127.0.0.1:6379", ioredis options, or an ioredis client');
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw optionError(optionPath, 'a redis: or rediss: URL, ioredis options, or an ioredis client');
    }
    client = new Redis(source, defaults);
  } else if (isPlainObject(source)) {
    const options = source as RedisOptions;
    client = new Redis({
      ...options,
      connectTimeout: options.connectTimeout ?? defaults.connectTimeout,
      commandTimeout: options.commandTimeout ?? defaults.commandTimeout,
      maxRetriesPerRequest: options.maxRetriesPerRequest === undefined ? defaults.maxRetriesPerRequest : options.maxRetriesPerRequest,
      enableOfflineQueue: options.enableOfflineQueue ?? defaults.enableOfflineQueue,
      disconnectTimeout: options.disconnectTimeout ?? defaults.disconnectTimeout,
      retryStrategy: options.retryStrategy ?? defaults.retryStrategy,
    });
  } else {
    throw optionError(optionPath, 'a Redis URL such as "redis://127.0.0.1:6379", ioredis options, or an ioredis client');
  }
  watchErrors(client, logger);
  return { client, owned: true };
}

/**
 * Resolves once the client is connected and ready, or rejects after `timeoutMs` (or when the
 * client was closed). Does not send a command.
 */
export function whenReady(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  if (client.status === 'end') return Promise.reject(new Error('redis client is closed'));
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error('redis client is closed'));
    const timer = setTimeout(() => done(new Error('redis did not become ready in time')), timeoutMs);
    client.once('ready', onReady);
    client.once('end', onEnd);
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}

/**
 * A readiness probe: true when Redis answers `PING` within `timeoutMs` (waiting for a pending
 * connection within the same time). Never throws.
 *
 * @example
 * app.get('/ready', async (_req, res) => res.sendStatus((await pingRedis(client)) ? 200 : 503));
 */
export async function pingRedis(client: RedisClient, timeoutMs = 1000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    await whenReady(client, timeoutMs);
    const left = Math.max(1, deadline - Date.now());
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('ping timed out')), left);
    });
    const answer = await Promise.race([client.ping(), timeout]);
    return answer === 'PONG';
  } catch {
    return false;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Closes a client: `QUIT` when connected (lets pending replies arrive), otherwise disconnects at
 * once (with the offline queue off, `QUIT` would be rejected while reconnecting). A `QUIT` that
 * gets no answer within `timeoutMs` (a Cluster with a dead master never answers for that node) is
 * followed by a hard disconnect. Never throws, never hangs.
 */
export async function closeRedisClient(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    try {
      const quit = client.quit().then(
        () => true,
        () => false,
      );
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      if (await Promise.race([quit, timedOut])) return;
    } catch {
      // fall through to a hard disconnect
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
  client.disconnect();
}
