/**
 * `npm run soak`: a long run of realistic traffic against the sign-in half and the API guard,
 * checking that nothing fails, leaks or lingers. The app runs in its own process
 * (bench/servers/soak-app-server.ts); this process holds the IdP and the virtual users, so the
 * app's RSS, read every SOAK_SAMPLE_SECONDS (default 10), shows the library's memory alone.
 *
 * For SOAK_SECONDS (default 300) SOAK_USERS virtual users (default 8, the bounded concurrency)
 * each loop: sign in through the embedded IdP's pages, view /profile (which refreshes the access
 * token once it is within the refresh margin, then calls the API with it) and call /api/me with
 * a Bearer token, pausing SOAK_THINK_MS (default 250) between steps, then log out or abandon
 * the session (it expires). Access tokens live 32 s (refreshed once under half their life is left,
 * the capped default refresh margin: sessions kept over 16 s refresh), sessions 60 s.
 *
 * Prints throughput, p50/p99 latency, the error count, the app's RSS over time (also drawn in
 * bench/charts/soak-rss.svg, and kept in bench/results/soak.json) and the count of Redis keys under
 * the run's prefix after every session expired. Exit code 1 when there was an error, or the keys
 * did not return to the start count (a leaked index entry or lock).
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startDevIdp } from '../../example-app/idp.js';
import { CookieJar, request, signIn } from '../../test/support/browserless.js';
import { tokensFromIdp } from '../../test/example-app/helpers/tokens.js';
import { lineChart } from './chart.js';
import { benchDir, startChild } from './lib.js';
import { childRss, mib as toMiB } from './login-shared.js';
import { chartsDir } from './report.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const USERS = Number(process.env.SOAK_USERS ?? 8);
const THINK_MS = Number(process.env.SOAK_THINK_MS ?? 250);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SESSION_SECONDS = 60;
const ACCESS_TOKEN_SECONDS = 32;

const prefix = `soak:${randomBytes(4).toString('hex')}:`;
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });

async function countKeys(): Promise<number> {
  let cursor = '0';
  let count = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    count += keys.length;
  } while (cursor !== '0');
  return count;
}

const latencies: number[] = [];
const errors: string[] = [];
const counts = { signIns: 0, profiles: 0, apiCalls: 0, logouts: 0, abandoned: 0 };

/** Times one step; any thrown error or unexpected status counts as an error. */
async function step<T>(name: string, run: () => Promise<T>, ok: (value: T) => boolean): Promise<T | undefined> {
  const started = performance.now();
  try {
    const value = await run();
    latencies.push(performance.now() - started);
    if (!ok(value)) {
      errors.push(`${name}: unexpected answer ${JSON.stringify(value).slice(0, 200)}`);
      return undefined;
    }
    return value;
  } catch (err) {
    errors.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free loopback port: the IdP must know the app's URL before the app starts. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const startKeys = await countKeys();
const port = await freePort();
const appURL = `http://localhost:${port}`;
const clientSecret = 'soak-client-secret-0123456789';
const idp = await startDevIdp({
  host: '127.0.0.1',
  port: 0,
  baseURL: appURL,
  clientID: 'example-app',
  clientSecret,
  audience: `${appURL}/api`,
  accessTokenTtlSeconds: ACCESS_TOKEN_SECONDS,
});
const child = await startChild(
  'soak-app-server.ts',
  {
    NODE_ENV: 'development',
    NODE_OPTIONS: '--expose-gc',
    SOAK_PORT: String(port),
    SOAK_ISSUER: idp.issuer,
    SOAK_CLIENT_SECRET: clientSecret,
    SOAK_SECRET: randomBytes(32).toString('base64url'),
    SOAK_REDIS_URL: REDIS_URL,
    SOAK_PREFIX: prefix,
    SOAK_SESSION_SECONDS: String(SESSION_SECONDS),
  },
  { pinned: false },
);
const app = { url: child.url, clientSecret, idp };
let refreshes = 0;
app.idp.provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown } } }) => {
  if (ctx.oidc.params?.grant_type === 'refresh_token') refreshes += 1;
});
for (let i = 0; (await fetch(`${app.url}/healthz`)).status !== 200; i += 1) {
  if (i > 50) throw new Error('Redis did not answer');
  await pause(100);
}
// One Bearer token for the API calls, obtained like any client would (code flow with PKCE).
const bearer = (
  await tokensFromIdp({
    issuer: app.idp.issuer,
    clientID: 'example-app',
    clientSecret: app.clientSecret,
    redirectUri: `${app.url}/callback`,
  })
).access_token;

const bearerToken = { value: bearer };
const startedAt = Date.now();
// The app's RSS and heap over the run: [seconds since the start, RSS MiB, heap MiB].
const samples: Array<[number, number, number]> = [];
const sample = async () => {
  const { rss, heapUsed } = await childRss(app.url);
  samples.push([Math.round((Date.now() - startedAt) / 1000), toMiB(rss), toMiB(heapUsed)]);
};
await sample();
const sampler = setInterval(() => void sample().catch((err: Error) => errors.push(`rss sample: ${err.message}`)), SAMPLE_SECONDS * 1000);
const endAt = startedAt + SECONDS * 1000;
process.stdout.write(`soak: ${SECONDS} s, ${USERS} users, prefix ${prefix}, app ${app.url}\n`);

async function user(): Promise<void> {
  while (Date.now() < endAt) {
    const jar = new CookieJar();
    const signedIn = await step(
      'sign-in',
      () => signIn(jar, app.url, { returnTo: '/profile' }),
      (r) => r.callback.status === 302,
    );
    if (!signedIn) continue;
    counts.signIns += 1;
    // Keep the session a few seconds: long enough for its access token to need a refresh.
    const keepUntil = Date.now() + 5000 + Math.random() * 20000;
    while (Date.now() < keepUntil && Date.now() < endAt) {
      await pause(THINK_MS);
      if (Math.random() < 0.5) {
        const page = await step(
          'profile',
          () => request(jar, `${app.url}/profile`, { headers: { accept: 'application/json' } }),
          (p) => p.status === 200,
        );
        if (page) counts.profiles += 1;
      } else {
        const res = await step(
          'api',
          async () => (await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${bearerToken.value}` } })).status,
          (s) => s === 200,
        );
        if (res) counts.apiCalls += 1;
      }
    }
    if (Math.random() < 0.5) {
      const out = await step(
        'logout',
        () => request(jar, `${app.url}/logout`),
        (p) => p.status === 302,
      );
      if (out) counts.logouts += 1;
    } else {
      counts.abandoned += 1;
    }
  }
}

// The API calls' token is replaced 5 s before it expires.
const bearerTimer = setInterval(
  () => {
    void tokensFromIdp({
      issuer: app.idp.issuer,
      clientID: 'example-app',
      clientSecret: app.clientSecret,
      redirectUri: `${app.url}/callback`,
    })
      .then((t) => {
        bearerToken.value = t.access_token;
      })
      .catch((err: Error) => errors.push(`bearer token: ${err.message}`));
  },
  (ACCESS_TOKEN_SECONDS - 5) * 1000,
);

await Promise.all(Array.from({ length: USERS }, () => user()));
clearInterval(bearerTimer);
clearInterval(sampler);
await sample();
const elapsed = (Date.now() - startedAt) / 1000;
const afterGc = await childRss(app.url, true);
const reported = (await (await fetch(`${app.url}/__reported`)).json()) as string[];
// Warmed up after the first fifth of the run: growth from there to the end is what a leak shows.
const warm = samples.find(([t]) => t >= elapsed / 5) ?? samples[0]!;
const last = samples.at(-1)!;
const rssGrowthAfterWarmUp = Math.round((last[1] - warm[1]) * 10) / 10;
mkdirSync(chartsDir, { recursive: true });
writeFileSync(
  path.join(chartsDir, 'soak-rss.svg'),
  lineChart(`Soak: the app's own process over ${Math.round(elapsed)} s (${USERS} users)`, 'seconds', 'MiB', [
    { label: 'app RSS', points: samples.map(([t, rss]) => [t, rss]) },
    { label: 'app heap used', points: samples.map(([t, , heap]) => [t, heap]) },
  ]),
);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(
  path.join(benchDir, 'results', 'soak.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      seconds: elapsed,
      users: USERS,
      counts,
      refreshes,
      errors: errors.length,
      samples,
      rssGrowthAfterWarmUp,
      afterGcMiB: { rss: toMiB(afterGc.rss), heap: toMiB(afterGc.heapUsed) },
    },
    null,
    2,
  ) + '\n',
);

const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const keysAfterRun = await countKeys();
process.stdout.write(
  `requests: ${latencies.length} in ${elapsed.toFixed(1)} s = ${(latencies.length / elapsed).toFixed(1)} req/s\n` +
    `latency: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms\n` +
    `sign-ins ${counts.signIns}, profile views ${counts.profiles}, API calls ${counts.apiCalls}, refresh grants ${refreshes}, logouts ${counts.logouts}, abandoned sessions ${counts.abandoned}\n` +
    `errors: ${errors.length}${errors.length > 0 ? `\n  ${errors.slice(0, 10).join('\n  ')}` : ''}\n` +
    `library warnings/errors logged: ${reported.length}${reported.length > 0 ? `\n  ${[...new Set(reported)].slice(0, 10).join('\n  ')}` : ''}\n` +
    `app RSS (MiB): start ${samples[0]![1]}, after warm-up (${warm[0]} s) ${warm[1]}, end ${last[1]}: ${rssGrowthAfterWarmUp >= 0 ? '+' : ''}${rssGrowthAfterWarmUp} after warm-up; after a forced GC ${toMiB(afterGc.rss)} (heap ${toMiB(afterGc.heapUsed)}); chart bench/charts/soak-rss.svg\n` +
    `redis keys under the prefix: start ${startKeys}, after the run ${keysAfterRun}; waiting for sessions to expire...\n`,
);

await child.stop();
await idp.close();
// Sessions, index entries and refresh results all expire within the session lifetime (60 s).
const deadline = Date.now() + (SESSION_SECONDS + 30) * 1000;
let keysLeft = await countKeys();
while (keysLeft !== startKeys && Date.now() < deadline) {
  await pause(1000);
  keysLeft = await countKeys();
}
process.stdout.write(`redis keys under the prefix after expiry: ${keysLeft} (start ${startKeys})\n`);
const leaked = keysLeft !== startKeys;
if (leaked) {
  let cursor = '0';
  const names: string[] = [];
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    names.push(...keys);
  } while (cursor !== '0');
  process.stdout.write(`  left: ${names.slice(0, 10).join(', ')}\n`);
  if (names.length > 0) await redis.del(...names);
}
await redis.quit();
const failed = errors.length > 0 || leaked || reported.some((line) => line.startsWith('error'));
process.stdout.write(failed ? 'soak: FAILED\n' : 'soak: OK\n');
process.exit(failed ? 1 : 0);
