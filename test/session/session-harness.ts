/** Plumbing of the session middleware tests: a real Express app on loopback, a cookie jar, store call counts, Redis MONITOR. */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { SessionData, Store } from 'express-session';
import type { Redis } from 'ioredis';
import {
  hasSession,
  sessionData,
  sessionMiddleware,
  sessionStoreError,
  type SessionMiddlewareOptions,
} from '../../src/session/middleware.js';
import { recordingLogger, type RecordingLogger } from '../support/redis.js';

export const SECRET = 'session-test-secret-0123456789abcdefghijklmnop';
export const COOKIE = 'sid';
export const MAX_AGE = 60_000;

export interface Served {
  url: string;
  close(): Promise<void>;
}

export async function serve(app: Express): Promise<Served> {
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface Reply {
  status: number;
  body: string;
  /** The Set-Cookie lines for the session cookie. */
  setCookies: string[];
  /** The session cookie's value as set (URL-encoded), if one was set. */
  cookieValue: string | undefined;
  json<T = unknown>(): T;
}

/** One GET; `cookie` is the session cookie's (encoded) value, or a whole header with `raw`. */
export async function get(url: string, cookie?: string, raw = false): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = raw ? cookie : `${COOKIE}=${cookie}`;
  const res = await fetch(url, { headers, redirect: 'manual' });
  const body = await res.text();
  const setCookies = res.headers.getSetCookie().filter((line) => line.startsWith(`${COOKIE}=`));
  const last = setCookies.at(-1);
  return {
    status: res.status,
    body,
    setCookies,
    cookieValue: last === undefined ? undefined : last.slice(COOKIE.length + 1, last.indexOf(';') === -1 ? undefined : last.indexOf(';')),
    json: <T>() => JSON.parse(body) as T,
  };
}

/** The id in an encoded `s:<id>.<mac>` cookie value. */
export function idOf(cookieValue: string): string {
  const decoded = decodeURIComponent(cookieValue);
  const match = /^s:(.+)\.[A-Za-z0-9+/]+$/.exec(decoded);
  if (!match) throw new Error('not a signed session cookie');
  return match[1]!;
}

/** An attribute of a Set-Cookie line (case-insensitive name), '' for a flag, undefined when absent. */
export function attribute(line: string, name: string): string | undefined {
  for (const part of line.split(';').slice(1)) {
    const [key, ...rest] = part.trim().split('=');
    if (key!.toLowerCase() === name.toLowerCase()) return rest.join('=');
  }
  return undefined;
}

export type StoreCall = 'get' | 'set' | 'touch' | 'destroy';

/** Counts the store's calls (the store keeps working); `reset()` starts over. */
export function countCalls(store: Store): { calls: Record<StoreCall, number>; ids: Record<StoreCall, string[]>; reset(): void } {
  const calls: Record<StoreCall, number> = { get: 0, set: 0, touch: 0, destroy: 0 };
  const ids: Record<StoreCall, string[]> = { get: [], set: [], touch: [], destroy: [] };
  const target = store as unknown as Record<StoreCall, (...args: unknown[]) => unknown>;
  for (const method of ['get', 'set', 'touch', 'destroy'] as const) {
    const original = target[method];
    target[method] = function (this: unknown, ...args: unknown[]) {
      calls[method]++;
      ids[method].push(String(args[0]));
      return original.apply(this, args);
    };
  }
  return {
    calls,
    ids,
    reset() {
      for (const method of ['get', 'set', 'touch', 'destroy'] as const) {
        calls[method] = 0;
        ids[method].length = 0;
      }
    },
  };
}

/**
 * Redis commands on keys under `prefix`, seen through MONITOR on a connection of its own.
 * `settle()` waits until every command Redis ran before it has been seen (a marker command
 * through `client` comes back in order), so "nothing was written" is a real observation.
 */
export async function monitorPrefix(
  client: Redis,
  prefix: string,
): Promise<{
  commands: string[][];
  writes(): string[][];
  settle(): Promise<void>;
  clear(): void;
  stop(): Promise<void>;
}> {
  const commands: string[][] = [];
  let markers = 0;
  const seen = new Set<string>();
  const monitor = await rawMonitor(client, (args) => {
    const key = args[1];
    if (typeof key !== 'string') return;
    if (key.startsWith(`${prefix}marker:`)) seen.add(key);
    else if (key.startsWith(prefix)) commands.push([args[0]!.toLowerCase(), ...args.slice(1)]);
  });
  return {
    commands,
    writes: () => commands.filter(([name]) => name !== 'get' && name !== 'mget' && name !== 'exists' && name !== 'pttl' && name !== 'ttl'),
    async settle() {
      const marker = `${prefix}marker:${++markers}`;
      await client.get(marker);
      const deadline = Date.now() + 5000;
      while (!seen.has(marker)) {
        if (Date.now() > deadline) throw new Error('MONITOR did not see the marker');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    clear() {
      commands.length = 0;
    },
    async stop() {
      monitor.destroy();
    },
  };
}

export interface TestApp {
  app: Express;
  logger: RecordingLogger;
  /** How many times each route's handler ran. */
  hits: Map<string, number>;
}

/**
 * An Express app behind `sessionMiddleware()` with one route per thing a handler may do to
 * `req.session`. `before` mounts something ahead of the middleware (e.g. express-session).
 */
export function sessionApp(store: Store, options: Partial<SessionMiddlewareOptions> = {}, before?: (app: Express) => void): TestApp {
  const logger = recordingLogger();
  const app = express();
  app.set('etag', false);
  const hits = new Map<string, number>();
  app.use((req, _res, next) => {
    hits.set(req.path, (hits.get(req.path) ?? 0) + 1);
    next();
  });
  before?.(app);
  app.use(
    sessionMiddleware({
      name: COOKIE,
      secrets: [SECRET],
      store,
      cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: MAX_AGE },
      rolling: true,
      touchAfterMs: 60_000,
      timeoutMs: 2000,
      logger,
      ...options,
    }),
  );
  routes(app);
  return { app, logger, hits };
}

type Session = NonNullable<Request['session']> & Record<string, unknown>;
const s = (req: Request): Session => req.session as Session;

/** The routes shared by the sessionMiddleware and express-session apps. */
export function routes(app: Express): void {
  // Never touches req.session.
  app.get('/view', (_req, res) => {
    res.send('page');
  });
  // Reads without building req.session.
  app.get('/info', (req, res) => {
    res.json({
      data: sessionData(req) ?? null,
      has: hasSession(req),
      storeError: sessionStoreError(req) !== undefined,
      session: req.session ?? null,
    });
  });
  app.get('/read', (req, res) => {
    res.json({ id: req.sessionID ?? null, session: req.session ?? null });
  });
  app.get('/set', (req, res) => {
    for (const [key, value] of Object.entries(req.query)) s(req)[key] = value;
    res.send('set');
  });
  app.get('/nested', (req, res) => {
    const deep = (s(req).deep ??= { list: [] as number[] }) as { list: number[] };
    deep.list.push(deep.list.length + 1);
    res.send('nested');
  });
  app.get('/revert', (req, res) => {
    const sess = s(req);
    const before = sess.k;
    sess.k = 'temporary';
    sess.extra = { x: 1 };
    if (before === undefined) delete sess.k;
    else sess.k = before;
    delete sess.extra;
    res.send('reverted');
  });
  app.get('/save', (req, res, next) => {
    s(req).saved = String(req.query.v ?? 'yes');
    req.session!.save((err) => (err ? next(err) : res.send('saved')));
  });
  app.get('/regenerate', (req, res, next) => {
    req.session!.regenerate((err) => {
      if (err) return next(err);
      s(req).k = 'after-regenerate';
      res.send('regenerated');
    });
  });
  app.get('/destroy', (req, res, next) => {
    req.session!.destroy((err) => (err ? next(err) : res.send('destroyed')));
  });
  app.get('/null', (req, res) => {
    s(req).k = 'dropped';
    (req as { session: unknown }).session = null;
    res.send('nulled');
  });
  app.get('/reload', (req, res, next) => {
    s(req).k = 'changed-before-reload';
    req.session!.reload((err) => (err ? next(err) : res.json({ k: s(req).k ?? null })));
  });
  app.get('/stream', (req, res) => {
    if (req.query.k !== undefined) s(req).k = req.query.k;
    res.status(200);
    res.setHeader('Content-Type', 'text/plain');
    res.write('first,');
    setImmediate(() => res.end('last'));
  });
  app.get('/stream-view', (_req, res) => {
    res.write('first,');
    setImmediate(() => res.end('last'));
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).send(`error: ${String(err)}`);
  });
}

/** Record text of `id` in Redis, parsed. */
export async function readRecord(client: Redis, prefix: string, id: string): Promise<(SessionData & Record<string, unknown>) | null> {
  const text = await client.get(prefix + id);
  return text === null ? null : (JSON.parse(text) as SessionData & Record<string, unknown>);
}

/**
 * MONITOR on a plain socket of its own. ioredis's `monitor()` can take a MONITOR line for the
 * reply to a queued command when Redis is busy ("Command queue state error"), so the harness
 * reads the protocol itself: `+OK`, then one `+<time> [<db> <addr>] "cmd" "arg" ...` line each.
 */
async function rawMonitor(client: Redis, onCommand: (args: string[]) => void): Promise<Socket> {
  const { host = '127.0.0.1', port = 6379 } = client.options;
  const socket = connect(port, host);
  let buffered = '';
  let ready: (() => void) | undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    socket.once('error', reject);
  });
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let end: number;
    while ((end = buffered.indexOf('\r\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line === '+OK') ready?.();
      else if (line.startsWith('+')) onCommand(quotedArgs(line));
    }
  });
  socket.write('MONITOR\r\n');
  await started;
  return socket;
}

/** The quoted arguments of a MONITOR line, unescaped (Redis writes \" \\ \n \xHH ...). */
function quotedArgs(line: string): string[] {
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' };
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map(([, body]) =>
    body!.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_m, e: string) =>
      e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (escapes[e] ?? e),
    ),
  );
}
