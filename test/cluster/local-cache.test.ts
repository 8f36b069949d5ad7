/**
 * The per-process session record cache on a real Redis Cluster: one tracking connection per
 * master (CLIENT TRACKING BCAST), so a change on any master reaches the cache; and the feed
 * follows the cluster when slots move, to an existing master or to a master added later.
 */
import { randomBytes } from 'node:crypto';
import type { SessionData, Store } from 'express-session';
import type { Cluster } from 'ioredis';
import { closeRedisClient, whenReady } from '../../src/redis/client.js';
import type { TrackedRecordCache } from '../../src/session/local-cache.js';
import { closeSessionStore, createSessionStore, localCacheOf } from '../../src/session/store.js';
import { clusterClient, commandCounts, masterOf, moveSlot, startRedisCluster, type TestCluster } from '../support/redis-cluster.js';
import { recordingLogger } from '../support/redis.js';
import { eventually, eventuallyValue } from '../support/eventually.js';

const prefix = `test:cluster-cache:${randomBytes(4).toString('hex')}:`;
let cluster: TestCluster;
/** The process with the cache, and another process that writes. */
let mine: Cluster;
let other: Cluster;
let store: Store;
let cache: TrackedRecordCache;

beforeAll(async () => {
  cluster = await startRedisCluster();
  mine = clusterClient(cluster.nodes);
  other = clusterClient(cluster.nodes);
  await Promise.all([whenReady(mine, 20_000), whenReady(other, 20_000)]);
  store = createSessionStore({ client: mine, prefix, logger: recordingLogger(), localCache: { heartbeatMs: 100 } });
  cache = localCacheOf(store)!;
}, 60_000);

afterAll(async () => {
  if (store) await closeSessionStore(store);
  await Promise.all([mine, other].filter(Boolean).map((c) => closeRedisClient(c)));
  await cluster?.stop();
});

function record(n: number): string {
  return JSON.stringify({ cookie: { originalMaxAge: 60_000, httpOnly: true, path: '/' }, n });
}

function read(sid: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess ? (sess as SessionData & { n: number }).n : null)));
  });
}

/**
 * `read()` for a poll: a read still unanswered after `ms` counts as "not yet" (the poll tries
 * again) instead of holding the poll past its deadline. After a slot moves to a master this
 * process has not met, a command can wait in ioredis's queue while it learns the new topology;
 * one such wait held a whole run past the test's timeout.
 */
function readWithin(sid: string, ms = 3000): Promise<number | null | 'late'> {
  return Promise.race([read(sid), new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), ms).unref())]);
}

/** Reads until the cache serves (it starts on the first read, live once every master answers). */
async function live(sid = 'warm-up'): Promise<void> {
  await eventually(
    async () =>
      (await readWithin(sid).then(
        (n) => n !== 'late',
        () => false,
      )) && cache.serving,
    15_000,
  );
}

/**
 * Session ids whose keys live on each of the cluster's masters, one per master, keyed
 * `127.0.0.1:<port>` (masters told apart by port alone). Searched again until three masters
 * answer, 15 s at most: once, in a full parallel run on a loaded machine, the search found only
 * two (not reproduced since; every later run found three at once).
 */
async function oneSidPerMaster(tag: string): Promise<Map<string, string>> {
  const search = async (): Promise<Map<string, string>> => {
    const found = new Map<string, string>();
    for (let i = 0; found.size < 3 && i < 200; i += 1) {
      const sid = `${tag}-${i}`;
      const owner = `127.0.0.1:${(await masterOf(other, `${prefix}${sid}`)).split(':').pop()}`;
      if (!found.has(owner)) found.set(owner, sid);
    }
    return found;
  };
  // Fails naming 'three masters in CLUSTER SLOTS' if they never all answer.
  return eventuallyValue(search, (found) => found.size === 3, { timeoutMs: 15_000, what: 'three masters in CLUSTER SLOTS' });
}

function gets(counts: Map<string, number>): number {
  return counts.get('get') ?? 0;
}

describe('the local record cache on a three-master Cluster', () => {
  it('watches every master with a connection of its own, and serves records without a command', async () => {
    await live();
    const connections = (cache as unknown as { feed: { connections: Map<string, unknown> } }).feed.connections;
    expect([...connections.keys()].sort()).toEqual(
      mine
        .nodes('master')
        .map((n) => `${n.options.host}:${n.options.port}`)
        .sort(),
    );
    const sids = [...(await oneSidPerMaster('served')).values()];
    for (const [i, sid] of sids.entries()) await other.set(`${prefix}${sid}`, record(i));
    for (const [i, sid] of sids.entries()) expect(await read(sid)).toBe(i); // read once, then kept
    await commandCounts(other);
    for (let view = 0; view < 20; view += 1) for (const [i, sid] of sids.entries()) expect(await read(sid)).toBe(i);
    expect(gets(await commandCounts(other))).toBe(0);
  });

  it.each([
    ['SET', (key: string) => other.set(key, record(2)), 2],
    ['DEL', (key: string) => other.del(key), null],
    ['expiry', (key: string) => other.pexpire(key, 50), null],
  ] as const)('drops a cached record on a %s by another process, on every master', async (what, change, expected) => {
    await live();
    const sids = [...(await oneSidPerMaster(`inv-${what}`)).values()];
    for (const sid of sids) {
      await other.set(`${prefix}${sid}`, record(1));
      expect(await read(sid)).toBe(1);
    }
    for (const sid of sids) await change(`${prefix}${sid}`);
    // Well inside maxAgeSeconds (30 s): only the masters' invalidations can make this pass.
    for (const sid of sids) await eventually(async () => (await read(sid)) === expected, 3000);
    expect(cache.serving).toBe(true);
  });

  it('follows a slot moved to another master: the record is dropped, and later writes there are heard', async () => {
    await live();
    const [fromAddress, sid] = [...(await oneSidPerMaster('moved')).entries()][0]!;
    const key = `${prefix}${sid}`;
    await other.set(key, record(1));
    expect(await read(sid)).toBe(1);
    const slot = Number(await other.cluster('KEYSLOT', key));
    const from = Number(fromAddress.split(':')[1]);
    const to = cluster.nodes.map((n) => n.port).find((port) => port !== from)!;
    await moveSlot(
      slot,
      from,
      to,
      cluster.nodes.map((n) => n.port),
    );

    await other.set(key, record(2)); // MOVED: now written on the new owner
    await eventually(async () => (await read(sid)) === 2, 5000);
    await live();
    await other.set(key, record(3));
    await eventually(async () => (await read(sid)) === 3, 5000);
  });

  // Last: it changes the cluster's shape for good.
  it('follows a master added to the cluster: keys moved there are watched once it is known', async () => {
    await live();
    const [fromAddress, sid] = [...(await oneSidPerMaster('added')).entries()][0]!;
    const key = `${prefix}${sid}`;
    await other.set(key, record(1));
    expect(await read(sid)).toBe(1);
    const port = await cluster.addMaster();
    const slot = Number(await other.cluster('KEYSLOT', key));
    await moveSlot(slot, Number(fromAddress.split(':')[1]), port, [...cluster.nodes.map((n) => n.port), port]);

    await other.set(key, record(2)); // written on the new master, which this process does not watch yet
    // Deadlines of 20 s: learning the new master's address (a topology refresh) took over 5 s when
    // the suite ran beside other suites on 2 cores.
    await eventually(async () => (await readWithin(sid)) === 2, 20_000);
    // Served from memory again, and a later write on the new master is heard.
    await live();
    expect(await read(sid)).toBe(2);
    await other.set(key, record(3));
    await eventually(async () => (await readWithin(sid)) === 3, 20_000);
    // The feed watches the new master too.
    const connections = (cache as unknown as { feed: { connections: Map<string, unknown> } }).feed.connections;
    expect(connections.has(`127.0.0.1:${port}`)).toBe(true);
  }, 90_000); // adding a master (meet, gossip, slot move) takes tens of seconds on a busy machine
});
