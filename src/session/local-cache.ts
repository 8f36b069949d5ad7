import { LOGIN_DEFAULTS } from '../config/defaults.js';
import type { InvalidationFeed } from './invalidations.js';

export interface LocalCacheOptions {
  /** Most records kept. Default 5000. */
  maxEntries?: number;
  /** Longest time a record is served from memory, in seconds. Default 30. */
  maxAgeSeconds?: number;
}

/**
 * A per-process cache of session records that Redis itself keeps correct (see
 * `InvalidationFeed`: Redis names every key under the session prefix that any client changes,
 * deletes, renews, or that expires; the cache drops it). A signed-in page view whose record is
 * cached costs no Redis round trip at all.
 *
 * Why this is safe:
 * - A record is served from memory only while the feed is live (subscribed, and it answered its
 *   last heartbeat): a Redis that closes the connection or stops answering turns the cache off and
 *   empties it, so requests go to Redis (and fail fast when it is down) until it is back.
 * - A read whose key was invalidated while the read was in flight is not cached (the value may
 *   predate the change); neither is any read in flight when the cache was emptied.
 * - This process's own writes drop the key before they are sent.
 * - A record is never served after `maxAgeSeconds`, whatever happens.
 * What it does not do: another process's change is seen here when Redis's invalidation message
 * arrives (Redis queues it before the answer to the write; on a LAN well under a millisecond
 * later), not at the instant of the write. A request that starts in that gap sees the previous
 * record, as it would had it read Redis a moment earlier.
 */
/** A cached record: its text, what it parsed to (when the caller parsed it), and when it was read. */
export interface CachedRecord {
  text: string;
  /** The parsed record, deeply frozen (shared by every request that reads it), or undefined. */
  value: unknown;
  at: number;
}

export class TrackedRecordCache {
  private readonly entries = new Map<string, CachedRecord>();
  /** Reads in flight per key, and the keys invalidated while a read of them was in flight. */
  private readonly pending = new Map<string, number>();
  private readonly dirty = new Set<string>();
  /** Changes whenever the cache is emptied: a read begun before cannot fill it. */
  private epoch = 0;
  private readonly maxEntries: number;
  private readonly maxAgeMs: number;

  constructor(
    private readonly feed: InvalidationFeed,
    options: LocalCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? LOGIN_DEFAULTS.localCacheMaxEntries;
    this.maxAgeMs = (options.maxAgeSeconds ?? LOGIN_DEFAULTS.localCacheMaxAgeSeconds) * 1000;
    feed.listen((key) => {
      if (key === null) this.reset();
      else this.invalidate(key);
    });
  }

  /** True while records are served from memory. */
  get serving(): boolean {
    return this.feed.live;
  }

  /** Records held now. */
  get size(): number {
    return this.entries.size;
  }

  /** The cached text of `key`, when the cache is live and holds it fresh. Starts the feed on first use. */
  hit(key: string): string | undefined {
    return this.hitEntry(key)?.text;
  }

  /** The cached record of `key` (text and parsed value), when the cache is live and holds it fresh. Starts the feed on first use. */
  hitEntry(key: string): CachedRecord | undefined {
    if (!this.feed.live) {
      this.feed.start();
      return undefined;
    }
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() - entry.at > this.maxAgeMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** A read of `key` is sent to Redis: returns the ticket to hand to `settle` with its answer. */
  begin(key: string): number {
    if (!this.feed.live) return -1;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    return this.epoch;
  }

  /**
   * The answer of a read begun with `ticket`: cached unless anything happened to the key meanwhile.
   * `value` is what the text parsed to, frozen (kept with it, so a hit needs no parse).
   */
  settle(key: string, ticket: number, text: string | null | undefined, value?: unknown): void {
    if (ticket < 0) return;
    const invalidated = this.dirty.has(key);
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left <= 0) {
      this.pending.delete(key);
      this.dirty.delete(key);
    } else {
      this.pending.set(key, left);
    }
    if (invalidated || ticket !== this.epoch || !this.feed.live || typeof text !== 'string') return;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) {
      // Oldest insert first: no reordering per hit (a Map delete + re-insert per view costs more
      // than the occasional extra read of an evicted hot record).
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { text, value, at: Date.now() });
  }

  /** `key` changed (Redis said so, or this process is about to write it). */
  invalidate(key: string): void {
    this.entries.delete(key);
    if (this.pending.has(key)) this.dirty.add(key);
  }

  /** Forgets everything, including reads in flight (the feed stopped, or Redis was flushed). */
  private reset(): void {
    this.entries.clear();
    this.dirty.clear();
    this.epoch++;
  }
}
