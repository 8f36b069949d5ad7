/**
 * A throw-away three-master Redis Cluster on loopback for tests: three `redis-server
 * --cluster-enabled yes` processes on free ports in a temporary folder, joined with
 * `redis-cli --cluster create`. `stop()` kills them and removes the folder.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, type ClusterOptions } from 'ioredis';
import { reconnectDelay } from '../../src/redis/client.js';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  // Cluster nodes also listen on port + 10000 (the bus): pick ports whose bus port is free too.
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address() as { port: number };
        srv.close(() => resolve(p));
      });
    });
    if (port + 10000 > 65535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port + 10000, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

async function waitForPing(port: number, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping']);
      if (stdout.trim() === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer PING in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TestCluster {
  nodes: { host: string; port: number }[];
  /** Starts one more master (no slots yet), joins it to the cluster and returns its port. */
  addMaster(): Promise<number>;
  stop(): Promise<void>;
}

function spawnNode(dir: string, port: number): ChildProcess {
  return spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      path.join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      '2000',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
}

async function cli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
}

/**
 * Moves one slot, with its keys, from the master on port `from` to the master on port `to`, the
 * way `redis-cli --cluster reshard` does (IMPORTING / MIGRATING, MIGRATE, SETSLOT NODE on every
 * master).
 */
export async function moveSlot(slot: number, from: number, to: number, allPorts: number[]): Promise<void> {
  const fromId = await cli(from, 'cluster', 'myid');
  const toId = await cli(to, 'cluster', 'myid');
  await cli(to, 'cluster', 'setslot', String(slot), 'importing', fromId);
  await cli(from, 'cluster', 'setslot', String(slot), 'migrating', toId);
  // Bounded: a MIGRATE that keeps failing (redis-cli prints the error and exits 0) must fail the
  // test with Redis's reason, not loop until the test's timeout.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const keys = (await cli(from, 'cluster', 'getkeysinslot', String(slot), '100')).split('\n').filter((k) => k !== '');
    if (keys.length === 0) break;
    const answer = await cli(from, 'migrate', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
    if (Date.now() > deadline) throw new Error(`moving slot ${slot}: MIGRATE still failing after 20 s (${answer})`);
  }
  for (const port of new Set([to, from, ...allPorts])) await cli(port, 'cluster', 'setslot', String(slot), 'node', toId);
}

export async function startRedisCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oidc-guard-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      ports.push(port);
      procs.push(spawnNode(dir, port));
    }
    await Promise.all(ports.map((p) => waitForPing(p, 10_000)));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    // The cluster is usable once every node reports cluster_state:ok.
    const deadline = Date.now() + 15_000;
    for (const port of ports) {
      for (;;) {
        const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']);
        if (stdout.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error('redis cluster did not reach cluster_state:ok in time');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (err) {
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    addMaster: async () => {
      const port = await freePort();
      procs.push(spawnNode(dir, port));
      await waitForPing(port, 10_000);
      await cli(port, 'cluster', 'meet', '127.0.0.1', String(ports[0]));
      const id = await cli(port, 'cluster', 'myid');
      // Joined once every other node lists it as connected.
      const deadline = Date.now() + 15_000;
      for (const other of ports) {
        while (!(await cli(other, 'cluster', 'nodes')).split('\n').some((line) => line.startsWith(id) && line.includes('connected'))) {
          if (Date.now() > deadline) throw new Error('the new node did not join the cluster in time');
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      // ...and once the new node itself knows who serves every slot: before that, a MIGRATE to
      // it fails with "CLUSTERDOWN Hash slot not served" (seen 1 run in 6).
      while (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error('the new node did not learn the slot map in time');
        await new Promise((r) => setTimeout(r, 50));
      }
      ports.push(port);
      return port;
    },
    stop: async () => {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An ioredis Cluster client configured as docs/redis.md recommends (no offline queue, short
 * timeouts, capped reconnect backoff), with an `'error'` listener. Yours to close.
 */
export function clusterClient(nodes: TestCluster['nodes'], options: ClusterOptions = {}): Cluster {
  const client = new Cluster(nodes, {
    enableOfflineQueue: false,
    clusterRetryStrategy: (times: number) => reconnectDelay(times),
    ...options,
    redisOptions: { connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 1, disconnectTimeout: 500, ...options.redisOptions },
  });
  client.on('error', () => undefined);
  return client;
}

/** The `host:port` of the master that serves a key's slot. */
export async function masterOf(client: Cluster, key: string): Promise<string> {
  const slot = Number(await client.cluster('KEYSLOT', key));
  const ranges = await client.cluster('SLOTS');
  const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!master) throw new Error(`no master serves slot ${slot}`);
  return `${master[0]}:${master[1]}`;
}

/** The commands the cluster's masters answered since the last call (or start), summed, by name. */
export async function commandCounts(client: Cluster): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const node of client.nodes('master')) {
    const info = await node.info('commandstats');
    await node.call('CONFIG', 'RESETSTAT');
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      counts.set(match[1]!, (counts.get(match[1]!) ?? 0) + Number(match[2]));
    }
  }
  return counts;
}
