import { jest } from '@jest/globals';
import type { Redis } from 'ioredis';
import { InvalidGrantError, ServiceUnavailableError } from '../../src/errors/index.js';
import { InvalidationFeed } from '../../src/session/invalidations.js';
import { RefreshCoordinator } from '../../src/redis/refresh-coordinator.js';
import { closeRedisClient, createRedisClient } from '../../src/redis/client.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';

const prefix = testPrefix('lock');
let a: Redis; // "instance A"
let b: Redis; // "instance B"
let n = 0;

beforeAll(async () => {
  [a, b] = await Promise.all([connect(), connect()]);
});

afterAll(async () => {
  await cleanup(prefix, a, b);
});

/** A fresh session id per test. */
function sessionId(): string {
  return `sess-${++n}`;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(p: Promise<T>): Promise<Outcome<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * `count` concurrent run()s of `work` for a fresh session and refresh token generation `gen`,
 * alternating between a coordinator on each client ("instance B" first); answers each outcome.
 */
async function runOnBothInstances(
  count: number,
  gen: string,
  work: () => Promise<string>,
): Promise<{ sid: string; onA: RefreshCoordinator; outcomes: Outcome<string>[] }> {
  const sid = sessionId();
  const onA = new RefreshCoordinator(a, { prefix });
  const onB = new RefreshCoordinator(b, { prefix });
  const outcomes = await Promise.all(Array.from({ length: count }, (_, i) => settle((i % 2 ? onA : onB).run(sid, gen, work))));
  return { sid, onA, outcomes };
}

describe('redis/refresh-coordinator RefreshCoordinator', () => {
  it("keys a session's lock and results under one Cluster hash tag", () => {
    const c = new RefreshCoordinator(a, { prefix });
    expect(c.lockKey('s1')).toBe(`${prefix}{s1}:lock`);
    expect(c.resultKey('s1', 'g1')).toBe(`${prefix}{s1}:result:g1`);
  });

  it('percent-encodes %, { and } of a session id inside the hash tag', () => {
    const c = new RefreshCoordinator(a, { prefix });
    expect(c.lockKey('}a{%')).toBe(`${prefix}{%7Da%7B%25}:lock`);
    expect(c.resultKey('x{}y', 'g1')).toBe(`${prefix}{x%7B%7Dy}:result:g1`);
  });

  it('option prefix › an empty hash tag "{}" › throws a TypeError naming prefix', () => {
    expect(() => new RefreshCoordinator(a, { prefix: 'app{}:' })).toThrow(TypeError);
    expect(() => new RefreshCoordinator(a, { prefix: 'app{}:' })).toThrow(/prefix/);
    expect(new RefreshCoordinator(a, { prefix: '{app}:' }).lockKey('s')).toBe('{app}:{s}:lock');
  });

  describe('one refresh per session and refresh token across instances', () => {
    it('calls work once for 20 concurrent runs on two clients; all get its result', async () => {
      const sid = sessionId();
      const onA = new RefreshCoordinator(a, { prefix });
      const onB = new RefreshCoordinator(b, { prefix });
      let calls = 0;
      const work = async () => {
        calls++;
        await pause(150); // a refresh grant takes a while; the others pile up meanwhile
        return 'sealed-new-tokens';
      };
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? onA : onB).run(sid, 'gen-1', work)));
      expect(calls).toBe(1);
      expect(results).toEqual(Array(20).fill('sealed-new-tokens'));
      expect(await a.exists(onA.lockKey(sid))).toBe(0);
    });

    it('answers the stored result for an already spent generation without calling work', async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(a, { prefix });
      expect(await c.run(sid, 'gen-1', async () => 'first')).toBe('first');
      const again = jest.fn(async () => 'second');
      expect(await new RefreshCoordinator(b, { prefix }).run(sid, 'gen-1', again)).toBe('first');
      expect(again).not.toHaveBeenCalled();
      // A new refresh token is a new generation.
      expect(await c.run(sid, 'gen-2', again)).toBe('second');
      expect(again).toHaveBeenCalledTimes(1);
    });

    it('keeps results apart per session', async () => {
      const c = new RefreshCoordinator(a, { prefix });
      const [s1, s2] = [sessionId(), sessionId()];
      expect(await c.run(s1, 'same-gen', async () => 'one')).toBe('one');
      expect(await c.run(s2, 'same-gen', async () => 'two')).toBe('two');
    });
  });

  describe('failures', () => {
    it('propagates invalid_grant to every waiter without a second grant', async () => {
      let calls = 0;
      const work = async (): Promise<string> => {
        calls++;
        await pause(100);
        throw new InvalidGrantError('The refresh token was refused by the issuer.');
      };
      const { sid, onA, outcomes } = await runOnBothInstances(10, 'gen-x', work);
      expect(calls).toBe(1);
      for (const o of outcomes) {
        expect(o.ok).toBe(false);
        expect((o as { error: unknown }).error).toMatchObject({
          code: 'invalid_grant',
          status: 400,
          description: 'The refresh token was refused by the issuer.',
        });
      }
      // A late caller with the same spent refresh token fails the same way.
      const late = jest.fn(async () => 'never');
      await expect(onA.run(sid, 'gen-x', late)).rejects.toBeInstanceOf(InvalidGrantError);
      expect(late).not.toHaveBeenCalled();
    });

    it('lets a waiter retry when the holder fails with another error', async () => {
      let calls = 0;
      const work = async (): Promise<string> => {
        calls++;
        await pause(100);
        if (calls === 1) throw new Error('issuer timed out');
        return 'second-try';
      };
      const { outcomes } = await runOnBothInstances(6, 'gen-1', work);
      expect(calls).toBe(2);
      const failed = outcomes.filter((o) => !o.ok);
      expect(failed).toHaveLength(1);
      expect((failed[0] as { error: Error }).error.message).toBe('issuer timed out');
      expect(outcomes.filter((o) => o.ok).map((o) => (o as { value: string }).value)).toEqual(Array(5).fill('second-try'));
    });

    it('takes over after a holder died mid-refresh, once its lock expired', async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(b, { prefix, lockTtlMs: 300 });
      // The dead holder: took the lock and never released it.
      expect(await a.set(c.lockKey(sid), 'dead-holder', 'PX', 300, 'NX')).toBe('OK');
      const work = jest.fn(async () => 'after-takeover');
      expect(await c.run(sid, 'gen-1', work)).toBe('after-takeover');
      expect(work).toHaveBeenCalledTimes(1);
    });

    it("answers 503 to a waiter whose wait runs out, and leaves the other holder's lock alone", async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(b, { prefix, waitMs: 200 });
      await a.set(c.lockKey(sid), 'other-owner', 'PX', 30_000);
      const work = jest.fn(async () => 'never');
      const err = await c.run(sid, 'gen-1', work).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ServiceUnavailableError);
      expect(err).toMatchObject({ status: 503, code: 'temporarily_unavailable' });
      expect(work).not.toHaveBeenCalled();
      expect(await a.get(c.lockKey(sid))).toBe('other-owner');
      await a.del(c.lockKey(sid));
    });

    it('releases only its own lock: a lock taken over by another owner survives', async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(a, { prefix });
      const result = await c.run(sid, 'gen-1', async () => {
        // Simulates the lock having expired and been taken by another instance meanwhile.
        await b.set(c.lockKey(sid), 'someone-else', 'PX', 30_000);
        return 'done';
      });
      expect(result).toBe('done');
      expect(await b.get(c.lockKey(sid))).toBe('someone-else');
      await b.del(c.lockKey(sid));
    });

    it('keeps its lock alive while a refresh outlasts lockTtlMs', async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(a, { prefix, lockTtlMs: 500 });
      const seen: (string | null)[] = [];
      await c.run(sid, 'gen-1', async () => {
        await pause(1600); // a slow issuer: more than 3 lock lifetimes
        seen.push(await b.get(c.lockKey(sid)));
        return 'slow';
      });
      expect(seen[0]).not.toBeNull();
      expect(await b.exists(c.lockKey(sid))).toBe(0);
    });

    it('answers 503 with the cause when Redis is down', async () => {
      const port = await freePort();
      const { client: down } = createRedisClient(`redis://127.0.0.1:${port}`, recordingLogger());
      try {
        const work = jest.fn(async () => 'never');
        const err = await new RefreshCoordinator(down, { prefix }).run('s', 'g', work).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ServiceUnavailableError);
        expect((err as Error).cause).toBeDefined();
        expect(work).not.toHaveBeenCalled();
      } finally {
        await closeRedisClient(down);
      }
    });
  });

  describe('waiting with Redis invalidations', () => {
    it.each([
      ['the holder writes its result', 'done'],
      ['the holder fails and frees the lock', 'failed'],
    ] as const)('wakes a waiter in another process when %s, not at its next poll', async (_what, outcome) => {
      const sid = sessionId();
      const feed = new InvalidationFeed(b, [prefix], 100, recordingLogger());
      try {
        feed.start();
        await eventually(() => feed.live, 5000);
        // A poll every 10 s, answers awaited for 5 s: only an invalidation can end the waiter's pause in time.
        const holder = new RefreshCoordinator(a, { prefix, pollMs: 10_000 });
        const waiter = new RefreshCoordinator(b, { prefix, pollMs: 10_000, invalidations: feed });
        let finish!: () => void;
        const released = new Promise<void>((resolve) => (finish = resolve));
        let calls = 0;
        const work = async () => {
          calls++;
          await released;
          if (outcome === 'failed') throw new Error('issuer down');
          return 'fresh-tokens';
        };
        const first = settle(holder.run(sid, 'g1', work));
        await eventually(async () => (await a.exists(holder.lockKey(sid))) === 1, 5000);
        const second = settle(waiter.run(sid, 'g1', work));
        // The waiter has read once and is pausing; let the holder finish.
        await eventually(() => feed['waiters'].size > 0, 5000);
        finish();
        const deadline = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 5000).unref());
        const answer = await Promise.race([second, deadline]);
        expect(answer).not.toBe('late');
        if (outcome === 'done') {
          expect(answer).toEqual({ ok: true, value: 'fresh-tokens' });
          expect(calls).toBe(1);
        } else {
          // The lock went without a result: the waiter took it and ran work itself.
          expect(calls).toBe(2);
        }
        expect((await first).ok).toBe(outcome === 'done');
      } finally {
        await feed.close();
      }
    });

    it('polls as before while the feed is not live', async () => {
      const sid = sessionId();
      const feed = new InvalidationFeed(b, [prefix], 100, recordingLogger()); // never started by the test...
      await feed.close(); // ...and closed: it never goes live
      const holder = new RefreshCoordinator(a, { prefix });
      const waiter = new RefreshCoordinator(b, { prefix, pollMs: 10, invalidations: feed });
      let finish!: () => void;
      const released = new Promise<void>((resolve) => (finish = resolve));
      const first = holder.run(sid, 'g1', async () => {
        await released;
        return 'v';
      });
      await eventually(async () => (await a.exists(holder.lockKey(sid))) === 1, 5000);
      const second = waiter.run(sid, 'g1', async () => 'not me');
      finish();
      await expect(second).resolves.toBe('v');
      await expect(first).resolves.toBe('v');
    });
  });

  describe('close()', () => {
    it('releases the locks this instance holds and refuses new runs', async () => {
      const sid = sessionId();
      const c = new RefreshCoordinator(a, { prefix });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const running = c.run(sid, 'gen-1', async () => {
        await gate;
        return 'late';
      });
      await eventually(async () => (await b.exists(c.lockKey(sid))) === 1);
      await c.close();
      expect(await b.exists(c.lockKey(sid))).toBe(0);
      release();
      expect(await running).toBe('late');
      await expect(c.run(sessionId(), 'g', async () => 'x')).rejects.toBeInstanceOf(ServiceUnavailableError);
    });
  });

  describe('options', () => {
    it('rejects bad values with a TypeError naming the option', () => {
      expect(() => new RefreshCoordinator(a, { lockTtlMs: 0 })).toThrow(/Option "lockTtlMs"/);
      expect(() => new RefreshCoordinator(a, { waitMs: -1 })).toThrow(/Option "waitMs"/);
      expect(() => new RefreshCoordinator(a, { pollMs: Number.NaN })).toThrow(/Option "pollMs"/);
      expect(() => new RefreshCoordinator(a, { resultTtlMs: 1 })).toThrow(/Option "resultTtlMs"/);
      expect(() => new RefreshCoordinator(undefined as unknown as Redis)).toThrow(/Option "client"/);
    });

    it('rejects an empty session id or generation', async () => {
      const c = new RefreshCoordinator(a, { prefix });
      await expect(c.run('', 'g', async () => 'x')).rejects.toThrow(TypeError);
      await expect(c.run('s', '', async () => 'x')).rejects.toThrow(TypeError);
    });
  });
});
