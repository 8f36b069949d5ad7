import type { Cluster, Redis } from 'ioredis';
import { sessionStoreUnavailable } from '../errors/index.js';

/**
 * Short-lived marks ("tombstones") of session ids whose session ended: logged out, ended by a
 * back-channel logout, destroyed by an admin. A request that loaded the session before it ended
 * and writes it back afterwards finds the mark and undoes its write (see `guardEndedSessions`), so
 * a logout sticks with any session store, not only with the Redis store's `SET ... XX`.
 */
export interface EndedSessions {
  /** Marks `sessionId` as ended, before its record is destroyed. */
  mark(sessionId: string): Promise<void>;
  /** True when `sessionId` was marked within the marks' lifetime. */
  has(sessionId: string): Promise<boolean>;
}

/** The marks in Redis, one key each (`SET PX`), seen by every process that shares it. */
export class RedisEndedSessions implements EndedSessions {
  constructor(
    private readonly client: Redis | Cluster,
    private readonly options: { prefix: string; ttlMs: number },
  ) {}

  async mark(sessionId: string): Promise<void> {
    try {
      await this.client.set(this.options.prefix + sessionId, '1', 'PX', this.options.ttlMs);
    } catch (err) {
      throw sessionStoreUnavailable(err);
    }
  }

  async has(sessionId: string): Promise<boolean> {
    try {
      return (await this.client.exists(this.options.prefix + sessionId)) === 1;
    } catch (err) {
      throw sessionStoreUnavailable(err);
    }
  }
}
