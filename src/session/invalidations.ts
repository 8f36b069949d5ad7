import type { Redis } from 'ioredis';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';

/** Time between two liveness checks of the invalidation connection, in ms. */
const DEFAULT_HEARTBEAT_MS = 500;

/** The channel Redis publishes invalidations on for a RESP2 connection that redirects to itself. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** What a listener hears: a changed key (without the client's keyPrefix), or `null` for "anything may have changed". */
export type InvalidationListener = (key: string | null) => void;

/**
 * Redis telling this process which keys changed: server-assisted client-side caching in
 * broadcasting mode (`CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX ...`, Redis 6+) on one
 * connection of its own, a duplicate of the app's client. Redis then names every key under the
 * prefixes that any client writes, deletes, renews, or that expires or is flushed.
 *
 * `live` is what users may rely on: true only while the connection is subscribed and answered its
 * last heartbeat `PING` (every `heartbeatMs`). Whenever it turns false, listeners hear `null`
 * (everything may have changed, messages may have been lost), and they must not trust what they
 * kept until it is true again. A Redis that refuses `CLIENT TRACKING` (before 6.0, or an ACL
 * without it) leaves it off for good, logged once.
 *
 * The connection starts on the first `start()`, and its socket does not keep the process alive.
 * Single node (or Sentinel) only: a Cluster would need one subscription per master.
 */
export class InvalidationFeed {
  private readonly listeners = new Set<InvalidationListener>();
  /** One-shot waiters per key (see `changed`). */
  private readonly waiters = new Map<string, Set<() => void>>();
  private isLive = false;
  private subscribed = false;
  private awaitingPong = false;
  /** PINGs sent so far (tells one heartbeat's answer from the next). */
  private pings = 0;
  private sub: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Closed, or Redis refused tracking: stays off. */
  private off = false;
  /** The client's ioredis `keyPrefix`: Redis's key names start with it, the listeners' do not. */
  private readonly keyPrefix: string;

  constructor(
    private readonly client: Redis,
    private readonly prefixes: readonly string[],
    private readonly heartbeatMs: number = DEFAULT_HEARTBEAT_MS,
    private readonly logger: Logger = defaultLogger,
  ) {
    this.keyPrefix = client.options.keyPrefix ?? '';
  }

  /** Subscribed and answering: a key not named since it turned true has not changed. */
  get live(): boolean {
    return this.isLive;
  }

  /** Hears every invalidation (and `null` whenever the feed stops being live). */
  listen(listener: InvalidationListener): void {
    this.listeners.add(listener);
  }

  /**
   * Resolves at the first change of one of `keys` (or when the feed stops being live), or after
   * `ms`, whichever comes first. Without a live feed, it is only the timer.
   */
  changed(keys: readonly string[], ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const wake = (): void => {
        clearTimeout(timer);
        for (const key of keys) {
          const set = this.waiters.get(key);
          if (!set) continue;
          set.delete(wake);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve();
      };
      timer = setTimeout(wake, ms);
      if (!this.isLive) return;
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) this.waiters.set(key, (set = new Set()));
        set.add(wake);
      }
    });
  }

  /** Opens the connection (once). */
  start(): void {
    if (this.sub !== undefined || this.off) return;
    const name = this.client.options.connectionName;
    const sub = this.client.duplicate({
      autoResubscribe: false,
      ...(name ? { connectionName: `${name}:invalidations` } : {}),
    });
    this.sub = sub;
    // The subscription alone must not keep a process alive whose app closed everything else.
    sub.on('connect', () => (sub as unknown as { stream?: { unref?: () => void } }).stream?.unref?.());
    // The app's own client logs connection errors (it reconnects alike); here they only turn the feed off.
    sub.on('error', () => undefined);
    sub.on('close', () => {
      this.subscribed = false;
      this.awaitingPong = false;
      this.pause();
    });
    sub.on('ready', () => void this.track(sub));
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      if (message === null) {
        // FLUSHDB / FLUSHALL.
        this.emit(null);
        return;
      }
      const strip = this.keyPrefix.length;
      for (const key of Array.isArray(message) ? message : [message]) {
        this.emit((Buffer.isBuffer(key) ? key.toString() : String(key)).slice(strip));
      }
    });
    this.client.once('end', () => void this.close());
    this.timer = setInterval(() => this.beat(), this.heartbeatMs);
    this.timer.unref();
    if (sub.status === 'wait') sub.connect().catch(() => undefined);
  }

  /** Stops for good and closes the connection. */
  async close(): Promise<void> {
    this.off = true;
    this.pause();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const sub = this.sub;
    if (sub && sub.status !== 'end') sub.disconnect();
  }

  private emit(key: string | null): void {
    for (const listener of this.listeners) listener(key);
    if (key === null) {
      this.wakeAll();
      return;
    }
    const set = this.waiters.get(key);
    if (set) for (const wake of [...set]) wake();
  }

  private wakeAll(): void {
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
  }

  private pause(): void {
    const was = this.isLive;
    this.isLive = false;
    if (was) {
      for (const listener of this.listeners) listener(null);
      this.wakeAll();
    }
  }

  private resume(): void {
    if (this.off || !this.subscribed || this.awaitingPong || this.isLive) return;
    this.isLive = true;
  }

  /** Turns tracking on for this connection, redirected to itself, and subscribes to the invalidations. */
  private async track(sub: Redis): Promise<void> {
    try {
      const id = await sub.client('ID');
      // A client `keyPrefix` is part of the key names Redis sees (and names in its messages).
      const watched = this.prefixes.map((prefix) => this.keyPrefix + prefix);
      const args = watched.includes('') ? [] : watched.flatMap((prefix) => ['PREFIX', prefix]);
      await sub.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...args);
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
      // Timers run before this loop turn reads its sockets: an answer that arrived while the
      // process was busy (GC, a burst of work) is read first, so a late loop is not taken for a
      // silent Redis. The check waits for the end of the turn.
      const ping = this.pings;
      setImmediate(() => {
        if (!this.awaitingPong || this.pings !== ping || !this.isLive) return;
        this.logger.warn('session record cache off: Redis did not answer the invalidation connection in time');
        this.pause();
      });
      return;
    }
    this.awaitingPong = true;
    this.pings++;
    sub.ping().then(
      () => {
        this.awaitingPong = false;
        this.resume();
      },
      () => {
        this.awaitingPong = false;
        this.pause();
      },
    );
  }
}
