import { RedisStore } from 'connect-redis';
import type { SessionData, Store } from 'express-session';
import { Cluster, type Redis } from 'ioredis';
import { isPlainObject, optionError, optionalNumber, optionalString } from '../config/assert.js';
import { ServiceUnavailableError, sessionStoreUnavailable } from '../errors/index.js';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';
import { InvalidationFeed } from './invalidations.js';
import { TrackedRecordCache, type LocalCacheOptions } from './local-cache.js';
import { whenReady } from '../redis/client.js';
import { deepFreeze } from './seal.js';

/** Key prefix of session records when none is given. */
export const DEFAULT_SESSION_PREFIX = 'oidc:sess:';
/** Lifetime of a session record without a cookie expiry, in seconds (one day). */
export const DEFAULT_SESSION_TTL_SECONDS = 86_400;

export interface SessionStoreOptions {
  /** An ioredis client (single node or cluster), e.g. from `createRedisClient`. */
  client: Redis | Cluster;
  /** Prefix of the session keys. Default `'oidc:sess:'`. */
  prefix?: string;
  /**
   * Lifetime of a record in Redis when the session cookie has no expiry, in seconds. With a
   * cookie `maxAge`, the record lives as long as the cookie. Default 86400.
   */
  ttlSeconds?: number;
  /** Where a corrupt record is reported. */
  logger?: Logger;
  /**
   * Keep recently read records in process memory, kept correct by Redis (see
   * `TrackedRecordCache`): `true` or options to turn it on. Single Redis node only (ignored for a
   * Cluster). Default off.
   */
  localCache?: boolean | (LocalCacheOptions & { heartbeatMs?: number });
  /**
   * The invalidation feed the local cache listens to, when the caller runs one (it must watch this
   * store's prefix) and closes it; without, the store opens its own.
   */
  invalidations?: InvalidationFeed;
}

// connect-redis passes each method its own result type: the data parameter stays open here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Callback = (err?: unknown, data?: any) => unknown;

/** How long a store call waits for the client's connection in progress, in ms. */
const FIRST_CONNECT_WAIT_MS = 2000;

/** `store.get(sid, cb, SHARED_RECORD)`: the caller only reads the record (see `GuardedRedisStore.get`). */
export const SHARED_RECORD = Symbol('oidc-guard.shared-record');

/** The text each record was parsed from (see `rawRecordOf`). */
const rawRecords = new WeakMap<object, string>();

/**
 * The exact text a record of `createSessionStore()` was read from, or undefined for records of
 * other stores. The session middleware compares the session's JSON with it to see whether a
 * request changed anything, instead of serialising the record once more on the way in.
 */
export function rawRecordOf(record: object): string | undefined {
  return rawRecords.get(record);
}

/**
 * A write of a session that must already exist (see `requireExisting`) found no record: it was
 * destroyed (logout, back-channel logout, an admin) or expired while the request ran.
 */
export class SessionEndedError extends Error {
  override readonly name = 'SessionEndedError';
  readonly code = 'SESSION_ENDED';
  constructor() {
    super('the session ended while the request ran; it was not written back');
  }
}

const MUST_EXIST = Symbol.for('express-oidc-guard.session-must-exist');

/**
 * Marks a session object so that `createSessionStore()` writes it only over its existing record
 * (`SET ... XX`): a request that loaded a signed-in session cannot bring it back after a logout
 * elsewhere ended it mid-request. The write then fails with `SessionEndedError`. Other stores
 * ignore the mark.
 */
export function requireExisting(sess: object): void {
  Object.defineProperty(sess, MUST_EXIST, { value: true, configurable: true, enumerable: false });
}

function unavailable(err: unknown): unknown {
  if (err instanceof ServiceUnavailableError || err instanceof SessionEndedError) return err;
  return sessionStoreUnavailable(err);
}

/**
 * connect-redis, with two changes at the edges: a Redis failure reaches express-session (and so
 * `next(err)`) as a 503 `ServiceUnavailableError` rather than a raw ioredis error (a 500), and a
 * record that is not valid JSON, or not an object with a `cookie` object, reads as "no session"
 * instead of failing every request of that cookie. On an ioredis `Cluster`, listing (`all`, `ids`, `length`, `clear`) scans every master.
 */
class GuardedRedisStore extends RedisStore {
  /** The ioredis client as given (RedisStore keeps only its own wrapper of it). */
  private redis: Redis | Cluster | undefined;
  /** Records kept in memory, invalidated by Redis (`localCache`). */
  cache: TrackedRecordCache | undefined;
  /** The feed this store opened itself (closed with it). */
  ownFeed: InvalidationFeed | undefined;

  attach(client: Redis | Cluster, cache?: TrackedRecordCache, ownFeed?: InvalidationFeed): this {
    this.redis = client;
    this.cache = cache;
    this.ownFeed = ownFeed;
    return this;
  }

  private async guard(run: (cb: Callback) => Promise<unknown>, cb?: Callback): Promise<unknown> {
    let result: unknown;
    try {
      // The offline queue is off, so a command sent while the client is still making its first
      // connection fails at once: the first requests after start-up would get a 503. Wait for
      // that connection (bounded); a Redis that is down fails the connect quickly anyway.
      const status = this.redis?.status;
      if (this.redis && (status === 'connecting' || status === 'connect' || status === 'wait')) {
        await whenReady(this.redis, FIRST_CONNECT_WAIT_MS);
      }
      result = await new Promise((resolve, reject) => {
        run((err, data) => (err ? reject(err) : resolve(data))).catch(reject);
      });
    } catch (err) {
      const mapped = unavailable(err);
      if (cb) return cb(mapped);
      throw mapped;
    }
    return cb ? cb(null, result) : result;
  }

  /**
   * With `mode` `SHARED_RECORD` (the session middleware), a record from the local cache is the
   * cached object itself, parsed once and deeply frozen, shared by every request that reads it
   * (no `JSON.parse` per view): the middleware reads it as it is and builds `req.session` from a
   * copy. Every other caller gets a fresh object.
   */
  override get(sid: string, cb?: Callback, mode?: unknown): Promise<unknown> {
    if (cb && this.fastGet(sid, cb, mode === SHARED_RECORD)) return Promise.resolve();
    return this.guard((inner) => super.get(sid, inner), cb);
  }

  /**
   * The page-view path: one GET with a callback, no promise chain (connect-redis' own get is
   * three awaits deep), or no GET at all when the record is cached. False when it does not apply
   * (the client is not ready): the caller takes the guarded path. The record's text goes along (a
   * third argument other callers ignore): the session middleware compares the session with it at
   * the end of the request.
   */
  private fastGet(sid: string, cb: Callback, shared: boolean): boolean {
    const client = this.redis;
    if (client?.status !== 'ready') return false;
    const answer = cb as (err: null, data: unknown, text: string) => unknown;
    const key = this.prefix + sid;
    const cache = this.cache;
    const cached = cache?.hitEntry(key);
    if (cached !== undefined) {
      if (!shared) answer(null, this.readRecord(cached.text), cached.text);
      else answer(null, (cached.value ??= deepFreeze(this.readRecord(cached.text))), cached.text);
      return true;
    }
    const ticket = cache ? cache.begin(key) : -1;
    void client.get(key, (err, text) => {
      if (err || !text) {
        if (cache) cache.settle(key, ticket, null);
        if (err) cb(unavailable(err));
        else cb(null, null);
        return;
      }
      const record = this.readRecord(text);
      // A record that is not a session (null) is not kept: the next read logs it again.
      if (cache) cache.settle(key, ticket, record ? text : null, shared && record ? deepFreeze(record) : undefined);
      answer(null, record, text);
    });
    return true;
  }
  private readRecord(text: string): SessionData | null {
    return (this.serializer as unknown as { read: (text: string) => SessionData | null }).read(text);
  }
  override set(sid: string, sess: SessionData, cb?: Callback): Promise<unknown> {
    this.cache?.invalidate(this.prefix + sid);
    const client = this.redis;
    if (!client || (sess as unknown as Record<symbol, unknown>)[MUST_EXIST] !== true)
      return this.guard((inner) => super.set(sid, sess, inner), cb);
    return this.guard(async (inner) => {
      // connect-redis' own TTL rule (the cookie's expiry, else the store's ttl), with XX.
      const expires = sess.cookie?.expires;
      const ttl = expires
        ? Math.ceil((new Date(expires).getTime() - Date.now()) / 1000)
        : typeof this.ttl === 'number'
          ? this.ttl
          : this.ttl(sess);
      if (ttl <= 0) return super.destroy(sid, inner);
      try {
        const reply = await client.set(this.prefix + sid, this.serializer.stringify(sess), 'EX', ttl, 'XX');
        return reply === null ? inner(new SessionEndedError()) : inner(null, null);
      } catch (err) {
        return inner(err);
      }
    }, cb);
  }
  override touch(sid: string, sess: SessionData, cb?: Callback): Promise<unknown> {
    this.cache?.invalidate(this.prefix + sid);
    return this.guard((inner) => super.touch(sid, sess, inner), cb);
  }
  override destroy(sid: string, cb?: Callback): Promise<unknown> {
    this.cache?.invalidate(this.prefix + sid);
    return this.guard((inner) => super.destroy(sid, inner), cb);
  }
  override ids(cb?: Callback): Promise<unknown> {
    return this.guard((inner) => super.ids(inner), cb);
  }
  override length(cb?: Callback): Promise<unknown> {
    return this.guard((inner) => super.length(inner), cb);
  }
  override clear(cb?: Callback): Promise<unknown> {
    return this.guard((inner) => super.clear(inner), cb);
  }
  /** Every session with its `id`; a record that is not valid JSON is left out (connect-redis would fail on it). */
  override all(cb?: Callback): Promise<unknown> {
    return this.guard(async (inner) => {
      try {
        const ids = (await super.ids()) as string[];
        const raw = ids.length > 0 ? await this.client.mget(ids.map((id) => this.prefix + id)) : [];
        const sessions: (SessionData & { id: string })[] = [];
        for (const [i, text] of raw.entries()) {
          if (!text) continue; // expired or destroyed since the scan
          const sess = (await this.serializer.parse(text)) as SessionData | null;
          if (typeof sess === 'object' && sess !== null) sessions.push(Object.assign(sess, { id: ids[i]! }));
        }
        return inner(null, sessions);
      } catch (err) {
        return inner(err);
      }
    }, cb);
  }
}

/** Stops what a store of `createSessionStore()` runs beside Redis (its local cache's connection); other stores: nothing. */
export async function closeSessionStore(store: Store): Promise<void> {
  if (store instanceof GuardedRedisStore) await store.ownFeed?.close();
}

/**
 * True for a store of `createSessionStore()`: it writes a session marked by `requireExisting`
 * only over its existing record, so a logout cannot be undone through it by our session middleware.
 */
export function writesOnlyOverExisting(store: Store): boolean {
  return store instanceof GuardedRedisStore;
}

/** The local record cache of a store of `createSessionStore()`, if it has one. */
export function localCacheOf(store: Store): TrackedRecordCache | undefined {
  return store instanceof GuardedRedisStore ? store.cache : undefined;
}

export function isCluster(client: Redis | Cluster): client is Cluster {
  return client instanceof Cluster || (client as { isCluster?: unknown }).isCluster === true;
}

/**
 * SCAN on every master of the cluster, each key once (SCAN may repeat a key). Fails rather than
 * answer a partial list when the client has not (yet) got the cluster's masters.
 */
function clusterScan(cluster: Cluster, match: string, count: number): AsyncIterable<string> {
  return (async function* () {
    const masters = cluster.nodes('master');
    if (cluster.status !== 'ready' || masters.length === 0) throw new Error(`redis cluster client is not ready (${cluster.status})`);
    const seen = new Set<string>();
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
        cursor = next;
        for (const key of keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          yield key;
        }
      } while (cursor !== '0');
    }
  })();
}

/**
 * The session store: express-session records in Redis through connect-redis 8.1 on ioredis.
 * Records expire with the session cookie (or after `ttlSeconds`), and `touch` extends them.
 * The store holds what the login half puts in the session; tokens in it are sealed by the caller
 * (see `createSealer`), this store does not encrypt.
 *
 * @example
 * const { client } = createRedisClient('redis://127.0.0.1:6379');
 * app.use(session({ store: createSessionStore({ client }), secret, resave: false, saveUninitialized: false }));
 */
export function createSessionStore(options: SessionStoreOptions): Store {
  if (typeof options !== 'object' || options === null) throw optionError('session', 'an object');
  const { client } = options;
  if (typeof client !== 'object' || client === null || typeof (client as Redis).get !== 'function') {
    throw optionError('client', 'an ioredis client (Redis or Cluster)');
  }
  const prefix = options.prefix === '' ? '' : (optionalString('prefix', options.prefix) ?? DEFAULT_SESSION_PREFIX);
  const ttl = optionalNumber('ttlSeconds', options.ttlSeconds, 1, 10 * 365 * 86_400, 'seconds') ?? DEFAULT_SESSION_TTL_SECONDS;
  const logger = options.logger ?? defaultLogger;

  /** A record from its text, or null (logged) when it is not a session record. */
  const read = (text: string): SessionData | null => {
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      logger.warn('session record is not valid JSON; treating it as no session', describeCause(err));
      return null;
    }
    // express-session inflates `cookie` and fails the request (a 503 on every visit with that
    // cookie) when a record is not an object with a cookie object: read those as no session too.
    if (!isPlainObject(record) || !isPlainObject(record.cookie)) {
      logger.warn('session record is not a session object; treating it as no session');
      return null;
    }
    return record as unknown as SessionData;
  };
  const serializer = {
    read,
    parse(text: string): SessionData {
      const record = read(text);
      if (record) rawRecords.set(record, text);
      return record as unknown as SessionData;
    },
    stringify: (sess: SessionData): string => JSON.stringify(sess),
  };

  const localCache = options.localCache ?? false;
  let cache: TrackedRecordCache | undefined;
  let ownFeed: InvalidationFeed | undefined;
  if (localCache !== false) {
    const { heartbeatMs, ...bounds } = localCache === true ? {} : localCache;
    const feed = options.invalidations ?? (ownFeed = new InvalidationFeed(client, [prefix], heartbeatMs, logger));
    cache = new TrackedRecordCache(feed, bounds);
  }
  const store = new GuardedRedisStore({ client, prefix, ttl: Math.ceil(ttl), serializer }).attach(client, cache, ownFeed);
  if (isCluster(client)) {
    // connect-redis does not recognise an ioredis Cluster: it would SCAN one random node and send
    // multi-key DEL/MGET across slots. Per-key commands are enough for get/set/touch/destroy.
    store.client.scanIterator = (match, count) => clusterScan(client, match, count);
    store.client.del = async (keys) => (await Promise.all(keys.map((k) => client.del(k)))).reduce((a, b) => a + b, 0);
    store.client.mget = (keys) => Promise.all(keys.map((k) => client.get(k)));
  }
  return store;
}
