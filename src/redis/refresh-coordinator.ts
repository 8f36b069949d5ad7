import type { Cluster, Redis } from 'ioredis';
import { optionalNumber, optionalString, optionError } from '../config/assert.js';
import { randomToken } from '../crypto/random.js';
import { InvalidGrantError, ServiceUnavailableError, isAuthError, sessionStoreUnavailable } from '../errors/index.js';
import type { InvalidationFeed } from '../session/invalidations.js';

/** Key prefix of refresh locks and results when none is given. */
export const DEFAULT_REFRESH_PREFIX = 'oidc:refresh:';

export interface RefreshCoordinatorOptions {
  /**
   * Prefix of the lock and result keys. Default `'oidc:refresh:'`. It may hold a Cluster hash tag
   * of its own (`'{app}:refresh:'` puts every lock in one slot) but not an empty one (`{}`).
   */
  prefix?: string;
  /**
   * How long a lock lives unless its holder extends it, in ms. A holder extends it while its
   * refresh runs; a holder that dies lets it expire after this long. Default 10000.
   */
  lockTtlMs?: number;
  /** How long a request waits for another holder's result before a 503, in ms. Default 10000. */
  waitMs?: number;
  /** First pause between two checks while waiting, in ms (grows to 8x). Default 25. */
  pollMs?: number;
  /** How long a refresh result (or an `invalid_grant` outcome) stays readable, in ms. Default 60000. */
  resultTtlMs?: number;
  /**
   * Redis's invalidation messages for keys under `prefix` (see `InvalidationFeed`): a waiter then
   * wakes as soon as the result is written or the lock released, instead of at its next poll.
   * Polling stays, as the fallback.
   */
  invalidations?: InvalidationFeed;
}

/** Deletes the lock only when it still holds our token (a late holder must not free another's lock). */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the lock only when it still holds our token. */
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/** Stored result: `r` + the caller's value, or `x` + the public description of an invalid_grant. */
const OK_MARK = 'r';
const GRANT_FAILED_MARK = 'x';

/** Most outcomes one instance remembers (see `recent`). */
const MAX_REMEMBERED = 10_000;

const WAIT_TIMEOUT = 'A token refresh for this session is still running; try again shortly.';

type Outcome = { value: string } | { error: InvalidGrantError };

/**
 * Makes one refresh grant (RFC 6749 §6) per session and refresh token, across every process that
 * shares the Redis: N concurrent requests of one session cause one `work()` call; the others wait
 * (bounded) and get its result. With refresh token rotation (OAuth 2.0 Security BCP, RFC 9700
 * §4.14.2) a second use of the same refresh token would be refused, or worse, read as theft and
 * revoke the whole grant.
 *
 * How: a lock key per session (`SET NX PX` with a random owner token; released by a Lua
 * compare-and-delete, so only its owner frees it; extended while `work()` runs; expires if its
 * holder dies) and a result key per refresh token (`generation`), kept for `resultTtlMs`, that
 * waiters and late callers read. An `invalid_grant` outcome is stored too, so waiters fail the same
 * way. Any other failure is not stored: the next caller takes the lock and tries again.
 *
 * Keys use a Redis Cluster hash tag (`{sessionId}`, with `%`, `{` and `}` percent-encoded) so a
 * session's lock and result keys share one slot: the wait reads both with one `MGET`.
 * Results are opaque strings; the caller stores sealed ciphertext (see `createSealer`).
 *
 * What this does NOT do: it does not bound how long `work()` runs (give the HTTP call a timeout);
 * and it is as strong as Redis: a failover that loses the lock key may let a second refresh
 * through (no Redlock).
 *
 * @example
 * const coordinator = new RefreshCoordinator(client);
 * const sealed = await coordinator.run(req.sessionID, sha256(refreshToken), async () =>
 *   sealer.seal(await refreshGrant(refreshToken)),
 * );
 */
export class RefreshCoordinator {
  private readonly client: Redis | Cluster;
  private readonly prefix: string;
  private readonly lockTtlMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly resultTtlMs: number;
  /** Locks this instance holds: lock key -> owner token. */
  private readonly held = new Map<string, string>();
  /**
   * Outcomes this instance produced, by result key, for `resultTtlMs`: a refresh whose result
   * could not be written to Redis (a blip while the grant was at the issuer) is still found by
   * the next request of this process, instead of spending the rotated-out refresh token again.
   */
  private readonly recent = new Map<string, { stored: string; expiresAt: number }>();
  /** Background writes of outcomes Redis refused, retried until written or expired. */
  private readonly pending = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly invalidations: InvalidationFeed | undefined;

  constructor(client: Redis | Cluster, options: RefreshCoordinatorOptions = {}) {
    if (typeof client !== 'object' || client === null || typeof (client as Redis).set !== 'function') {
      throw optionError('client', 'an ioredis client (Redis or Cluster)');
    }
    this.client = client;
    this.prefix = options.prefix === '' ? '' : (optionalString('prefix', options.prefix) ?? DEFAULT_REFRESH_PREFIX);
    const open = this.prefix.indexOf('{');
    if (open !== -1 && this.prefix[open + 1] === '}') {
      // Redis would hash the whole key (an empty hash tag): a session's keys would land in different slots.
      throw optionError('prefix', 'a prefix without an empty Redis Cluster hash tag "{}"');
    }
    this.lockTtlMs = Math.round(optionalNumber('lockTtlMs', options.lockTtlMs, 100, 600_000, 'milliseconds') ?? 10_000);
    this.waitMs = optionalNumber('waitMs', options.waitMs, 0, 600_000, 'milliseconds') ?? 10_000;
    this.pollMs = optionalNumber('pollMs', options.pollMs, 1, 10_000, 'milliseconds') ?? 25;
    this.resultTtlMs = Math.round(optionalNumber('resultTtlMs', options.resultTtlMs, 100, 86_400_000, 'milliseconds') ?? 60_000);
    this.invalidations = options.invalidations;
  }

  /** The lock key of a session (public for tests and operations). */
  lockKey(sessionId: string): string {
    return `${this.prefix}{${hashTag(sessionId)}}:lock`;
  }

  /** The result key of a session's refresh token generation. */
  resultKey(sessionId: string, generation: string): string {
    return `${this.prefix}{${hashTag(sessionId)}}:result:${generation}`;
  }

  /**
   * Runs `work` once per `(sessionId, generation)` across processes and answers its result.
   *
   * @param sessionId the session whose tokens are refreshed.
   * @param generation identifies the refresh token being spent (e.g. its SHA-256, base64url).
   * @param work performs the refresh grant and returns the string to share (sealed tokens).
   * @returns the result of this call's `work()`, or of whichever call ran it.
   * @throws the error of `work()` when this call ran it; `InvalidGrantError` when the refresh
   *   token was refused for another caller; `ServiceUnavailableError` (503) when Redis fails or
   *   the wait for another holder exceeds `waitMs`.
   */
  async run(sessionId: string, generation: string, work: () => Promise<string>): Promise<string> {
    checkId('sessionId', sessionId);
    checkId('generation', generation);
    if (this.closed) throw sessionStoreUnavailable(new Error('refresh coordinator is closed'));

    const lockKey = this.lockKey(sessionId);
    const resultKey = this.resultKey(sessionId, generation);
    const deadline = Date.now() + this.waitMs;

    const remembered = this.remembered(resultKey);
    if (remembered !== undefined) return settle(remembered);

    for (;;) {
      const existing = await this.redis(() => this.client.get(resultKey));
      if (existing !== null) return settle(existing);

      const owner = randomToken(16);
      const acquired = await this.redis(() => this.client.set(lockKey, owner, 'PX', this.lockTtlMs, 'NX'));
      if (acquired === 'OK') return this.hold(lockKey, owner, resultKey, work);

      const seen = await this.waitForOther(lockKey, resultKey, deadline);
      if (seen !== undefined) return settle(seen);
      // The lock is gone without a result (its holder failed or died): try to take it.
    }
  }

  /** Releases every lock this instance holds and refuses new runs. Call after the HTTP server drained. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
    this.recent.clear();
    const locks = [...this.held];
    this.held.clear();
    await Promise.all(locks.map(([key, owner]) => this.release(key, owner)));
  }

  private async hold(lockKey: string, owner: string, resultKey: string, work: () => Promise<string>): Promise<string> {
    this.held.set(lockKey, owner);
    const keepAlive = setInterval(
      () => {
        this.client.eval(EXTEND, 1, lockKey, owner, String(this.lockTtlMs)).catch(() => undefined);
      },
      Math.max(50, Math.floor(this.lockTtlMs / 3)),
    );
    keepAlive.unref();
    let written = true;
    try {
      // Someone may have finished between our first read and taking the lock.
      const existing = await this.redis(() => this.client.get(resultKey));
      if (existing !== null) return settle(existing);

      let value: string;
      try {
        value = await work();
        if (typeof value !== 'string') throw new TypeError('refresh work must resolve to a string');
      } catch (err) {
        if (isAuthError(err) && err.code === 'invalid_grant') {
          // Waiters on this refresh token fail the same way, without spending it again.
          written = await this.publish(resultKey, GRANT_FAILED_MARK + err.description, lockKey, owner);
        }
        throw err;
      }
      // The refresh happened (a rotated refresh token is spent): its result must not be lost.
      written = await this.publish(resultKey, OK_MARK + value, lockKey, owner);
      return value;
    } finally {
      clearInterval(keepAlive);
      if (this.held.get(lockKey) === owner) {
        this.held.delete(lockKey);
        // An outcome still waiting to be written keeps the lock until it is (then releases it):
        // waiters in other processes then read it instead of taking the lock and spending the
        // old refresh token again.
        if (written) await this.release(lockKey, owner);
      }
    }
  }

  /**
   * Keeps an outcome in this process for `resultTtlMs` and writes it to Redis. When Redis refuses
   * the write (it is down), retries in the background until it is written (then releases the
   * lock) or `resultTtlMs` has passed. Answers whether the write succeeded now.
   */
  private async publish(resultKey: string, stored: string, lockKey: string, owner: string): Promise<boolean> {
    this.remember(resultKey, stored);
    const write = async (): Promise<boolean> => {
      const left = (this.recent.get(resultKey)?.expiresAt ?? 0) - Date.now();
      if (left <= 0) return true; // expired: nothing left to share
      try {
        await this.client.set(resultKey, stored, 'PX', Math.max(1, Math.round(left)));
        return true;
      } catch {
        return false;
      }
    };
    if (await write()) return true;
    let pause = Math.max(50, this.pollMs * 4);
    const retry = (): void => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        void write().then((done) => {
          if (done) void this.release(lockKey, owner);
          else if (!this.closed) retry();
        });
      }, pause);
      timer.unref();
      this.pending.add(timer);
      pause = Math.min(pause * 2, 2000);
    };
    retry();
    return false;
  }

  private remember(resultKey: string, stored: string): void {
    const now = Date.now();
    for (const [key, entry] of this.recent) if (entry.expiresAt <= now) this.recent.delete(key);
    // Bounded: the oldest go first (a Map iterates in insertion order).
    while (this.recent.size >= MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(resultKey, { stored, expiresAt: now + this.resultTtlMs });
  }

  private remembered(resultKey: string): string | undefined {
    const entry = this.recent.get(resultKey);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > Date.now()) return entry.stored;
    this.recent.delete(resultKey);
    return undefined;
  }

  /**
   * Polls until the result appears (returns it), the lock is gone (returns undefined), or the
   * deadline passes (503). One round trip per poll: both keys share a slot. With invalidations,
   * a change of either key ends the pause at once; the wake-up is armed before the read, so a
   * change that lands between the read and the pause is not missed.
   */
  private async waitForOther(lockKey: string, resultKey: string, deadline: number): Promise<string | undefined> {
    const feed = this.invalidations;
    feed?.start();
    let pause = this.pollMs;
    for (;;) {
      const left = deadline - Date.now();
      const woken = feed?.live ? feed.changed([resultKey, lockKey], Math.max(0, Math.min(pause, left))) : undefined;
      const [result, lock] = await this.redis(() => this.client.mget(resultKey, lockKey));
      if (result !== null && result !== undefined) return result;
      if (lock === null || lock === undefined) return undefined;
      if (left <= 0) throw new ServiceUnavailableError(WAIT_TIMEOUT);
      await (woken ?? delay(Math.min(pause, left)));
      pause = Math.min(pause * 1.5, this.pollMs * 8);
    }
  }

  private async release(lockKey: string, owner: string): Promise<void> {
    // A failed release is not fatal: the lock expires after lockTtlMs.
    await this.client.eval(RELEASE, 1, lockKey, owner).catch(() => undefined);
  }

  private async redis<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw sessionStoreUnavailable(err);
    }
  }
}

/**
 * The session id as the content of a Redis Cluster hash tag: `%`, `{` and `}` percent-encoded, so
 * an id with braces can neither end the tag early nor leave it empty (Redis would then hash the
 * whole key, and a session's lock and result keys would land in different slots), and two ids
 * never share a tag. Ids without those characters (express-session's) are kept as they are.
 */
function hashTag(sessionId: string): string {
  return sessionId.replace(/[%{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function settle(stored: string): string {
  const outcome = decode(stored);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

function decode(stored: string): Outcome {
  if (stored.startsWith(GRANT_FAILED_MARK)) {
    const description = stored.slice(GRANT_FAILED_MARK.length);
    return { error: description ? new InvalidGrantError(description) : new InvalidGrantError() };
  }
  if (stored.startsWith(OK_MARK)) return { value: stored.slice(OK_MARK.length) };
  throw sessionStoreUnavailable(new Error('unrecognised refresh result record'));
}

function checkId(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) {
    throw new TypeError(`${name} must be a non-empty string of at most 512 characters`);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
