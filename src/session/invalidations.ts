import type { Cluster, Redis } from 'ioredis';
import { reconnectDelay } from '../redis/client.js';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';
import { TrackingConnection } from './tracking-connection.js';

/** Time between two liveness checks of the invalidation connections, in ms. */
const DEFAULT_HEARTBEAT_MS = 500;

/** What a listener hears: a changed key (without the client's keyPrefix), or `null` for "anything may have changed". */
export type InvalidationListener = (key: string | null) => void;

function isClusterClient(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: unknown }).isCluster === true;
}

/**
 * Redis telling this process which keys changed: server-assisted client-side caching in
 * broadcasting mode (`CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX ...`, Redis 6+) on
 * connections of its own (see `TrackingConnection`): one for a single node (or Sentinel), a
 * duplicate of the app's client; one per master for a Cluster, since each master names only the
 * keys it holds. Redis then names every key under the prefixes that any client writes, deletes,
 * renews, or that expires, is migrated away or flushed.
 *
 * `live` is what users may rely on: true only while every connection is subscribed and answered
 * its last heartbeat `PING` (every `heartbeatMs`) and, on a Cluster, the client's masters are the
 * ones watched. Whenever it turns false, listeners hear `null` (everything may have changed,
 * messages may have been lost), and they must not trust what they kept until it is true again. A
 * Cluster whose slots or masters change (`+node`, `-node`, a slot map refresh that moves a
 * master) is such a moment: the feed watches the new masters and is live again once they answer.
 * A Redis that refuses `CLIENT TRACKING` (before 6.0, or an ACL without it) leaves it off for good,
 * logged once; so does a Cluster client that reads from replicas (`scaleReads` other than
 * `'master'`): a replica may answer with a value older than an invalidation already heard.
 *
 * The connections start on the first `start()`, and their sockets do not keep the process alive.
 */
export class InvalidationFeed {
  private readonly listeners = new Set<InvalidationListener>();
  /** One-shot waiters per key (see `changed`). */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Tracking connections by node (`host:port`; one entry for a single node). */
  private readonly connections = new Map<string, TrackingConnection>();
  private isLive = false;
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  /** Closed, or Redis refused tracking: stays off. */
  private off = false;
  /** The client's ioredis `keyPrefix`: Redis's key names start with it, the listeners' do not. */
  private readonly keyPrefix: string;
  /** The prefixes to watch as Redis names keys (keyPrefix included). */
  private readonly watched: string[];

  constructor(
    private readonly client: Redis | Cluster,
    prefixes: readonly string[],
    private readonly heartbeatMs: number = DEFAULT_HEARTBEAT_MS,
    private readonly logger: Logger = defaultLogger,
  ) {
    this.keyPrefix = client.options.keyPrefix ?? '';
    this.watched = prefixes.map((prefix) => this.keyPrefix + prefix);
  }

  /** Every connection subscribed and answering: a key not named since it turned true has not changed. */
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

  /** Opens the connections (once). */
  start(): void {
    if (this.started || this.off) return;
    this.started = true;
    const client = this.client;
    if (isClusterClient(client)) {
      const scaleReads = client.options.scaleReads ?? 'master';
      if (scaleReads !== 'master') {
        this.logger.info('session records are not cached in memory: the Cluster client reads from replicas (scaleReads)');
        void this.close();
        return;
      }
      // Masters come and go, and slots move: follow the client's own view of the cluster.
      const follow = (): void => this.followMasters(client);
      client.on('+node', follow);
      client.on('-node', follow);
      client.on('refresh', follow);
      client.on('ready', follow);
      this.unfollow = () => {
        client.off('+node', follow);
        client.off('-node', follow);
        client.off('refresh', follow);
        client.off('ready', follow);
      };
      follow();
    } else {
      this.connections.set('', this.connect(client));
    }
    client.once('end', () => void this.close());
    this.timer = setInterval(() => {
      for (const connection of this.connections.values()) connection.beat();
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Stops for good and closes the connections. */
  async close(): Promise<void> {
    this.off = true;
    this.unfollow?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
    this.update();
  }

  private unfollow: (() => void) | undefined;

  private connect(node: Redis, overrides = {}): TrackingConnection {
    const strip = this.keyPrefix.length;
    return new TrackingConnection(
      node,
      this.watched,
      {
        key: (key) => this.emit(key === null ? null : key.slice(strip)),
        liveness: () => this.update(),
        refused: (err) => {
          if (this.off) return;
          this.logger.info('session records are not cached in memory: Redis refused CLIENT TRACKING', describeCause(err));
          void this.close();
        },
      },
      this.logger,
      overrides,
    );
  }

  /**
   * Watches exactly the masters the Cluster client knows now. Any change pauses the feed (keys may
   * have moved to a master not watched yet) until the new connections answer.
   */
  private followMasters(cluster: Cluster): void {
    if (this.off) return;
    const masters = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
    let changed = false;
    for (const [key, connection] of this.connections) {
      if (masters.has(key)) continue;
      connection.close();
      this.connections.delete(key);
      changed = true;
    }
    for (const [key, node] of masters) {
      if (this.connections.has(key)) continue;
      // A Cluster's node connections do not reconnect (ioredis waits for a MOVED instead); this
      // one does, for as long as the node is a master.
      this.connections.set(key, this.connect(node, { retryStrategy: (times: number) => reconnectDelay(times), readOnly: false }));
      changed = true;
    }
    if (changed) this.pause();
    this.update();
  }

  /** Live when every connection is, and (Cluster) the client is ready with at least one master. */
  private update(): void {
    const ready = !isClusterClient(this.client) || this.client.status === 'ready';
    const all = [...this.connections.values()];
    const live = !this.off && ready && all.length > 0 && all.every((connection) => connection.live);
    if (live) this.isLive = true;
    else this.pause();
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
}
