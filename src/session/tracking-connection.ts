import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from '../util/logger.js';

/** The channel Redis publishes invalidations on for a RESP2 connection that redirects to itself. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/** What one tracking connection tells its feed. */
export interface TrackingEvents {
  /** A key changed (as Redis names it, keyPrefix included), or `null`: everything may have (FLUSHDB). */
  key(key: string | null): void;
  /** The connection became live or stopped being live. */
  liveness(): void;
  /** Redis answered `CLIENT TRACKING` with a refusal: no tracking on this server. */
  refused(err: unknown): void;
}

/**
 * One connection of its own to one Redis node (a duplicate of a client or of a Cluster's node
 * connection) in broadcasting tracking mode: `CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX
 * ...` and `SUBSCRIBE __redis__:invalidate`. Redis then names every key under the prefixes that
 * changes on that node: written, deleted, renewed, expired, evicted, migrated away.
 *
 * `live` is true only while it is subscribed and answered its last heartbeat `PING`; its socket
 * does not keep the process alive.
 */
export class TrackingConnection {
  private subscribed = false;
  private awaitingPong = false;
  private isLive = false;
  /** PINGs sent so far (tells one heartbeat's answer from the next). */
  private pings = 0;
  private closed = false;
  readonly sub: Redis;

  constructor(
    source: Redis,
    /** The prefixes to watch, as Redis names keys (keyPrefix included). */
    private readonly watched: readonly string[],
    private readonly events: TrackingEvents,
    private readonly logger: Logger,
    overrides: Partial<RedisOptions> = {},
  ) {
    const name = source.options.connectionName;
    const sub = source.duplicate({
      autoResubscribe: false,
      lazyConnect: true,
      ...(name ? { connectionName: `${name}:invalidations` } : {}),
      ...overrides,
    });
    this.sub = sub;
    // The subscription alone must not keep a process alive whose app closed everything else.
    sub.on('connect', () => (sub as unknown as { stream?: { unref?: () => void } }).stream?.unref?.());
    // The app's own client logs connection errors (it reconnects alike); here they only pause.
    sub.on('error', () => undefined);
    sub.on('close', () => {
      this.subscribed = false;
      this.awaitingPong = false;
      this.setLive(false);
    });
    sub.on('ready', () => void this.track());
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return;
      if (message === null) {
        this.events.key(null); // FLUSHDB / FLUSHALL
        return;
      }
      for (const key of Array.isArray(message) ? message : [message]) {
        this.events.key(Buffer.isBuffer(key) ? key.toString() : String(key));
      }
    });
    sub.connect().catch(() => undefined);
  }

  /** Subscribed and answering its heartbeat. */
  get live(): boolean {
    return this.isLive;
  }

  /** Stops for good and closes the connection. */
  close(): void {
    this.closed = true;
    this.setLive(false);
    if (this.sub.status !== 'end') this.sub.disconnect();
  }

  /** One heartbeat: a connection that did not answer the last PING may be holding invalidations back. */
  beat(): void {
    if (!this.subscribed || this.closed) return;
    if (this.awaitingPong) {
      // Timers run before this loop turn reads its sockets: an answer that arrived while the
      // process was busy (GC, a burst of work) is read first, so a late loop is not taken for a
      // silent Redis. The check waits for the end of the turn.
      const ping = this.pings;
      setImmediate(() => {
        if (!this.awaitingPong || this.pings !== ping || !this.isLive) return;
        this.logger.warn('session record cache off: Redis did not answer the invalidation connection in time');
        this.setLive(false);
      });
      return;
    }
    this.awaitingPong = true;
    this.pings++;
    this.sub.ping().then(
      () => {
        this.awaitingPong = false;
        this.setLive(this.subscribed);
      },
      () => {
        this.awaitingPong = false;
        this.setLive(false);
      },
    );
  }

  private setLive(value: boolean): void {
    const next = value && !this.closed && this.subscribed && !this.awaitingPong;
    if (next === this.isLive) return;
    this.isLive = next;
    this.events.liveness();
  }

  /** Turns tracking on for this connection, redirected to itself, and subscribes to the invalidations. */
  private async track(): Promise<void> {
    const sub = this.sub;
    try {
      const id = await sub.client('ID');
      const args = this.watched.includes('') ? [] : this.watched.flatMap((prefix) => ['PREFIX', prefix]);
      await sub.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', ...args);
      await sub.subscribe(INVALIDATE_CHANNEL);
    } catch (err) {
      if (sub.status !== 'ready') return; // the connection went: 'ready' comes again
      this.events.refused(err);
      return;
    }
    if (this.closed) return;
    this.subscribed = true;
    this.awaitingPong = false;
    this.setLive(true);
  }
}
