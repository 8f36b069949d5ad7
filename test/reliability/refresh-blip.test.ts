/**
 * A Redis blip while a refresh grant (RFC 6749 §6) is at the issuer never signs the user out and
 * never loses the refresh token: the issuer rotates refresh tokens (RFC 9700 §4.14.2), so the old
 * one is spent the moment the grant succeeds, and the new one must reach the session once Redis
 * is back. The example app (embedded IdP, 10 s access tokens: every /profile refreshes) reaches
 * Redis through a relay the test cuts from inside the IdP's token endpoint.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { startServer, type RunningServer } from '../../example-app/listen.js';
import { createRedisClient, closeRedisClient } from '../../src/redis/client.js';
import { RefreshCoordinator } from '../../src/redis/refresh-coordinator.js';
import { CookieJar, request, signIn } from '../example-app/helpers/browserless.js';
import { pastExpiryOfTokensFromNow } from '../support/expiry.js';
import { deletePrefix, eventually, REDIS_URL, RedisRelay, sessionIdOf } from './helpers.js';

const prefix = `test:reliability:blip:${randomBytes(4).toString('hex')}:`;
const relay = new RedisRelay();
/** Access token lifetime at the embedded IdP: each /profile after it ran out refreshes. */
const TTL = 2;
let running: RunningServer;
let redis: Redis;
const refreshGrants = { ok: 0, failed: [] as string[] };
/** Runs (once) inside the IdP's token endpoint when the next refresh grant succeeded. */
let onRefreshGrant: (() => void) | undefined;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

beforeAll(async () => {
  await relay.open();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  running = await startServer(
    { PORT: '0', HOST: '127.0.0.1', REDIS_URL: relay.url, SESSION_SECRET: randomBytes(32).toString('base64url') },
    { sessionPrefix: prefix, logger: quiet, idpAccessTokenTtlSeconds: TTL },
  );
  const provider = running.example.idp!.provider;
  // Emitted once the grant is done (the old refresh token is spent), before the answer is sent.
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    if (ctx.oidc.params?.grant_type !== 'refresh_token') return;
    refreshGrants.ok += 1;
    const hook = onRefreshGrant;
    onRefreshGrant = undefined;
    hook?.();
  });
  await healthy();
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: { error?: string }) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') refreshGrants.failed.push(err.error ?? 'unknown');
  });
});

afterEach(() => {
  onRefreshGrant = undefined;
});

afterAll(async () => {
  await running.close({ drainMs: 0 });
  await relay.cut();
  await deletePrefix(redis, prefix);
  await redis.quit();
});

async function healthy(): Promise<void> {
  await eventually(
    () => fetch(`${running.url}/healthz`),
    (res) => res.status === 200,
    20_000,
    'Redis to be back',
  );
}

async function signedInSession(): Promise<{ jar: CookieJar; key: string }> {
  const jar = new CookieJar();
  const { callback } = await signIn(jar, running.url, { returnTo: '/profile' });
  expect(callback.status).toBe(302);
  return { jar, key: `${prefix}sess:${sessionIdOf(jar.get(running.url, 'oidc.sid'))}` };
}

describe('a Redis blip while /profile refreshes the access token (rotating refresh tokens)', () => {
  it.each([
    ['Redis stays down until /profile answered', 'down-until-answered'],
    ['Redis is back at once (connections dropped, listening again)', 'back-at-once'],
  ])('%s: the user stays signed in and the next refreshes work', async (_name, mode) => {
    const { jar, key } = await signedInSession();
    const before = await redis.get(key);
    const grantsBefore = refreshGrants.ok;

    await pastExpiryOfTokensFromNow(TTL);
    onRefreshGrant = () => {
      const cut = relay.cut();
      if (mode === 'back-at-once') void cut.then(() => relay.open());
    };
    const blipped = await request(jar, `${running.url}/profile`);
    // The refresh ran at the issuer; the session may not have been written: a 503, not a sign-out.
    expect(refreshGrants.ok).toBeGreaterThan(grantsBefore);
    expect([200, 503]).toContain(blipped.status);
    expect(blipped.location ?? '').not.toMatch(/\/login/);

    await relay.open();
    await healthy();
    // The session record is still there (never destroyed by the blip).
    expect(await redis.get(key)).not.toBeNull();
    expect(before).not.toBeNull();

    const after = await request(jar, `${running.url}/profile`);
    expect(after.status).toBe(200);
    expect(after.body).toContain('id="sub"');
    // And the refresh token kept in the session is the live one: two more refreshes succeed.
    for (let i = 0; i < 2; i += 1) {
      await pastExpiryOfTokensFromNow(TTL);
      const page = await request(jar, `${running.url}/profile`);
      expect(page.status).toBe(200);
    }
    expect(refreshGrants.failed).toEqual([]);
  });
});

describe('RefreshCoordinator when Redis refuses the result of a refresh that happened', () => {
  it('answers it again in this process, and writes it (then frees the lock) once Redis is back, so another process never spends the old refresh token', async () => {
    const lockPrefix = `${prefix}lock:`;
    const viaRelay = createRedisClient(relay.url, quiet).client;
    const direct = createRedisClient(REDIS_URL, quiet).client;
    const a = new RefreshCoordinator(viaRelay, { prefix: lockPrefix, lockTtlMs: 20_000, waitMs: 15_000 });
    const b = new RefreshCoordinator(direct, { prefix: lockPrefix, lockTtlMs: 20_000, waitMs: 15_000 });
    try {
      await eventually(
        async () => viaRelay.ping(),
        (pong) => pong === 'PONG',
        10_000,
        'the relayed client',
      );
      let grants = 0;
      const first = await a.run('session-1', 'generation-1', async () => {
        grants += 1;
        await relay.cut(); // the grant is done at the issuer; Redis goes away before the result is written
        return 'sealed-new-tokens';
      });
      expect(first).toBe('sealed-new-tokens');
      // Redis still has the lock (its release failed too) and no result.
      expect(await redis.get(b.resultKey('session-1', 'generation-1'))).toBeNull();
      expect(await redis.get(b.lockKey('session-1'))).not.toBeNull();

      // Another process asks while the outcome is still unwritten: it waits on the lock...
      const other = b.run('session-1', 'generation-1', async () => {
        grants += 1;
        return 'spent-the-old-refresh-token-again';
      });
      // ...this process answers from memory even while Redis is down...
      expect(await a.run('session-1', 'generation-1', async () => 'must-not-run')).toBe('sealed-new-tokens');
      await relay.open();
      // ...and once Redis is back the result is written, so the other process reads it.
      expect(await other).toBe('sealed-new-tokens');
      expect(grants).toBe(1);
      await eventually(
        () => redis.exists(b.lockKey('session-1')),
        (n) => n === 0,
        10_000,
        'the lock to be released',
      );
    } finally {
      await a.close();
      await b.close();
      await closeRedisClient(viaRelay);
      await closeRedisClient(direct);
      await relay.open();
    }
  });
});
