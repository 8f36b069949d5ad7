/** Shared plumbing of the login tests: an app server on a free port, Redis, polling. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Browser, Hop } from './browser.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';
export const SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** A unique Redis key prefix for one test file. */
export function testPrefix(file: string): string {
  return `test:${file}:${randomBytes(6).toString('hex')}:`;
}

/** An HTTP server listening on 127.0.0.1 with its handler set later (the URL is needed first). */
export async function startAppServer(): Promise<{ server: Server; url: string; setHandler(handler: RequestListener): void; close(): Promise<void> }> {
  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    setHandler(next) {
      handler = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A Redis client for assertions (and cleanup) in tests. */
export function assertionRedis(): Redis {
  return new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function cleanPrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** The session id inside an express-session cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sessionIdOf(cookieValue: string): string {
  const decoded = decodeURIComponent(cookieValue);
  const match = /^s:([^.]+)\.[A-Za-z0-9+/=_-]+$/.exec(decoded);
  if (!match) throw new Error('not a signed session cookie');
  return match[1]!;
}

/** Asserts a hop is a redirect to the login route with the given returnTo. */
export function expectLoginRedirect(hop: Hop, returnTo: string): void {
  expect(hop.status).toBe(302);
  const url = new URL(hop.location!);
  expect(url.pathname).toBe('/login');
  expect(url.searchParams.get('returnTo')).toBe(returnTo);
}

export type { Browser };
