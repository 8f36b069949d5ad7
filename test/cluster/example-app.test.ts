/**
 * The example app on a Redis Cluster: `REDIS_CLUSTER_NODES` (a comma-separated list of node URLs)
 * instead of `REDIS_URL`. The app is started on the test's three-master cluster with the embedded
 * IdP; sign-in, /profile (with a refresh), /healthz and /logout work, and the sessions live in the
 * cluster.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { ConfigError, loadConfig } from '../../example-app/config.js';
import { startServer, type RunningServer } from '../../example-app/listen.js';
import { DEMO_USER } from '../../example-app/idp.js';
import { closeRedisClient, whenReady } from '../../src/redis/client.js';
import { clusterClient, masterOf, startRedisCluster, type TestCluster } from '../support/redis-cluster.js';
import { CookieJar, request, signIn } from '../example-app/helpers/browserless.js';
import { recordingLogger } from '../example-app/helpers/app.js';
import { waitFor } from '../login/setup.js';

describe('REDIS_CLUSTER_NODES (example-app/config.ts)', () => {
  const nodes = 'redis://127.0.0.1:7000, redis://127.0.0.1:7001,rediss://user:pw@redis-3.internal:7002';

  it('reads a comma-separated list of redis:// and rediss:// URLs', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: nodes }).redisClusterNodes).toEqual([
      'redis://127.0.0.1:7000',
      'redis://127.0.0.1:7001',
      'rediss://user:pw@redis-3.internal:7002',
    ]);
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
  });

  it('counts as the Redis of production (REDIS_URL is then not needed), without the memory-store warning', () => {
    const config = loadConfig({ NODE_ENV: 'production', REDIS_CLUSTER_NODES: nodes, SESSION_SECRET: 'p'.repeat(40) });
    expect(config.production).toBe(true);
    expect(config.redisURL).toBeUndefined();
    expect(config.warnings.join('\n')).not.toMatch(/REDIS_URL is not set/);
  });

  it.each([
    ['an http URL', 'http://127.0.0.1:7000'],
    ['a bare host:port', '127.0.0.1:7000'],
    ['an empty list', ' , '],
  ])('refuses %s, naming the variable', (_what, value) => {
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES must be a comma-separated list of redis:\/\//);
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: nodes })).toThrow(/not both/);
  });
});

describe('the example app started on a three-master Redis Cluster', () => {
  const prefix = `test:cluster-example:${randomBytes(4).toString('hex')}:`;
  let cluster: TestCluster;
  let check: Cluster;
  let running: RunningServer;
  const logger = recordingLogger();

  beforeAll(async () => {
    cluster = await startRedisCluster();
    check = clusterClient(cluster.nodes);
    await whenReady(check, 20_000);
    running = await startServer(
      {
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `redis://${n.host}:${n.port}`).join(','),
        SESSION_SECRET: randomBytes(32).toString('base64url'),
      },
      // 20-second access tokens, inside the 30-second refresh margin: each /profile refreshes.
      { sessionPrefix: prefix, logger, idpAccessTokenTtlSeconds: 20 },
    );
  }, 60_000);

  afterAll(async () => {
    await running?.close();
    if (check) await closeRedisClient(check);
    await cluster?.stop();
  });

  it('answers /healthz 200 once the cluster client is connected', async () => {
    await waitFor(async () => (await fetch(`${running.url}/healthz`)).status === 200, 20_000, '/healthz 200');
  });

  it('signs in, shows /profile (refreshing the token), keeps the sessions in the cluster, and logs out', async () => {
    await waitFor(() => running.example.health(), 20_000, 'the session store');
    const jars: CookieJar[] = [];
    const keys: string[] = [];
    // At least 4 sessions, and more while they all sit on one master (4 land on one of three
    // masters 1 time in 27 by chance; 12 only 1 in 177,147).
    const masters = async (): Promise<number> => new Set(await Promise.all(keys.map((key) => masterOf(check, key)))).size;
    for (let i = 0; i < 4 || (i < 12 && (await masters()) < 2); i += 1) {
      const jar = new CookieJar();
      const { callback } = await signIn(jar, running.url, { returnTo: '/profile' });
      expect(callback.status).toBe(302);
      const page = await request(jar, `${running.url}/profile`);
      expect(page.status).toBe(200);
      expect(page.body).toContain(`<dd id="sub">${DEMO_USER.sub}</dd>`);
      expect(page.body).toContain('token: 200)');
      const id = /^s:([^.]+)\./.exec(decodeURIComponent(jar.get(running.url, 'oidc.sid')!))![1]!;
      keys.push(`${prefix}sess:${id}`);
      jars.push(jar);
    }
    for (const key of keys) expect(await check.exists(key)).toBe(1);
    // Records on more than one master: the app really spreads over the cluster.
    expect(await masters()).toBeGreaterThan(1);

    const out = await request(jars[0]!, `${running.url}/logout`, { method: 'POST' });
    expect(out.status).toBe(302);
    expect(await check.exists(keys[0]!)).toBe(0);
    expect((await request(jars[0]!, `${running.url}/profile`)).status).toBe(302);
    expect((await request(jars[1]!, `${running.url}/profile`)).status).toBe(200);
    // No connection error was logged along the way.
    expect(logger.lines.filter((line) => /redis/i.test(line) && /error/i.test(line))).toEqual([]);
  });
});
