/**
 * The guard's memory over many first-seen tokens, in process: requireBearer() (the built package,
 * dist/esm) is driven with TOKENS distinct ES256 tokens, signed here with node:crypto batch by
 * batch (a template payload with a fresh `jti`, so nothing but the guard holds them), and the
 * process's RSS and heap are read after a forced GC every SAMPLE tokens. No HTTP: the HTTP
 * section (bench/suite/memory.ts) verifies about 300 tokens a second on a loaded machine, an hour
 * for the goal's 1,000,000; this does them in minutes and shows the same thing, whether the
 * verified-token cache and everything else the guard keeps stay bounded.
 *
 * Writes bench/results/guard-memory-inprocess.json and bench/charts/guard-memory-inprocess.svg.
 *
 * Run: taskset -c 0 npx tsx bench/micro/guard-memory.ts [tokens=1000000] [sample=100000]
 */
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { RequestHandler } from 'express';
import { lineChart } from '../suite/chart.js';
import { benchRequest, benchResponse } from './request.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
type Package = typeof import('../../src/index.js');
const { requireBearer } = (await import(new URL('../../dist/esm/index.js', import.meta.url).href)) as Package;

const TOKENS = Number(process.argv[2] ?? 1_000_000);
const SAMPLE = Number(process.argv[3] ?? 100_000);
const BATCH = 1000;
const issuer = 'https://issuer.memory.bench.example';
const audience = 'https://api.bench.example';

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k-ES256', alg: 'ES256', use: 'sig' };
const server = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const jwksUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

const b64 = (text: string) => Buffer.from(text).toString('base64url');
const headerSegment = b64(JSON.stringify({ alg: 'ES256', kid: 'k-ES256', typ: 'at+jwt' }));
function mint(): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    scope: 'read:bench',
    client_id: 'bench',
    jti: randomUUID(),
    iat: now,
    exp: now + 3600,
  };
  const input = `${headerSegment}.${b64(JSON.stringify(payload))}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const guard: RequestHandler = requireBearer({ issuer, jwksUri, audience, algorithms: ['ES256'] });
const res = benchResponse(() => {
  throw new Error('refused');
});
/** One request through the guard; resolves when it calls next() (in the same tick when the signature is checked inline). */
function run(token: string): Promise<void> | undefined {
  const req = benchRequest(`Bearer ${token}`);
  let done = false;
  let failed: unknown;
  let resolve: (() => void) | undefined;
  let reject: ((err: unknown) => void) | undefined;
  guard(req, res, (err?: unknown) => {
    done = true;
    failed = err;
    if (err) reject?.(err);
    else resolve?.();
  });
  if (done) {
    if (failed) throw failed as Error;
    return undefined;
  }
  return new Promise((a, b) => ((resolve = a), (reject = b)));
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
function sampleMemory(): [number, number] {
  gc();
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return [mib(rss), mib(heapUsed)];
}

// The first token loads the keys (jose's path); then the measured run.
await run(mint());
const series: Array<[number, number, number]> = [[0, ...sampleMemory()]];
const t0 = performance.now();
const cpu0 = process.cpuUsage();
process.stdout.write(`0 tokens: RSS ${series[0]![1]} MiB, heap ${series[0]![2]} MiB\n`);
for (let done = 0; done < TOKENS;) {
  const tokens = Array.from({ length: Math.min(BATCH, TOKENS - done) }, mint);
  const waiting: Array<Promise<void>> = [];
  for (const token of tokens) {
    const pending = run(token);
    if (pending !== undefined) waiting.push(pending);
  }
  await Promise.all(waiting);
  done += tokens.length;
  if (done % SAMPLE === 0 || done === TOKENS) {
    series.push([done, ...sampleMemory()]);
    const [, rss, heap] = series.at(-1)!;
    process.stdout.write(`${done} tokens: RSS ${rss} MiB, heap ${heap} MiB, ${Math.round((performance.now() - t0) / 1000)} s\n`);
  }
}
const cpu = process.cpuUsage(cpu0);
const cacheSize = (guard as unknown as { verifier: { cache?: { size: number } } }).verifier.cache?.size;
const figures = {
  when: new Date().toISOString(),
  tokens: TOKENS,
  seconds: Math.round((performance.now() - t0) / 1000),
  cpuMicrosPerToken: Math.round(((cpu.user + cpu.system) / TOKENS) * 10) / 10,
  loadAvg: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
  cacheSize,
  series,
  growthAfterFirstSampleMiB: Math.round((series.at(-1)![1] - series[1]![1]) * 10) / 10,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
const root = new URL('../', import.meta.url).pathname;
mkdirSync(`${root}results`, { recursive: true });
writeFileSync(`${root}results/guard-memory-inprocess.json`, `${JSON.stringify(figures, null, 2)}\n`);
writeFileSync(
  `${root}charts/guard-memory-inprocess.svg`,
  lineChart(
    `Guard over ${TOKENS.toLocaleString('en')} first-seen ES256 tokens, in process (after a forced GC)`,
    'first-seen tokens verified',
    'MiB',
    [
      { label: 'RSS', points: series.map(([n, rss]) => [n, rss]) },
      { label: 'heap used', points: series.map(([n, , heap]) => [n, heap]) },
    ],
  ),
);
server.close();
process.exit(0);
