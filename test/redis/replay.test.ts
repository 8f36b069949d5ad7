import type { Redis } from 'ioredis';
import { ServiceUnavailableError } from '../../src/errors/index.js';
import { closeRedisClient, createRedisClient } from '../../src/redis/client.js';
import { useOnce } from '../../src/redis/replay.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';

const prefix = testPrefix('replay');
let client: Redis;
let other: Redis;

beforeAll(async () => {
  [client, other] = await Promise.all([connect(), connect()]);
});

afterAll(async () => {
  await cleanup(prefix, client, other);
});

describe('redis/replay useOnce()', () => {
  it('answers true the first time and false on a replay, across clients', async () => {
    expect(await useOnce(client, `${prefix}jti-1`, 60_000)).toBe(true);
    expect(await useOnce(client, `${prefix}jti-1`, 60_000)).toBe(false);
    expect(await useOnce(other, `${prefix}jti-1`, 60_000)).toBe(false);
    expect(await useOnce(other, `${prefix}jti-2`, 60_000)).toBe(true);
  });

  it('lets exactly one of many concurrent uses through', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => useOnce(i % 2 ? client : other, `${prefix}race`, 60_000)));
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  it('forgets a value after ttlMs', async () => {
    expect(await useOnce(client, `${prefix}short`, 200)).toBe(true);
    const pttl = await client.pttl(`${prefix}short`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(200);
    await eventually(async () => (await client.exists(`${prefix}short`)) === 0);
    expect(await useOnce(client, `${prefix}short`, 200)).toBe(true);
  });

  it('answers 503 when Redis is down (never true)', async () => {
    const port = await freePort();
    const { client: down } = createRedisClient(`redis://127.0.0.1:${port}`, recordingLogger());
    try {
      await expect(useOnce(down, `${prefix}down`, 1000)).rejects.toBeInstanceOf(ServiceUnavailableError);
    } finally {
      await closeRedisClient(down);
    }
  });

  it('rejects a bad key or ttl', async () => {
    await expect(useOnce(client, '', 1000)).rejects.toThrow(TypeError);
    await expect(useOnce(client, `${prefix}k`, 0)).rejects.toThrow(TypeError);
    await expect(useOnce(client, `${prefix}k`, Number.NaN)).rejects.toThrow(TypeError);
  });
});
