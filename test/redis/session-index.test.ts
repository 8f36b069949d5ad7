import type { Redis } from 'ioredis';
import { ServiceUnavailableError } from '../../src/errors/index.js';
import { closeRedisClient, createRedisClient } from '../../src/redis/client.js';
import { SessionIndex } from '../../src/redis/session-index.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';

const prefix = testPrefix('user-index');
let client: Redis;
let index: SessionIndex;

beforeAll(async () => {
  client = await connect();
  index = new SessionIndex(client, { prefix });
});

afterAll(async () => {
  await cleanup(prefix, client);
});

const inAMinute = () => Date.now() + 60_000;

describe('redis/session-index SessionIndex', () => {
  it("lists a user's sessions by sub and by sid, and removes them", async () => {
    await index.add({ sessionId: 's1', sub: 'alice', sid: 'op-1', expiresAt: inAMinute() });
    await index.add({ sessionId: 's2', sub: 'alice', sid: 'op-2', expiresAt: inAMinute() + 1000 });
    await index.add({ sessionId: 's3', sub: 'bob', expiresAt: inAMinute() });

    expect(await index.listBySub('alice')).toEqual(['s1', 's2']);
    expect(await index.listBySub('bob')).toEqual(['s3']);
    expect(await index.listBySid('op-1')).toEqual(['s1']);
    expect(await index.listBySid('op-2')).toEqual(['s2']);
    expect(await index.listBySub('carol')).toEqual([]);

    await index.remove({ sessionId: 's1', sub: 'alice', sid: 'op-1' });
    expect(await index.listBySub('alice')).toEqual(['s2']);
    expect(await index.listBySid('op-1')).toEqual([]);
    expect(await client.exists(index.sidKey('op-1'))).toBe(0);

    await index.remove({ sessionId: 's2', sid: 'op-2' });
    expect(await index.listBySid('op-2')).toEqual([]);
    expect(await index.listBySub('alice')).toEqual(['s2']); // only the named index changes
  });

  it('hashes sub and sid into key names, inside a hash tag', async () => {
    const sub = 'https://issuer.example/{weird} sub*?\n\u00e9';
    await index.add({ sessionId: 's-weird', sub, sid: 'sid with spaces', expiresAt: inAMinute() });
    expect(index.subKey(sub)).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}sub:\\{[A-Za-z0-9_-]{43}\\}$`));
    expect(index.subKey(sub)).not.toContain('weird');
    expect(await index.listBySub(sub)).toEqual(['s-weird']);
    expect(await index.listBySid('sid with spaces')).toEqual(['s-weird']);
  });

  it('updates the expiry when a session is added again', async () => {
    await index.add({ sessionId: 's-again', sub: 'dave', expiresAt: Date.now() + 60_000 });
    await index.add({ sessionId: 's-again', sub: 'dave', expiresAt: Date.now() + 600_000 });
    expect(await index.listBySub('dave')).toEqual(['s-again']);
    expect(await client.pttl(index.subKey('dave'))).toBeGreaterThan(500_000);
  });

  describe('as sessions expire', () => {
    it('does not list or keep an entry that already expired', async () => {
      await index.add({ sessionId: 'old', sub: 'erin', expiresAt: Date.now() - 1000 });
      expect(await index.listBySub('erin')).toEqual([]);
      expect(await client.exists(index.subKey('erin'))).toBe(0);
    });

    it('prunes an expired member on read while others stay', async () => {
      await index.add({ sessionId: 'long', sub: 'frank', expiresAt: inAMinute() });
      await index.add({ sessionId: 'short', sub: 'frank', expiresAt: Date.now() + 300 });
      expect(await index.listBySub('frank')).toEqual(['short', 'long']);
      await eventually(async () => (await index.listBySub('frank')).length === 1);
      expect(await index.listBySub('frank')).toEqual(['long']);
      expect(await client.zcard(index.subKey('frank'))).toBe(1);
    });

    it('sets the key to expire with its latest member, so no key is left behind', async () => {
      const latest = Date.now() + 400;
      await index.add({ sessionId: 'x1', sub: 'gina', sid: 'op-g', expiresAt: Date.now() + 200 });
      await index.add({ sessionId: 'x2', sub: 'gina', expiresAt: latest });
      const pttl = await client.pttl(index.subKey('gina'));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(400);
      expect(await client.pttl(index.sidKey('op-g'))).toBeLessThanOrEqual(200);
      // Nothing reads the index again: the keys still go away.
      await eventually(async () => (await client.exists(index.subKey('gina'), index.sidKey('op-g'))) === 0);
    });

    it('shortens the key expiry when the latest member is removed', async () => {
      await index.add({ sessionId: 'y1', sub: 'hank', expiresAt: Date.now() + 60_000 });
      await index.add({ sessionId: 'y2', sub: 'hank', expiresAt: Date.now() + 600_000 });
      await index.remove({ sessionId: 'y2', sub: 'hank' });
      expect(await client.pttl(index.subKey('hank'))).toBeLessThanOrEqual(60_000);
    });
  });

  it('answers 503 with the cause when Redis is down', async () => {
    const port = await freePort();
    const { client: down } = createRedisClient(`redis://127.0.0.1:${port}`, recordingLogger());
    try {
      const err = await new SessionIndex(down, { prefix }).listBySub('alice').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ServiceUnavailableError);
      expect((err as Error).cause).toBeDefined();
    } finally {
      await closeRedisClient(down);
    }
  });

  it('rejects bad input', async () => {
    expect(() => new SessionIndex(client, { prefix: 5 as unknown as string })).toThrow(/Option "prefix"/);
    await expect(index.add({ sessionId: '', sub: 'a', expiresAt: inAMinute() })).rejects.toThrow(TypeError);
    await expect(index.add({ sessionId: 's', sub: 'a', expiresAt: Number.NaN })).rejects.toThrow(TypeError);
    await expect(index.listBySub('')).rejects.toThrow(TypeError);
  });
});
