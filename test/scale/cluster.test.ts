/**
 * The Redis building blocks of the sign-in half on a real three-master Redis Cluster, through
 * ioredis' `Cluster` client: the session store (alone and behind express-session), the refresh
 * single-flight lock, the per-user session index and the replay guard. One cluster serves the
 * whole file; each test uses its own keys under one random prefix.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import session, { type SessionData, type Store } from 'express-session';
import request from 'supertest';
import type { Cluster } from 'ioredis';
import { InvalidGrantError, ServiceUnavailableError } from '../../src/errors/index.js';
import { RefreshCoordinator } from '../../src/redis/refresh-coordinator.js';
import { closeRedisClient, pingRedis, whenReady } from '../../src/redis/client.js';
import { useOnce } from '../../src/redis/replay.js';
import { createSessionStore } from '../../src/session/store.js';
import { SessionIndex } from '../../src/redis/session-index.js';
import { clusterClient, masterOf as masterOfKey, startRedisCluster, type TestCluster } from '../support/redis-cluster.js';
import { recordingLogger } from '../support/redis.js';
import { eventually } from '../support/eventually.js';

const prefix = `test:cluster:${randomBytes(6).toString('base64url')}:`;

let cluster: TestCluster;
/** Two clients stand for two processes of one app. */
let a: Cluster;
let b: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  a = clusterClient(cluster.nodes);
  b = clusterClient(cluster.nodes);
  await Promise.all([whenReady(a, 20_000), whenReady(b, 20_000)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a, b].filter(Boolean).map((c) => closeRedisClient(c)));
  await cluster?.stop();
});

let counter = 0;
function unique(name: string): string {
  counter += 1;
  return `${name}-${counter}-${randomBytes(4).toString('hex')}`;
}

async function slotOf(key: string): Promise<number> {
  return Number(await a.cluster('KEYSLOT', key));
}

/** The `host:port` of the master that serves a key's slot. */
function masterOf(key: string): Promise<string> {
  return masterOfKey(a, key);
}

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
const ids = (store: Store) => call<string[]>((cb) => (store as unknown as { ids(cb: unknown): void }).ids(cb));
const all = (store: Store) => call<(SessionData & { id: string })[]>((cb) => store.all!(cb as never));
const length = (store: Store) => call<number>((cb) => store.length!(cb));
const clear = (store: Store) => call<void>((cb) => store.clear!(cb));

function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

describe('Redis Cluster (three masters, ioredis Cluster client)', () => {
  it('is a real cluster: keys of one prefix spread over more than one master', async () => {
    expect(a.nodes('master')).toHaveLength(3);
    const owners = new Set(await Promise.all(Array.from({ length: 12 }, (_, i) => masterOf(`${prefix}spread:${i}`))));
    expect(owners.size).toBeGreaterThan(1);
    expect(await pingRedis(a)).toBe(true);
  });

  describe('session/store on a Cluster', () => {
    it('sets, gets, touches and destroys a record', async () => {
      const p = `${prefix}${unique('life')}:`;
      const store = createSessionStore({ client: a, prefix: p });
      const sid = 'lifecycle';
      await set(store, sid, sessionData(60_000, { oidc: { sealed: 'v1.abc' } }));

      expect(await a.exists(`${p}${sid}`)).toBe(1);
      expect(await get(store, sid)).toMatchObject({ oidc: { sealed: 'v1.abc' } });
      const ttlBefore = await a.ttl(`${p}${sid}`);
      expect(ttlBefore).toBeGreaterThan(0);
      expect(ttlBefore).toBeLessThanOrEqual(60);

      await touch(store, sid, sessionData(3_600_000));
      expect(await a.ttl(`${p}${sid}`)).toBeGreaterThan(60);

      // Another process (client) reads the same record.
      expect(await get(createSessionStore({ client: b, prefix: p }), sid)).toMatchObject({ oidc: { sealed: 'v1.abc' } });

      await destroy(store, sid);
      expect(await a.exists(`${p}${sid}`)).toBe(0);
      expect(await get(store, sid)).toBeNull();
    });

    it('uses ttlSeconds for a record whose cookie has no expiry', async () => {
      const p = `${prefix}${unique('ttl')}:`;
      const store = createSessionStore({ client: a, prefix: p, ttlSeconds: 120 });
      await set(store, 'no-expiry', sessionData());
      const ttl = await a.ttl(`${p}no-expiry`);
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    });

    it('lets a record expire with its cookie', async () => {
      const p = `${prefix}${unique('expiry')}:`;
      const store = createSessionStore({ client: a, prefix: p });
      await set(store, 'short', sessionData(1000, { n: 1 }));
      expect(await get(store, 'short')).toMatchObject({ n: 1 });
      await eventually(async () => (await get(store, 'short')) === null, { timeoutMs: 10_000, stepMs: 100 });
      expect(await a.exists(`${p}short`)).toBe(0);
    });

    it('lists, counts and clears records on every master, and nothing outside its prefix', async () => {
      const p = `${prefix}${unique('list')}:`;
      const store = createSessionStore({ client: a, prefix: p });
      const sids = Array.from({ length: 30 }, (_, i) => `s${i}`);
      for (const sid of sids) await set(store, sid, sessionData(60_000, { who: sid }));
      const bystander = `${prefix}${unique('other')}`;
      await a.set(bystander, 'kept', 'EX', 60);

      // The records really are on several masters, so one node's SCAN would miss some.
      const owners = new Set(await Promise.all(sids.map((sid) => masterOf(`${p}${sid}`))));
      expect(owners.size).toBe(3);

      expect((await ids(store))?.sort()).toEqual([...sids].sort());
      expect(await length(store)).toBe(30);
      const records = (await all(store)) ?? [];
      expect(records).toHaveLength(30);
      for (const record of records) expect(record).toMatchObject({ id: record.id, who: record.id });

      await clear(store);
      expect(await length(store)).toBe(0);
      expect(await ids(store)).toEqual([]);
      for (const sid of sids) expect(await a.exists(`${p}${sid}`)).toBe(0);
      expect(await a.get(bystander)).toBe('kept');
    });

    it('reads a corrupt record as no session, in get and in all', async () => {
      const p = `${prefix}${unique('corrupt')}:`;
      const logger = recordingLogger();
      const store = createSessionStore({ client: a, prefix: p, logger });
      await set(store, 'good', sessionData(60_000, { ok: true }));
      await a.set(`${p}bad`, '{not json', 'EX', 60);

      expect(await get(store, 'bad')).toBeNull();
      const records = (await all(store)) ?? [];
      expect(records.map((r) => r.id)).toEqual(['good']);
      expect(logger.lines.some((l) => l.level === 'warn' && /not valid JSON/.test(l.message))).toBe(true);
    });

    it('answers 503 (ServiceUnavailableError), not a raw error, when the Cluster client is closed', async () => {
      const closed = clusterClient(cluster.nodes);
      await whenReady(closed, 20_000);
      await closeRedisClient(closed);
      const store = createSessionStore({ client: closed, prefix: `${prefix}closed:` });
      await expect(get(store, 'x')).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(length(store)).rejects.toBeInstanceOf(ServiceUnavailableError);
    });
  });

  describe('express-session with the store on a Cluster client', () => {
    function app(client: Cluster, p: string) {
      const server = express();
      server.use(
        session({
          store: createSessionStore({ client, prefix: p }),
          secret: 'cluster-test-secret-0123456789abcdef',
          resave: false,
          saveUninitialized: false,
          cookie: { maxAge: 60_000 },
        }),
      );
      server.post('/count', (req, res) => {
        const data = req.session as unknown as { n?: number };
        data.n = (data.n ?? 0) + 1;
        res.json({ n: data.n });
      });
      server.get('/count', (req, res) => res.json({ n: (req.session as unknown as { n?: number }).n ?? null }));
      server.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.sendStatus(204))));
      return server;
    }

    it('keeps a session across requests and across two processes, and ends it', async () => {
      const p = `${prefix}${unique('express')}:`;
      const one = request.agent(app(a, p));
      expect((await one.post('/count').expect(200)).body).toEqual({ n: 1 });
      expect((await one.post('/count').expect(200)).body).toEqual({ n: 2 });
      const cookie = (await one.post('/count').expect(200)).headers['set-cookie'];
      expect(cookie).toBeDefined();

      const keys = await ids(createSessionStore({ client: a, prefix: p }));
      expect(keys).toHaveLength(1);
      expect(await a.ttl(`${p}${keys![0]}`)).toBeGreaterThan(0);

      // The same cookie on another process (another Cluster client) finds the same session.
      const other = request(app(b, p));
      expect(
        (
          await other
            .get('/count')
            .set('Cookie', cookie as unknown as string[])
            .expect(200)
        ).body,
      ).toEqual({ n: 3 });

      await one.post('/logout').expect(204);
      expect(await a.exists(`${p}${keys![0]}`)).toBe(0);
      expect(
        (
          await other
            .get('/count')
            .set('Cookie', cookie as unknown as string[])
            .expect(200)
        ).body,
      ).toEqual({ n: null });
    });
  });

  describe('redis/refresh-coordinator RefreshCoordinator on a Cluster', () => {
    it('calls work once for 20 concurrent runs on two Cluster clients; all get its result', async () => {
      const p = `${prefix}${unique('refresh')}:`;
      const onA = new RefreshCoordinator(a, { prefix: p });
      const onB = new RefreshCoordinator(b, { prefix: p });
      const sid = unique('sess');
      let calls = 0;
      const work = async () => {
        calls += 1;
        await eventually(async () => (await a.exists(onA.lockKey(sid))) === 1);
        await new Promise((resolve) => setTimeout(resolve, 100));
        return 'sealed-tokens';
      };
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? onA : onB).run(sid, 'gen-1', work)));
      expect(calls).toBe(1);
      expect(results).toEqual(Array(20).fill('sealed-tokens'));
      expect(await a.exists(onA.lockKey(sid))).toBe(0);
      expect(await b.get(onB.resultKey(sid, 'gen-1'))).toBe('rsealed-tokens');
    });

    it('fails every waiter with invalid_grant, and later callers too, without calling work again', async () => {
      const p = `${prefix}${unique('grant')}:`;
      const onA = new RefreshCoordinator(a, { prefix: p });
      const onB = new RefreshCoordinator(b, { prefix: p });
      const sid = unique('sess');
      let calls = 0;
      const work = async (): Promise<string> => {
        calls += 1;
        await new Promise((resolve) => setTimeout(resolve, 150));
        throw new InvalidGrantError('The refresh token was revoked.');
      };
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => settle((i % 2 === 0 ? onA : onB).run(sid, 'gen-1', work))));
      expect(calls).toBe(1);
      for (const outcome of outcomes) {
        expect(outcome.ok).toBe(false);
        if (!outcome.ok) {
          expect(outcome.error).toBeInstanceOf(InvalidGrantError);
          expect(outcome.error).toMatchObject({ code: 'invalid_grant', description: 'The refresh token was revoked.' });
        }
      }
      await expect(onB.run(sid, 'gen-1', work)).rejects.toBeInstanceOf(InvalidGrantError);
      expect(calls).toBe(1);
    });

    it('takes over from a holder that died: its lock expires and the next caller runs the refresh', async () => {
      const p = `${prefix}${unique('takeover')}:`;
      const dying = clusterClient(cluster.nodes);
      await whenReady(dying, 20_000);
      const holder = new RefreshCoordinator(dying, { prefix: p, lockTtlMs: 400 });
      const sid = unique('sess');
      let finishStuck!: (value: string) => void;
      const stuck = holder.run(sid, 'gen-1', () => new Promise<string>((resolve) => (finishStuck = resolve)));
      await eventually(async () => (await a.exists(holder.lockKey(sid))) === 1);

      // The holder's process dies: it can no longer extend (or release) its lock.
      dying.disconnect();

      const survivor = new RefreshCoordinator(a, { prefix: p, waitMs: 15_000 });
      let calls = 0;
      const value = await survivor.run(sid, 'gen-1', async () => {
        calls += 1;
        return 'fresh';
      });
      expect(value).toBe('fresh');
      expect(calls).toBe(1);
      expect(await new RefreshCoordinator(b, { prefix: p }).run(sid, 'gen-1', async () => 'never')).toBe('fresh');

      finishStuck('late');
      await expect(stuck).resolves.toBe('late');
      expect(await a.get(survivor.resultKey(sid, 'gen-1'))).toBe('rfresh');
    });
  });

  describe('Cluster hash tags: the keys one command or script touches share a slot', () => {
    const awkward = ['plain-id', 'a}b', '}leading', '{braced}', '{', '}', 'x{}y', '%7B', 'ünï', 'a'.repeat(512)];

    it("puts a session's lock and result keys in one slot, whatever the session id", async () => {
      const coordinator = new RefreshCoordinator(a, { prefix: `${prefix}tag:` });
      for (const sid of awkward) {
        const lock = await slotOf(coordinator.lockKey(sid));
        expect({ sid, slot: await slotOf(coordinator.resultKey(sid, 'gen')) }).toEqual({ sid, slot: lock });
      }
    });

    it('keeps distinct session ids on distinct lock keys', () => {
      const coordinator = new RefreshCoordinator(a, { prefix: `${prefix}tag:` });
      const keys = new Set(awkward.map((sid) => coordinator.lockKey(sid)));
      expect(keys.size).toBe(awkward.length);
    });

    it('spreads the locks of different sessions over the masters', async () => {
      const coordinator = new RefreshCoordinator(a, { prefix: `${prefix}tag:` });
      const owners = new Set(await Promise.all(Array.from({ length: 12 }, (_, i) => masterOf(coordinator.lockKey(`spread-${i}`)))));
      expect(owners.size).toBeGreaterThan(1);
    });

    it('runs the refresh on a Cluster for session ids with braces (no CROSSSLOT)', async () => {
      const coordinator = new RefreshCoordinator(a, { prefix: `${prefix}braces:` });
      const other = new RefreshCoordinator(b, { prefix: `${prefix}braces:` });
      for (const sid of ['}leading', 'x{}y', '{braced}']) {
        let calls = 0;
        const work = async () => {
          calls += 1;
          await new Promise((resolve) => setTimeout(resolve, 100));
          return `v-${sid}`;
        };
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? coordinator : other).run(sid, 'g', work)));
        expect({ sid, calls, results }).toEqual({ sid, calls: 1, results: Array(6).fill(`v-${sid}`) });
      }
    });

    it('refuses a prefix that would make an empty hash tag', () => {
      expect(() => new RefreshCoordinator(a, { prefix: 'app{}:' })).toThrow(TypeError);
      expect(() => new RefreshCoordinator(a, { prefix: 'app{}:' })).toThrow(/prefix/);
      expect(() => new RefreshCoordinator(a, { prefix: '{app}:' })).not.toThrow();
    });

    it('sends every multi-key command and every script with keys of a single slot', async () => {
      const seen: { command: string; keys: string[] }[] = [];
      const recording = new Proxy(a, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (property === 'eval') {
            return (script: string, numKeys: number, ...rest: (string | number)[]) => {
              seen.push({ command: 'eval', keys: rest.slice(0, numKeys).map(String) });
              return target.eval(script, numKeys, ...rest);
            };
          }
          if (property === 'mget' || property === 'del') {
            return (...keys: (string | string[])[]) => {
              seen.push({ command: String(property), keys: keys.flat() });
              return (target[property] as (...k: unknown[]) => Promise<unknown>)(...keys);
            };
          }
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      const p = `${prefix}${unique('record')}:`;
      const coordinator = new RefreshCoordinator(recording, { prefix: p, pollMs: 5 });
      const sid = unique('sess');
      await Promise.all(
        Array.from({ length: 4 }, () =>
          coordinator.run(sid, 'g', async () => {
            await new Promise((resolve) => setTimeout(resolve, 60));
            return 'v';
          }),
        ),
      );
      const index = new SessionIndex(recording, { prefix: p });
      await index.add({ sessionId: 's1', sub: 'user', sid: 'op-session', expiresAt: Date.now() + 60_000 });
      await index.listBySub('user');
      await index.remove({ sessionId: 's1', sub: 'user', sid: 'op-session' });
      const store = createSessionStore({ client: recording, prefix: p });
      await set(store, 's1', sessionData(60_000));
      await destroy(store, 's1');

      expect(seen.some((s) => s.command === 'mget')).toBe(true);
      expect(seen.some((s) => s.command === 'eval')).toBe(true);
      for (const { command, keys } of seen) {
        expect(keys.length).toBeGreaterThan(0);
        const slots = new Set(await Promise.all(keys.map(slotOf)));
        expect({ command, keys, slots: slots.size }).toEqual({ command, keys, slots: 1 });
      }
    });
  });

  describe('redis/session-index SessionIndex on a Cluster', () => {
    it('adds, lists and removes sessions by sub and by sid, across clients', async () => {
      const p = `${prefix}${unique('index')}:`;
      const onA = new SessionIndex(a, { prefix: p });
      const onB = new SessionIndex(b, { prefix: p });
      const later = Date.now() + 60_000;
      await onA.add({ sessionId: 's1', sub: 'alice', sid: 'op-1', expiresAt: later });
      await onB.add({ sessionId: 's2', sub: 'alice', sid: 'op-2', expiresAt: later + 1000 });
      await onA.add({ sessionId: 's3', sub: 'bob', expiresAt: later });

      expect(await onB.listBySub('alice')).toEqual(['s1', 's2']);
      expect(await onA.listBySid('op-2')).toEqual(['s2']);
      expect(await onA.listBySub('bob')).toEqual(['s3']);
      const pttl = await a.pttl(onA.subKey('alice'));
      expect(pttl).toBeGreaterThan(55_000);
      expect(pttl).toBeLessThanOrEqual(61_000 + 1000);

      await onB.remove({ sessionId: 's1', sub: 'alice', sid: 'op-1' });
      expect(await onA.listBySub('alice')).toEqual(['s2']);
      expect(await onA.listBySid('op-1')).toEqual([]);
      expect(await a.exists(onA.sidKey('op-1'))).toBe(0);
    });

    it('prunes expired sessions and lets the key expire with its last one', async () => {
      const p = `${prefix}${unique('prune')}:`;
      const index = new SessionIndex(a, { prefix: p });
      const now = Date.now();
      await index.add({ sessionId: 'short', sub: 'carol', expiresAt: now + 300 });
      await index.add({ sessionId: 'long', sub: 'carol', expiresAt: now + 60_000 });
      await index.add({ sessionId: 'only', sub: 'dave', expiresAt: now + 300 });
      await index.add({ sessionId: 'gone', sub: 'erin', expiresAt: now - 1 });

      expect(await index.listBySub('carol')).toEqual(['short', 'long']);
      expect(await index.listBySub('erin')).toEqual([]);
      await eventually(async () => (await index.listBySub('carol')).length === 1, { timeoutMs: 10_000, stepMs: 50 });
      expect(await index.listBySub('carol')).toEqual(['long']);
      await eventually(async () => (await a.exists(index.subKey('dave'))) === 0, { timeoutMs: 10_000, stepMs: 50 });
      expect(await index.listBySub('dave')).toEqual([]);
    });
  });

  describe('redis/replay useOnce on a Cluster', () => {
    it('accepts a value once across clients, refuses replays, and forgets it after ttlMs', async () => {
      const key = `${prefix}${unique('jti')}`;
      expect(await useOnce(a, key, 500)).toBe(true);
      expect(await useOnce(b, key, 500)).toBe(false);
      expect(await useOnce(a, key, 500)).toBe(false);
      await eventually(async () => (await a.exists(key)) === 0, { timeoutMs: 10_000, stepMs: 50 });
      expect(await useOnce(b, key, 60_000)).toBe(true);
    });

    it('lets exactly one of 20 concurrent uses through', async () => {
      const key = `${prefix}${unique('race')}`;
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => useOnce(i % 2 === 0 ? a : b, key, 60_000)));
      expect(answers.filter(Boolean)).toHaveLength(1);
    });
  });

  // Last: it leaves the cluster without one master (no replicas here, so no failover). The node is
  // stopped with SHUTDOWN NOSAVE NOW (it exits at once, dropping every connection, as a crash would):
  // after a SIGKILL, startRedisCluster's stop() would wait forever for the exit event (it checks
  // exitCode, which stays null for a process killed by a signal).
  describe('a master gone', () => {
    it('fails requests for its slots fast with 503 ServiceUnavailableError, neither hanging nor a raw error', async () => {
      const p = `${prefix}${unique('gone')}:`;
      const store = createSessionStore({ client: a, prefix: p });
      const coordinator = new RefreshCoordinator(a, { prefix: p });
      const index = new SessionIndex(a, { prefix: p });
      await set(store, 'victim', sessionData(60_000, { n: 1 }));
      const owner = await masterOf(`${p}victim`);
      // Keys of the other modules that live on the same master.
      const onOwner = async (key: (i: number) => string): Promise<number> => {
        for (let i = 0; i < 200; i += 1) if ((await masterOf(key(i))) === owner) return i;
        throw new Error('no key found on the master');
      };
      const lockSid = `victim-${await onOwner((i) => coordinator.lockKey(`victim-${i}`))}`;
      const sub = `user-${await onOwner((i) => index.subKey(`user-${i}`))}`;
      const jti = `${p}jti-${await onOwner((i) => `${p}jti-${i}`)}`;
      const others = a.nodes('master').filter((n) => `${n.options.host}:${n.options.port}` !== owner);
      expect(others).toHaveLength(2);
      const node = a.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner)!;
      await node.call('SHUTDOWN', 'NOSAVE', 'NOW', 'FORCE').catch(() => undefined);

      const started = Date.now();
      await expect(get(store, 'victim')).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(coordinator.run(lockSid, 'g', async () => 'never')).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(index.listBySub(sub)).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(useOnce(a, jti, 1000)).rejects.toBeInstanceOf(ServiceUnavailableError);
      // Bounded by the client's own timeouts and retries.
      expect(Date.now() - started).toBeLessThan(25_000);
    }, 40_000);
  });
});
