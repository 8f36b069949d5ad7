/**
 * `npm run soak`: a long run of realistic traffic against the sign-in half and the API guard,
 * checking that nothing fails, leaks or lingers.
 *
 * For SOAK_SECONDS (default 300) SOAK_USERS virtual users (default 8, the bounded concurrency)
 * each loop: sign in through the embedded IdP's pages, view /profile (which refreshes the access
 * token once it is within the refresh margin, then calls the API with it) and call /api/me with
 * a Bearer token, pausing SOAK_THINK_MS (default 250) between steps, then log out or abandon
 * the session (it expires). Access tokens live 32 s (refreshed after 2 s), sessions 60 s.
 *
 * Prints throughput, p50/p99 latency, the error count, process RSS at start and end, and the
 * count of Redis keys under the run's prefix after every session expired. Exit code 1 when there
 * was an error, or the keys did not return to the start count (a leaked index entry or lock).
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { CookieJar, request, signIn } from '../../test/example-app/helpers/browserless.js';
import { tokensFromIdp } from '../../test/example-app/helpers/tokens.js';
import { reported, startSoakApp } from '../servers/soak-app.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const USERS = Number(process.env.SOAK_USERS ?? 8);
const THINK_MS = Number(process.env.SOAK_THINK_MS ?? 250);
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

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
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

const startKeys = await countKeys();
const app = await startSoakApp({
  redisURL: REDIS_URL,
  prefix,
  accessTokenTtlSeconds: ACCESS_TOKEN_SECONDS,
  sessionSeconds: SESSION_SECONDS,
  secret: randomBytes(32).toString('base64url'),
});
let refreshes = 0;
app.idp.provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: unknown } } }) => {
  if (ctx.oidc.params?.grant_type === 'refresh_token') refreshes += 1;
});
for (let i = 0; !(await app.oidc.health()); i += 1) {
  if (i > 50) throw new Error('Redis did not answer');
  await pause(100);
}
// One Bearer token for the API calls, obtained like any client would (code flow with PKCE).
const bearer = (await tokensFromIdp({ issuer: app.idp.issuer, clientID: 'example-app', clientSecret: app.clientSecret, redirectUri: `${app.url}/callback` })).access_token;

const bearerToken = { value: bearer };
const rssStart = process.memoryUsage().rss;
const startedAt = Date.now();
const endAt = startedAt + SECONDS * 1000;
process.stdout.write(`soak: ${SECONDS} s, ${USERS} users, prefix ${prefix}, app ${app.url}\n`);

async function user(): Promise<void> {
  while (Date.now() < endAt) {
    const jar = new CookieJar();
    const signedIn = await step('sign-in', () => signIn(jar, app.url, { returnTo: '/profile' }), (r) => r.callback.status === 302);
    if (!signedIn) continue;
    counts.signIns += 1;
    // Keep the session a few seconds: long enough for its access token to need a refresh.
    const keepUntil = Date.now() + 1000 + Math.random() * 5000;
    while (Date.now() < keepUntil && Date.now() < endAt) {
      await pause(THINK_MS);
      if (Math.random() < 0.5) {
        const page = await step('profile', () => request(jar, `${app.url}/profile`, { headers: { accept: 'application/json' } }), (p) => p.status === 200);
        if (page) counts.profiles += 1;
      } else {
        const res = await step('api', async () => (await fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${bearerToken.value}` } })).status, (s) => s === 200);
        if (res) counts.apiCalls += 1;
      }
    }
    if (Math.random() < 0.5) {
      const out = await step('logout', () => request(jar, `${app.url}/logout`), (p) => p.status === 302);
      if (out) counts.logouts += 1;
    } else {
      counts.abandoned += 1;
    }
  }
}

// The API token outlives its 32 s: refresh it for the API calls when it is about to expire.
const bearerTimer = setInterval(() => {
  void tokensFromIdp({ issuer: app.idp.issuer, clientID: 'example-app', clientSecret: app.clientSecret, redirectUri: `${app.url}/callback` })
    .then((t) => {
      bearerToken.value = t.access_token;
    })
    .catch((err: Error) => errors.push(`bearer token: ${err.message}`));
}, (ACCESS_TOKEN_SECONDS - 5) * 1000);

await Promise.all(Array.from({ length: USERS }, () => user()));
clearInterval(bearerTimer);
const elapsed = (Date.now() - startedAt) / 1000;
const rssEnd = process.memoryUsage().rss;

const sorted = [...latencies].sort((a, b) => a - b);
const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const keysAfterRun = await countKeys();
process.stdout.write(
  `requests: ${latencies.length} in ${elapsed.toFixed(1)} s = ${(latencies.length / elapsed).toFixed(1)} req/s\n` +
    `latency: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms\n` +
    `sign-ins ${counts.signIns}, profile views ${counts.profiles}, API calls ${counts.apiCalls}, refresh grants ${refreshes}, logouts ${counts.logouts}, abandoned sessions ${counts.abandoned}\n` +
    `errors: ${errors.length}${errors.length > 0 ? `\n  ${errors.slice(0, 10).join('\n  ')}` : ''}\n` +
    `library warnings/errors logged: ${reported.length}${reported.length > 0 ? `\n  ${[...new Set(reported)].slice(0, 10).join('\n  ')}` : ''}\n` +
    `rss: start ${mb(rssStart)}, end ${mb(rssEnd)}\n` +
    `redis keys under the prefix: start ${startKeys}, after the run ${keysAfterRun}; waiting for sessions to expire...\n`,
);

await app.close();
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
