import { Cluster } from 'ioredis';
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';

describe('test Redis Cluster', () => {
  let cluster: TestCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.nodes);
  }, 60_000);
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });
  it('spreads keys over three masters', async () => {
    for (let i = 0; i < 30; i += 1) await client.set(`k${i}`, String(i));
    const masters = client.nodes('master');
    expect(masters).toHaveLength(3);
    const counts = await Promise.all(masters.map((m) => m.dbsize()));
    expect(counts.filter((c) => c > 0).length).toBeGreaterThan(1);
  });
});
