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
  stop(): Promise<void>;
}

export async function startRedisCluster(): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oidc-guard-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      ports.push(port);
      const proc = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      );
      procs.push(proc);
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
