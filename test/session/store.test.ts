import { createHmac } from 'node:crypto';
import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import request from 'supertest';
import type { Redis } from 'ioredis';
import { ServiceUnavailableError } from '../../src/errors/index.js';
import { createRedisClient, closeRedisClient } from '../../src/redis/client.js';
import { createSessionStore, DEFAULT_SESSION_PREFIX } from '../../src/session/store.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';

const prefix = testPrefix('store');
let client: Redis;

beforeAll(async () => {
  client = await connect();
});

afterAll(async () => {
  await cleanup(prefix, client);
});

function sessionData(expiresInMs?: number, extra: Record<string, unknown> = {}): SessionData {
  const cookie = {
    originalMaxAge: expiresInMs ?? null,
    path: '/',
    httpOnly: true,
    ...(expiresInMs ? { expires: new Date(Date.now() + expiresInMs) } : {}),
  };
  return { cookie, ...extra } as unknown as SessionData;
}

function call<T>(fn: (cb: (err?: unknown, data?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data))));
}

const get = (store: Store, sid: string) => call<SessionData | null>((cb) => store.get(sid, cb));
const set = (store: Store, sid: string, sess: SessionData) => call<void>((cb) => store.set(sid, sess, cb));
const touch = (store: Store, sid: string, sess: SessionData) => call<void>((cb) => store.touch!(sid, sess, cb));
const destroy = (store: Store, sid: string) => call<void>((cb) => store.destroy(sid, cb));

describe('session/store (connect-redis on ioredis)', () => {
  describe('lifecycle against a real Redis', () => {
    it('sets, gets, touches, destroys', async () => {
      const store = createSessionStore({ client, prefix });
      const sid = 'lifecycle-1';
      await set(store, sid, sessionData(60_000, { oidc: { sealed: 'v1.abc' } }));

      expect(await client.exists(`${prefix}${sid}`)).toBe(1);
      expect(await get(store, sid)).toMatchObject({ oidc: { sealed: 'v1.abc' } });
      const ttlBefore = await client.ttl(`${prefix}${sid}`);
      expect(ttlBefore).toBeGreaterThan(0);
      expect(ttlBefore).toBeLessThanOrEqual(60);

      await touch(store, sid, sessionData(3_600_000));
      expect(await client.ttl(`${prefix}${sid}`)).toBeGreaterThan(60);

      await destroy(store, sid);
      expect(await client.exists(`${prefix}${sid}`)).toBe(0);
      expect(await get(store, sid)).toBeFalsy();
    });

    it('uses ttlSeconds for a session cookie without expiry', async () => {
      const store = createSessionStore({ client, prefix, ttlSeconds: 120 });
      await set(store, 'no-expiry', sessionData());
      const ttl = await client.ttl(`${prefix}no-expiry`);
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    });

    it('lets an expired session disappear', async () => {
      const store = createSessionStore({ client, prefix });
      await set(store, 'short', sessionData(1000));
      expect(await get(store, 'short')).toBeTruthy();
      await eventually(async () => !(await get(store, 'short')), { timeoutMs: 15_000, stepMs: 100 });
      expect(await client.exists(`${prefix}short`)).toBe(0);
    });

    it('does not write a session whose cookie already expired', async () => {
      const store = createSessionStore({ client, prefix });
      await set(store, 'past', sessionData(-1000));
      expect(await client.exists(`${prefix}past`)).toBe(0);
    });

    it('uses the prefix "oidc:sess:" by default', async () => {
      const store = createSessionStore({ client });
      const sid = `${prefix}default-prefix`;
      try {
        await set(store, sid, sessionData(60_000));
        expect(await client.exists(`${DEFAULT_SESSION_PREFIX}${sid}`)).toBe(1);
      } finally {
        await client.del(`${DEFAULT_SESSION_PREFIX}${sid}`);
      }
    });

    it('works through the promise form (no callback)', async () => {
      const store = createSessionStore({ client, prefix });
      const s = store as unknown as { set(sid: string, sess: SessionData): Promise<unknown>; get(sid: string): Promise<unknown> };
      await s.set('promise', sessionData(60_000, { n: 1 }));
      expect(await s.get('promise')).toMatchObject({ n: 1 });
    });

    it('reads a record that is not JSON as no session, and logs it', async () => {
      const logger = recordingLogger();
      const store = createSessionStore({ client, prefix, logger });
      await client.set(`${prefix}corrupt`, '{not json', 'EX', 60);
      expect(await get(store, 'corrupt')).toBeFalsy();
      expect(logger.lines.some((l) => l.level === 'warn')).toBe(true);
    });

    it('leaves a record that is not JSON out of all(), and lists the others', async () => {
      const own = `${prefix}all:`;
      const store = createSessionStore({ client, prefix: own, logger: recordingLogger() });
      await set(store, 'good', sessionData(60_000, { ok: true }));
      await client.set(`${own}bad`, '{not json', 'EX', 60);
      const records = await call<(SessionData & { id: string })[]>((cb) => store.all!(cb as never));
      expect(records).toEqual([expect.objectContaining({ id: 'good', ok: true })]);
    });

    it('serves the first calls on a client that is still connecting (no 503 right after start-up)', async () => {
      const { client: fresh } = createRedisClient('redis://127.0.0.1:6379', recordingLogger());
      const store = createSessionStore({ client: fresh as Redis, prefix });
      try {
        expect(fresh.status).not.toBe('ready');
        await expect(get(store, 'never-written')).resolves.toBeFalsy(); // no record; not a 503
      } finally {
        await closeRedisClient(fresh);
      }
    });

    it('answers 503 from ids, length, all and clear when Redis is down', async () => {
      const { client: down } = createRedisClient(`redis://127.0.0.1:${await freePort()}`, recordingLogger());
      const store = createSessionStore({ client: down as Redis, prefix });
      try {
        await expect(call((cb) => (store as unknown as { ids(cb: unknown): void }).ids(cb))).rejects.toBeInstanceOf(
          ServiceUnavailableError,
        );
        await expect(call((cb) => store.length!(cb))).rejects.toBeInstanceOf(ServiceUnavailableError);
        await expect(call((cb) => store.all!(cb as never))).rejects.toBeInstanceOf(ServiceUnavailableError);
        await expect(call((cb) => store.clear!(cb))).rejects.toBeInstanceOf(ServiceUnavailableError);
      } finally {
        await closeRedisClient(down);
      }
    });
  });

  describe('behind express-session', () => {
    it('keeps a session across requests with the cookie', async () => {
      const app = express();
      app.use(
        session({
          store: createSessionStore({ client, prefix }),
          secret: 'x'.repeat(32),
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: 60_000 },
        }),
      );
      app.post('/count', (req, res) => {
        const s = req.session as unknown as { n?: number };
        s.n = (s.n ?? 0) + 1;
        res.json({ n: s.n });
      });
      const agent = request.agent(app);
      expect((await agent.post('/count').expect(200)).body).toEqual({ n: 1 });
      expect((await agent.post('/count').expect(200)).body).toEqual({ n: 2 });
    });
  });

  describe('when Redis is down', () => {
    it('fails get/set/touch/destroy with a 503 ServiceUnavailableError carrying the cause', async () => {
      const port = await freePort();
      const { client: down } = createRedisClient(`redis://127.0.0.1:${port}`, recordingLogger());
      try {
        const store = createSessionStore({ client: down, prefix });
        for (const attempt of [
          () => get(store, 'x'),
          () => set(store, 'x', sessionData(60_000)),
          () => touch(store, 'x', sessionData(60_000)),
          () => destroy(store, 'x'),
        ]) {
          const err = await attempt().then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(ServiceUnavailableError);
          expect(err).toMatchObject({ status: 503, code: 'temporarily_unavailable' });
          expect((err as Error).cause).toBeDefined();
        }
      } finally {
        await closeRedisClient(down);
      }
    });

    it('answers 503, not 500, through express-session', async () => {
      const port = await freePort();
      const { client: down } = createRedisClient(`redis://127.0.0.1:${port}`, recordingLogger());
      try {
        const app = express();
        app.use(
          session({ store: createSessionStore({ client: down, prefix }), secret: 'x'.repeat(32), resave: false, saveUninitialized: false }),
        );
        app.get('/', (_req, res) => res.send('ok'));
        app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
          res.status(err.status ?? 500).end();
        });
        // A validly signed cookie (cookie-signature format), so express-session asks the store.
        const signature = createHmac('sha256', 'x'.repeat(32)).update('abc').digest('base64').replace(/=+$/, '');
        await request(app)
          .get('/')
          .set('Cookie', `connect.sid=${encodeURIComponent(`s:abc.${signature}`)}`)
          .expect(503);
      } finally {
        await closeRedisClient(down);
      }
    });
  });

  describe('options', () => {
    it('rejects a bad ttlSeconds or prefix with a TypeError naming the option', () => {
      expect(() => createSessionStore({ client, ttlSeconds: 0 })).toThrow(/Option "ttlSeconds" must be a number of seconds/);
      expect(() => createSessionStore({ client, ttlSeconds: Number.NaN })).toThrow(/Option "ttlSeconds"/);
      expect(() => createSessionStore({ client, prefix: 42 as unknown as string })).toThrow(/Option "prefix"/);
      expect(() => createSessionStore({ client: undefined as unknown as Redis })).toThrow(/Option "client"/);
    });
  });
});
