import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { closeRedisClient, createRedisClient, pingRedis, reconnectDelay, REDIS_DEFAULTS, whenReady } from '../../src/redis/client.js';
import { recordingLogger, REDIS_URL, testPrefix } from '../support/redis.js';
import { closeServer, freePort } from '../support/net.js';
import { eventually } from '../support/eventually.js';

const key = `${testPrefix('redis')}reconnect`;

const redisUrl = new URL(REDIS_URL);
const opened: Redis[] = [];

function track<T extends { client: unknown }>(made: T): T {
  opened.push(made.client as Redis);
  return made;
}

afterAll(async () => {
  await Promise.all(opened.map((c) => closeRedisClient(c)));
});

/** A TCP proxy in front of the real Redis that can be stopped and started on the same port. */
class Proxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = netConnect(Number(redisUrl.port || 6379), redisUrl.hostname);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (this.server) await closeServer(this.server);
    this.server = undefined;
  }
}

describe('redis/client', () => {
  describe('createRedisClient(url)', () => {
    it('creates an owned client with the fail-fast defaults', async () => {
      const { client, owned } = track(createRedisClient(REDIS_URL, recordingLogger()));
      expect(owned).toBe(true);
      expect(client).toBeInstanceOf(Redis);
      const options = (client as Redis).options;
      expect(options.connectTimeout).toBe(REDIS_DEFAULTS.connectTimeout);
      expect(options.commandTimeout).toBe(REDIS_DEFAULTS.commandTimeout);
      expect(options.maxRetriesPerRequest).toBe(1);
      expect(options.enableOfflineQueue).toBe(false);
      expect(client.listenerCount('error')).toBeGreaterThanOrEqual(1);
      expect(await pingRedis(client, 10_000)).toBe(true);
    });

    it('keeps the options a caller set and fills in the rest', () => {
      const { client } = track(
        createRedisClient({ host: '127.0.0.1', port: 6379, commandTimeout: 500, lazyConnect: true }, recordingLogger()),
      );
      const options = (client as Redis).options;
      expect(options.commandTimeout).toBe(500);
      expect(options.connectTimeout).toBe(REDIS_DEFAULTS.connectTimeout);
      expect(options.enableOfflineQueue).toBe(false);
      expect(typeof options.retryStrategy).toBe('function');
    });

    it('uses a client it is given as is, not owned', () => {
      const given = new Redis({ lazyConnect: true });
      opened.push(given);
      const made = createRedisClient(given);
      expect(made.client).toBe(given);
      expect(made.owned).toBe(false);
      expect(given.listenerCount('error')).toBe(0);
    });

    it('rejects a bad value with a TypeError naming the option', () => {
      expect(() => createRedisClient('not a url')).toThrow(/Option "redis" must be a Redis URL/);
      expect(() => createRedisClient('http://127.0.0.1:6379')).toThrow(/Option "redis" must be a redis: or rediss: URL/);
      expect(() => createRedisClient(42 as unknown as string)).toThrow(TypeError);
      expect(() => createRedisClient('nope', undefined, 'session.redis')).toThrow(/Option "session.redis"/);
    });
  });

  describe('reconnectDelay()', () => {
    it('grows, stays within the cap and never gives up', () => {
      for (let attempt = 1; attempt < 200; attempt++) {
        const d = reconnectDelay(attempt);
        expect(d).toBeGreaterThanOrEqual(1);
        expect(d).toBeLessThanOrEqual(REDIS_DEFAULTS.maxReconnectDelayMs);
      }
      expect(reconnectDelay(1)).toBeLessThanOrEqual(50);
      expect(reconnectDelay(100)).toBeGreaterThanOrEqual(REDIS_DEFAULTS.maxReconnectDelayMs / 2);
    });
  });

  describe('when Redis is down', () => {
    it('rejects a command on a closed port instead of queueing it, and logs only the error code', async () => {
      const logger = recordingLogger();
      const port = await freePort();
      const { client } = track(createRedisClient(`redis://:hunter2-password@127.0.0.1:${port}`, logger));
      await expect(client.get('anything')).rejects.toThrow();
      expect(await pingRedis(client, 200)).toBe(false);
      await eventually(() => logger.lines.some((l) => l.level === 'warn'));
      const warning = logger.lines.find((l) => l.level === 'warn')!;
      expect(warning.fields).toMatchObject({ code: 'ECONNREFUSED' });
      expect(JSON.stringify(logger.lines)).not.toContain('hunter2');
      // Still failing fast on later commands, while it keeps reconnecting.
      await expect(client.set('k', 'v')).rejects.toThrow();
      expect(client.status).not.toBe('end');
    });

    it('logs a burst of errors once', () => {
      const logger = recordingLogger();
      const { client } = track(createRedisClient({ lazyConnect: true }, logger));
      const err = Object.assign(new Error('connect to redis://user:secret@host failed'), { code: 'ECONNREFUSED' });
      for (let i = 0; i < 5; i++) client.emit('error', err);
      expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
      expect(JSON.stringify(logger.lines)).not.toContain('secret');
    });

    it('comes back by itself when Redis is reachable again', async () => {
      const proxy = new Proxy();
      await proxy.start();
      const logger = recordingLogger();
      const { client } = track(createRedisClient(`redis://127.0.0.1:${proxy.port}`, logger));
      try {
        await whenReady(client, 10_000);
        expect(await client.set(key, '1', 'PX', 5000)).toBe('OK');

        await proxy.stop();
        await eventually(() => client.status !== 'ready');
        await expect(client.get(key)).rejects.toThrow();

        await proxy.start();
        await eventually(() => pingRedis(client, 500), 20_000);
        expect(await client.get(key)).toBe('1');
        expect(logger.lines.some((l) => l.message === 'redis connection restored')).toBe(true);
        await client.del(key);
      } finally {
        await closeRedisClient(client);
        await proxy.stop();
      }
    });
  });

  describe('pingRedis()', () => {
    it('waits for a connection in progress', async () => {
      const { client } = track(createRedisClient(REDIS_URL, recordingLogger()));
      expect(await pingRedis(client, 10_000)).toBe(true);
    });

    it('answers false for a closed client', async () => {
      const { client } = track(createRedisClient(REDIS_URL, recordingLogger()));
      await whenReady(client, 10_000);
      await closeRedisClient(client);
      await eventually(() => client.status === 'end');
      expect(await pingRedis(client, 200)).toBe(false);
    });
  });
});
