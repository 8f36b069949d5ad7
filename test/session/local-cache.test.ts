/**
 * The per-process session record cache (Redis server-assisted client-side caching, BCAST mode)
 * against real Redis servers: the shared one for reads, invalidations and bounds, and servers of
 * its own for what cannot be done to a shared one (pause, FLUSHDB, an ACL without CLIENT).
 */
import type { SessionData, Store } from 'express-session';
import { Redis } from 'ioredis';
import { ServiceUnavailableError } from '../../src/errors/index.js';
import { InvalidationFeed } from '../../src/session/invalidations.js';
import type { LocalCacheOptions, TrackedRecordCache } from '../../src/session/local-cache.js';
import { closeRedisClient } from '../../src/redis/client.js';
import { closeSessionStore, createSessionStore, localCacheOf } from '../../src/session/store.js';
import { RedisRelay, startRedisServer } from '../reliability/helpers.js';
import { cleanup, connect, recordingLogger, testPrefix, type RecordingLogger } from '../support/redis.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';
import { monitorPrefix } from './session-harness.js';

const prefix = testPrefix('local-cache');
let client: Redis;
let other: Redis;
const stores: Store[] = [];

beforeAll(async () => {
  client = await connect();
  other = await connect();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => closeSessionStore(store)));
});

afterAll(async () => {
  await cleanup(prefix, client, other);
});

function storeOn(
  redis: Redis,
  options: LocalCacheOptions = {},
  logger: RecordingLogger = recordingLogger(),
  keyPrefix = prefix,
): { store: Store; cache: TrackedRecordCache } {
  // A fast heartbeat keeps the "stops answering" case short.
  const store = createSessionStore({ client: redis, prefix: keyPrefix, logger, localCache: { heartbeatMs: 100, ...options } });
  stores.push(store);
  return { store, cache: localCacheOf(store)! };
}

function record(n: number): string {
  return JSON.stringify({ cookie: { originalMaxAge: 60_000, httpOnly: true, path: '/' }, n });
}

/** Runs `body` against a redis-server of its own (one this test may pause or flush), with a client of this package's defaults. */
async function withOwnRedis(
  body: (own: Redis, server: Awaited<ReturnType<typeof startRedisServer>>, port: number) => Promise<void>,
): Promise<void> {
  const port = await freePort();
  const server = await startRedisServer(port);
  let own: Redis | undefined;
  try {
    own = await connect(recordingLogger(), `redis://127.0.0.1:${port}`);
    await body(own, server, port);
  } finally {
    server.resume();
    if (own) await closeRedisClient(own);
    await server.stop();
  }
}

/** The feed's one tracking connection to the single node (its state, for the heartbeat tests). */
function connectionOf(feed: InvalidationFeed): { sub: Redis; awaitingPong: boolean; pings: number } {
  return (feed as unknown as { connections: Map<string, { sub: Redis; awaitingPong: boolean; pings: number }> }).connections.get('')!;
}

/** store.get as a promise: the record's `n`, or null for no record. */
function read(store: Store, sid: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ? (sess as SessionData & { n: number }).n : null)));
  });
}

/**
 * Reads until the cache serves (it starts on the first read and goes live once subscribed); a
 * read may fail while the client itself reconnects.
 */
async function live(store: Store, cache: TrackedRecordCache, sid = 'warm-up'): Promise<void> {
  await eventually(async () => {
    const answered = await read(store, sid).then(
      () => true,
      () => false,
    );
    return answered && cache.serving;
  }, 5000);
}

describe('serving from memory', () => {
  it('serves a record read once without sending GET again', async () => {
    await other.set(`${prefix}a`, record(1));
    const { store, cache } = storeOn(client);
    await live(store, cache);
    const monitor = await monitorPrefix(other, prefix);
    try {
      expect(await read(store, 'a')).toBe(1); // read from Redis, then kept
      for (let i = 0; i < 5; i++) expect(await read(store, 'a')).toBe(1);
      await monitor.settle();
      expect(monitor.commands.filter(([name, key]) => name === 'get' && key === `${prefix}a`)).toHaveLength(1);
    } finally {
      await monitor.stop();
    }
  });

  it('hands each caller its own record object (a request may change its session)', async () => {
    await other.set(`${prefix}own`, record(1));
    const { store, cache } = storeOn(client);
    await live(store, cache, 'own');
    const get = () => new Promise<SessionData>((resolve, reject) => store.get('own', (err, sess) => (err ? reject(err) : resolve(sess!))));
    const first = await get();
    (first as unknown as { n: number }).n = 99;
    expect(((await get()) as unknown as { n: number }).n).toBe(1);
  });

  it('keeps at most maxEntries records', async () => {
    const { store, cache } = storeOn(client, { maxEntries: 3 });
    await live(store, cache);
    for (let i = 0; i < 6; i++) {
      await other.set(`${prefix}bound-${i}`, record(i));
      expect(await read(store, `bound-${i}`)).toBe(i);
    }
    expect(cache.size).toBe(3);
    expect(await read(store, 'bound-0')).toBe(0); // evicted: read from Redis again
  });

  it('reads Redis again once a record is older than maxAgeSeconds', async () => {
    await other.set(`${prefix}aged`, record(1));
    const { store, cache } = storeOn(client, { maxAgeSeconds: 0.3 });
    await live(store, cache, 'aged');
    const monitor = await monitorPrefix(other, prefix);
    try {
      await eventually(async () => {
        expect(await read(store, 'aged')).toBe(1);
        await monitor.settle();
        return monitor.commands.filter(([name, key]) => name === 'get' && key === `${prefix}aged`).length >= 2;
      }, 5000);
    } finally {
      await monitor.stop();
    }
  });
});

describe('invalidation', () => {
  it.each([
    ['SET by another client', (key: string) => other.set(key, record(2)), 2],
    ['DEL by another client', (key: string) => other.del(key), null],
    ['expiry of the key', (key: string) => other.pexpire(key, 50), null],
  ] as const)('drops a cached record on %s', async (_what, change, expected) => {
    const sid = `inv-${expected}-${Math.random().toString(36).slice(2)}`;
    await other.set(`${prefix}${sid}`, record(1));
    const { store, cache } = storeOn(client);
    await live(store, cache, sid);
    expect(await read(store, sid)).toBe(1);
    await change(`${prefix}${sid}`);
    // Well inside maxAgeSeconds (30 s): only Redis's invalidation can make this pass. (10 s: an
    // expiry is only noticed when Redis's active expiry samples the key, which took over 3 s in a
    // database holding 300,000 other keys with a TTL.)
    await eventually(async () => (await read(store, sid)) === expected, 10_000);
    expect(cache.serving).toBe(true);
  });

  it('follows a client keyPrefix (Redis names the keys with it)', async () => {
    const prefixed = await connect(recordingLogger(), { host: '127.0.0.1', port: 6379, keyPrefix: `${prefix}kp:` });
    try {
      await other.set(`${prefix}kp:${prefix}withkp`, record(1));
      const { store, cache } = storeOn(prefixed);
      await live(store, cache, 'withkp');
      expect(await read(store, 'withkp')).toBe(1);
      await other.set(`${prefix}kp:${prefix}withkp`, record(2));
      await eventually(async () => (await read(store, 'withkp')) === 2, 3000);
    } finally {
      await closeRedisClient(prefixed);
    }
  });

  it('sees its own writes at once', async () => {
    await other.set(`${prefix}mine`, record(1));
    const { store, cache } = storeOn(client);
    await live(store, cache, 'mine');
    expect(await read(store, 'mine')).toBe(1);
    const sess = JSON.parse(record(2)) as SessionData;
    await new Promise<void>((resolve, reject) => store.set('mine', sess, (err) => (err ? reject(err) : resolve())));
    expect(await read(store, 'mine')).toBe(2);
    await new Promise<void>((resolve, reject) => store.destroy('mine', (err) => (err ? reject(err) : resolve())));
    expect(await read(store, 'mine')).toBeNull();
  });

  it('does not keep an answer whose key was invalidated while it was in flight', async () => {
    const { store, cache } = storeOn(client);
    await live(store, cache);
    const key = `${prefix}race`;
    const stale = cache.begin(key);
    cache.invalidate(key); // Redis's message overtook the answer
    cache.settle(key, stale, record(1));
    expect(cache.hit(key)).toBeUndefined();
    // Two reads in flight across an invalidation: neither is kept.
    const a = cache.begin(key);
    const b = cache.begin(key);
    cache.invalidate(key);
    cache.settle(key, a, record(1));
    cache.settle(key, b, record(1));
    expect(cache.hit(key)).toBeUndefined();
    // With nothing in between, the answer is kept.
    const clean = cache.begin(key);
    cache.settle(key, clean, record(3));
    expect(cache.hit(key)).toBe(record(3));
  });
});

describe('when the invalidation connection is in doubt', () => {
  it('turns off and empties on a lost connection, and comes back with fresh records', async () => {
    const relay = new RedisRelay();
    await relay.open();
    const viaRelay = await connect(recordingLogger(), relay.url);
    try {
      await other.set(`${prefix}cut`, record(1));
      const { store, cache } = storeOn(viaRelay);
      await live(store, cache, 'cut');
      expect(await read(store, 'cut')).toBe(1);
      expect(cache.size).toBeGreaterThan(0);
      await relay.cut();
      await eventually(() => !cache.serving, 3000);
      expect(cache.size).toBe(0);
      // Changed while this process could not hear about it.
      await other.set(`${prefix}cut`, record(2));
      await relay.open();
      await live(store, cache, 'cut');
      expect(await read(store, 'cut')).toBe(2);
    } finally {
      await relay.cut();
      await closeRedisClient(viaRelay);
    }
  });

  it('turns off within heartbeats when Redis stops answering, so reads fail fast instead of serving', async () => {
    await withOwnRedis(async (own, server) => {
      await own.set(`${prefix}stall`, record(1));
      const logger = recordingLogger();
      const { store, cache } = storeOn(own, {}, logger);
      await live(store, cache, 'stall');
      expect(await read(store, 'stall')).toBe(1);
      server.pause();
      await eventually(() => !cache.serving, 3000);
      expect(logger.lines.some((line) => line.level === 'warn' && /did not answer/.test(line.message))).toBe(true);
      // The record is no longer served from memory: the read goes to the stalled Redis and fails (503).
      await expect(read(store, 'stall')).rejects.toBeInstanceOf(ServiceUnavailableError);
      server.resume();
      await live(store, cache, 'stall');
      expect(await read(store, 'stall')).toBe(1);
    });
  }, 20_000);

  it('empties on FLUSHDB', async () => {
    await withOwnRedis(async (own) => {
      await own.set(`${prefix}flush`, record(1));
      const { store, cache } = storeOn(own);
      await live(store, cache, 'flush');
      expect(await read(store, 'flush')).toBe(1);
      await own.flushdb();
      await eventually(async () => (await read(store, 'flush')) === null, 3000);
    });
  });

  it('stays off, logged once, where Redis refuses CLIENT TRACKING; the store works as before', async () => {
    await withOwnRedis(async (admin, _server, port) => {
      await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-password', '~*', '&*', '+@all', '-client');
      const limited = new Redis({ port, host: '127.0.0.1', username: 'app', password: 'app-password' });
      try {
        await limited.set(`${prefix}acl`, record(1));
        const logger = recordingLogger();
        const { store, cache } = storeOn(limited, {}, logger);
        expect(await read(store, 'acl')).toBe(1);
        await eventually(() => logger.lines.some((line) => /refused CLIENT TRACKING/.test(line.message)), 3000);
        for (let i = 0; i < 3; i++) expect(await read(store, 'acl')).toBe(1);
        expect(cache.serving).toBe(false);
        expect(cache.size).toBe(0);
        expect(logger.lines.filter((line) => /CLIENT TRACKING/.test(line.message))).toHaveLength(1);
        // The log line names the error, never the credentials.
        expect(JSON.stringify(logger.lines)).not.toContain('app-password');
      } finally {
        limited.disconnect();
      }
    });
  });

  it('does not take a busy process for a silent Redis (the answer waits in the socket while the loop is blocked)', async () => {
    const logger = recordingLogger();
    const feed = new InvalidationFeed(client, [prefix], 50, logger);
    let pauses = 0;
    feed.listen((key) => {
      if (key === null) pauses++;
    });
    try {
      feed.start();
      await eventually(() => feed.live, 5000);
      // Block the loop just after a heartbeat PING went out: its answer arrives meanwhile and
      // waits in the socket, and the next timer finds the PING unanswered.
      await eventually(() => connectionOf(feed).awaitingPong, { timeoutMs: 5000, stepMs: 1 });
      const until = Date.now() + 300;
      while (Date.now() < until) {
        // busy: no I/O is read
      }
      const sent = connectionOf(feed).pings;
      await eventually(() => connectionOf(feed).pings >= sent + 3, 5000);
      expect(pauses).toBe(0);
      expect(feed.live).toBe(true);
      expect(logger.lines.filter((line) => line.level === 'warn')).toEqual([]);
    } finally {
      await feed.close();
    }
  });

  it('closes its connection when the app closes the client it was given', async () => {
    const own = await connect();
    const { store, cache } = storeOn(own);
    await live(store, cache);
    const sub = connectionOf((cache as unknown as { feed: InvalidationFeed }).feed).sub;
    expect(sub.status).toBe('ready');
    await closeRedisClient(own);
    await eventually(() => sub.status === 'end', 3000);
    expect(cache.serving).toBe(false);
  });
});

describe('configuration', () => {
  // On a Cluster client it is on too (one tracking connection per master): test/cluster/local-cache.test.ts.
  it('is off unless asked for', () => {
    const plain = createSessionStore({ client, prefix });
    expect(localCacheOf(plain)).toBeUndefined();
  });
});
