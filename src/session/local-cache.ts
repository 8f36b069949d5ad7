import type { Redis } from 'ioredis';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';

/** Defaults of the per-process session record cache (`auth()` passes `session.localCache`'s own). */
export const LOCAL_CACHE_DEFAULTS = {
  maxEntries: 5000,
  maxAgeSeconds: 30,
  /** Time between two liveness checks of the invalidation connection, in ms. */
  heartbeatMs: 500,
} as const;

export interface LocalCacheOptions {
  /** Most records kept. Default 5000. */
  maxEntries?: number;
  /** Longest time a record is served from memory, in seconds. Default 30. */
  maxAgeSeconds?: number;
  /** Time between two liveness checks of the invalidation connection, in ms. Default 500. */
  heartbeatMs?: number;
}

/** The channel Redis publishes invalidations on for a RESP2 connection that redirects to itself. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * A per-process cache of session records that Redis itself keeps correct: Redis server-assisted
 * client-side caching (`CLIENT TRACKING ... BCAST PREFIX <session prefix>`, Redis 6+). Redis
 * sends this process a message naming every key under the prefix that any client changes, deletes,
 * renews or that expires; the cache drops that key. A signed-in page view whose record is cached
 * costs no Redis round trip at all.
 *
 * Why this is safe:
 * - A record is served from memory only while the invalidation connection is subscribed and
 *   answered its last heartbeat `PING` (every `heartbeatMs`): a Redis that closes the connection
 *   or stops answering turns the cache off and empties it, so requests go to Redis (and fail fast
 *   when it is down) until the connection is back and answering again.
 * - A read whose key was invalidated while the read was in flight is not cached (the value may
 *   predate the change); neither is any read in flight when the cache was emptied.
 * - This process's own writes drop the key before they are sent.
 * - A record is never served after `maxAgeSeconds`, whatever happens.
 * What it does not do: another process's change is seen here when Redis's invalidation message
 * arrives (Redis sends it before answering the write; on a LAN well under a millisecond later),
 * not at the instant of the write. A request that starts in that gap sees the previous record, as
 * it would had it read Redis a moment earlier.
 *
 * Only for a single Redis node (not a Cluster). A Redis that refuses `CLIENT TRACKING` (before 6.0,
 * or an ACL without it) turns the cache off for good, logged once.
 */
export class TrackedRecordCache {
  private readonly entries = new Map<string, { text: string; at: number }>();
  /** Reads in flight per key, and the keys invalidated while a read of them was in flight. */
  private readonly pending = new Map<string, number>();
  private readonly dirty = new Set<string>();
  /** Changes whenever the cache is emptied: a read begun before cannot fill it. */
  private epoch = 0;
  /** Serving from memory: subscribed, tracking on, last heartbeat answered. */
  private live = false;
  private subscribed = false;
  private awaitingPong = false;
  private sub: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Closed, or Redis refused tracking: the cache stays off. */
  private off = false;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;
  private readonly heartbeatMs: number;
  /** The client's ioredis `keyPrefix`: Redis's key names start with it, this cache's do not. */
  private readonly keyPrefix: string;

  constructor(
    private readonly client: Redis,
    private readonly prefix: string,
    options: LocalCacheOptions = {},
    private readonly logger: Logger = defaultLogger,
  ) {
    this.maxEntries = options.maxEntries ?? LOCAL_CACHE_DEFAULTS.maxEntries;
    this.maxAgeMs = (options.maxAgeSeconds ?? LOCAL_CACHE_DEFAULTS.maxAgeSeconds) * 1000;
    this.heartbeatMs = options.heartbeatMs ?? LOCAL_CACHE_DEFAULTS.heartbeatMs;
    this.keyPrefix = client.options.keyPrefix ?? '';
  }

  /** True while records are served from memory (for tests and health pages). */
  get serving(): boolean {
    return this.live;
  }

  /** Records held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The cached text of `key`, when the cache is live and holds it fresh. Starts the cache on first use. */
  hit(key: string): string | undefined {
    if (!this.live) {
      if (this.sub === undefined && !this.off) this.start();
      return undefined;
    }
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.text;
  }

  /** A read of `key` is sent to Redis: returns the ticket to hand to `settle` with its answer. */
  begin(key: string): number {
    if (!this.live) return -1;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    return this.epoch;
  }

  /** The answer of a read begun with `ticket`: cached unless anything happened to the key meanwhile. */
  settle(key: string, ticket: number, text: string | null | undefined): void {
    if (ticket < 0) return;
    const invalidated = this.dirty.has(key);
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left <= 0) {
      this.pending.delete(key);
      this.dirty.delete(key);
    } else {
      this.pending.set(key, left);
    }
    if (invalidated || ticket !== this.epoch || !this.live || typeof text !== 'string') return;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      // Oldest insert first: no reordering per hit (a Map delete + re-insert per view costs more
      // than the occasional extra read of an evicted hot record).
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { text, at: Date.now() });
  }

  /** `key` changed (Redis said so, or this process is about to write it). */
  invalidate(key: string): void {
    this.entries.delete(key);
    if (this.pending.has(key)) this.dirty.add(key);
  }

  /** Stops serving from memory and forgets everything, including reads in flight. */
  private pause(): void {
    this.live = false;
    this.entries.clear();
    this.dirty.clear();
    this.epoch++;
  }

  private resume(): void {
    if (this.off || !this.subscribed || this.awaitingPong) return;
    this.epoch++;
    this.live = true;
  }

  private start(): void {
    const name = this.client.options.connectionName;
    const sub = this.client.duplicate({
      autoResubscribe: false,
      ...(name ? { connectionName: `${name}:invalidations` } : {}),
    });
    this.sub = sub;
    // The subscription alone must not keep a process alive whose app closed everything else.
    sub.on('connect', () => (sub as unknown as { stream?: { unref?: () => void } }).stream?.unref?.());
    // Errors are the client's own to log (it reconnects); here they only turn the cache off.
    sub.on('error', () => undefined);
    sub.on('close', () => this.disconnected());
    sub.on('ready', () => void this.track(sub));
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      if (message === null) {
        // FLUSHDB / FLUSHALL: everything may have changed.
        const wasLive = this.live;
        this.pause();
        if (wasLive) this.resume();
        return;
      }
      const keys = Array.isArray(message) ? message : [message];
      const strip = this.keyPrefix.length;
      for (const key of keys) this.invalidate((Buffer.isBuffer(key) ? key.toString() : String(key)).slice(strip));
    });
    this.client.once('end', () => void this.close());
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
    if (sub.status === 'wait') sub.connect().catch(() => undefined);
  }

  private disconnected(): void {
    this.subscribed = false;
    this.awaitingPong = false;
    this.pause();
  }

  /** Turns tracking on for this connection, redirected to itself, and subscribes to the invalidations. */
  private async track(sub: Redis): Promise<void> {
    try {
      const id = await sub.client('ID');
      // A client `keyPrefix` is part of the key names Redis sees (and names in its messages).
      const watched = this.keyPrefix + this.prefix;
      await sub.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...(watched ? ['PREFIX', watched] : []));
      await sub.subscribe(INVALIDATE_CHANNEL);
    } catch (err) {
      if (sub.status !== 'ready') return; // the connection went: 'ready' comes again
      // Redis answered, and refused: no tracking on this server (before 6.0, or not permitted).
      this.logger.info('session records are not cached in memory: Redis refused CLIENT TRACKING', describeCause(err));
      await this.close();
      return;
    }
    if (this.off) return;
    this.subscribed = true;
    this.awaitingPong = false;
    this.resume();
  }

  /** Liveness: a connection that did not answer the last PING may be holding invalidations back. */
  private beat(): void {
    const sub = this.sub;
    if (!sub || !this.subscribed) return;
    if (this.awaitingPong) {
      if (this.live) {
        this.logger.warn('session record cache off: Redis did not answer the invalidation connection in time');
        this.pause();
      }
      return;
    }
    this.awaitingPong = true;
    sub.ping().then(
      () => {
        this.awaitingPong = false;
        if (!this.live) this.resume();
      },
      () => {
        this.awaitingPong = false;
        this.pause();
      },
    );
  }

  /** Stops the cache and closes its connection. */
  async close(): Promise<void> {
    this.off = true;
    this.pause();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const sub = this.sub;
    if (sub && sub.status !== 'end') sub.disconnect();
  }
}
