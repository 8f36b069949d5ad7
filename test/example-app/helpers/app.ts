/**
 * Starts the example app in-process on a free loopback port with the embedded IdP and a real
 * Redis (own key prefix per test file), and cleans up after it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../../src/index.js';
import type { CreateAppOptions } from '../../../example-app/app.js';
import { startServer, type RunningServer } from '../../../example-app/listen.js';
import { deleteKeys, REDIS_URL } from '../../support/redis.js';

export { REDIS_URL };

/** A logger that keeps what it is told (tests assert nothing secret reaches it). */
export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  };
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

export interface TestApp {
  server: RunningServer;
  /** The app's base URL (`http://localhost:<port>`). */
  base: string;
  /** Redis key prefix of this app's sessions. */
  prefix: string;
  redis: Redis;
  logger: Logger & { lines: string[] };
  /** Session ids from the session cookie value `s:<id>.<signature>`. */
  sessionKey(cookieValue: string | undefined): string | undefined;
  close(): Promise<void>;
}

/** Starts the app with Redis (unless `env.REDIS_URL` is given as `''`). */
export async function startTestApp(file: string, env: Record<string, string> = {}, options: CreateAppOptions = {}): Promise<TestApp> {
  const prefix = `test:example-app:${file}:${randomBytes(4).toString('hex')}:`;
  const logger = recordingLogger();
  const server = await startServer(
    { PORT: '0', HOST: '127.0.0.1', REDIS_URL, SESSION_SECRET: randomBytes(32).toString('base64url'), ...env },
    { sessionPrefix: prefix, logger, ...options },
  );
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return {
    server,
    base: server.url,
    prefix,
    redis,
    logger,
    sessionKey(cookieValue) {
      if (cookieValue === undefined) return undefined;
      const match = /^s:([^.]+)\./.exec(decodeURIComponent(cookieValue));
      return match ? `${prefix}sess:${match[1]}` : undefined;
    },
    async close() {
      await server.close();
      await deleteKeys(redis, prefix);
      await redis.quit();
    },
  };
}
