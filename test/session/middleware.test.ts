/**
 * sessionMiddleware() against a real Express app and a real Redis (connect-redis through
 * createSessionStore): what is written, when, and which cookies go out.
 */
import type { Express } from 'express';
import type { Store } from 'express-session';
import type { Redis } from 'ioredis';
import { signSessionId } from '../../src/session/cookie.js';
import { sessionMiddleware, type SessionMiddlewareOptions } from '../../src/session/middleware.js';
import { createSessionStore } from '../../src/session/store.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { eventually } from '../support/eventually.js';
import {
  attribute,
  COOKIE,
  countCalls,
  get,
  idOf,
  MAX_AGE,
  monitorPrefix,
  readRecord,
  SECRET,
  serve,
  sessionApp,
  type Served,
} from './session-harness.js';

const prefix = testPrefix('session-middleware');
let redis: Redis;
let monitor: Awaited<ReturnType<typeof monitorPrefix>>;
const servers: Served[] = [];

beforeAll(async () => {
  redis = await connect();
  monitor = await monitorPrefix(redis, prefix);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await monitor.stop();
  await cleanup(prefix, redis);
});

/** A fresh store (and app) per test: the middleware's renewal memory starts empty. */
async function start(options: Partial<SessionMiddlewareOptions> = {}, before?: (app: Express) => void) {
  const store = createSessionStore({ client: redis, prefix, logger: recordingLogger() });
  const counts = countCalls(store);
  const test = sessionApp(store, options, before);
  const served = await serve(test.app);
  servers.push(served);
  return { ...test, store, counts, url: served.url };
}

/** Writes a record directly and returns a cookie value for it. */
async function plant(
  store: Store,
  id: string,
  data: Record<string, unknown>,
  maxAge = MAX_AGE,
  cookieExtra: Record<string, unknown> = {},
): Promise<string> {
  const cookie = {
    originalMaxAge: maxAge,
    expires: new Date(Date.now() + maxAge).toISOString(),
    httpOnly: true,
    path: '/',
    sameSite: 'lax',
    ...cookieExtra,
  };
  await new Promise<void>((resolve, reject) => store.set(id, { cookie, ...data } as never, (err) => (err ? reject(err) : resolve())));
  return encodeURIComponent(signSessionId(id, SECRET));
}

/** Creates a session through the app (one request that sets data): its cookie value and id. */
async function createSession(url: string, query = 'user=alice'): Promise<{ cookie: string; id: string }> {
  const reply = await get(`${url}/set?${query}`);
  expect(reply.status).toBe(200);
  expect(reply.cookieValue).toBeDefined();
  return { cookie: reply.cookieValue!, id: idOf(reply.cookieValue!) };
}

/** The Redis commands on one session's key since the last `monitor.clear()`, after settling. */
async function commandsOn(id: string): Promise<string[]> {
  await monitor.settle();
  return monitor.commands.filter((c) => c[1] === prefix + id).map((c) => c[0]!);
}

const READS = new Set(['get', 'pttl', 'ttl', 'exists']);
const writesOf = (commands: string[]) => commands.filter((c) => !READS.has(c));

describe('sessionMiddleware: visitors without a cookie', () => {
  it('writes nothing and sets no cookie when the handler does not use the session', async () => {
    const { url, counts } = await start();
    monitor.clear();
    for (const path of ['/view', '/read', '/info']) {
      const reply = await get(url + path);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toEqual([]);
    }
    await monitor.settle();
    expect(monitor.commands).toEqual([]);
    expect(counts.calls).toEqual({ get: 0, set: 0, touch: 0, destroy: 0 });
  });

  it('a fresh session read but not changed is not stored', async () => {
    const { url } = await start();
    const reply = await get(`${url}/read`);
    expect(reply.json<{ id: string; session: { cookie: unknown } }>().id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(reply.setCookies).toEqual([]);
    const revert = await get(`${url}/revert`);
    expect(revert.setCookies).toEqual([]);
    await monitor.settle();
    expect(monitor.writes()).toEqual([]);
  });

  it('stores one record and sets one cookie with the configured attributes when the handler sets data', async () => {
    const { url, counts } = await start();
    monitor.clear();
    const before = Date.now();
    const reply = await get(`${url}/set?user=alice`);
    const after = Date.now();
    expect(reply.setCookies).toHaveLength(1);
    const line = reply.setCookies[0]!;
    expect(attribute(line, 'HttpOnly')).toBe('');
    expect(attribute(line, 'SameSite')).toBe('Lax');
    expect(attribute(line, 'Path')).toBe('/');
    expect(attribute(line, 'Secure')).toBeUndefined();
    const expires = Date.parse(attribute(line, 'Expires')!);
    // Expires has one-second resolution.
    expect(expires).toBeGreaterThanOrEqual(Math.floor((before + MAX_AGE) / 1000) * 1000);
    expect(expires).toBeLessThanOrEqual(after + MAX_AGE);
    const id = idOf(reply.cookieValue!);
    // The record is there as soon as the response is: the response waited for the write.
    const record = await readRecord(redis, prefix, id);
    expect(record).toMatchObject({
      user: 'alice',
      cookie: { httpOnly: true, path: '/', sameSite: 'lax', originalMaxAge: expect.any(Number) },
    });
    const ttl = await redis.pttl(prefix + id);
    expect(ttl).toBeGreaterThan(MAX_AGE - 5000);
    expect(ttl).toBeLessThanOrEqual(MAX_AGE);
    expect(counts.calls.set).toBe(1);
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
  });

  it('ignores a tampered, foreign or unsigned cookie (a fresh session, no store read)', async () => {
    const { url, counts } = await start();
    const { cookie } = await createSession(url);
    counts.reset();
    const decoded = decodeURIComponent(cookie);
    for (const bad of [
      encodeURIComponent(decoded.slice(0, -2)),
      encodeURIComponent(signSessionId(idOf(cookie), 'another-secret')),
      encodeURIComponent(decoded.slice(2)),
      // One character changed: a different one whatever the cookie held there.
      encodeURIComponent(`${decoded.slice(0, 5)}${decoded[5] === 'X' ? 'Y' : 'X'}${decoded.slice(6)}`),
    ]) {
      const reply = await get(`${url}/info`, bad);
      expect(reply.json()).toMatchObject({ data: null, has: true, storeError: false });
    }
    expect(counts.calls.get).toBe(0);
  });
});

describe('sessionMiddleware: page views and the rolling renewal', () => {
  it('a page view that never touches req.session writes nothing and sets no cookie within touchAfterMs', async () => {
    const { url, counts } = await start({ touchAfterMs: 60_000 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    counts.reset();
    for (let i = 0; i < 5; i++) {
      const reply = await get(`${url}/view`, cookie);
      expect(reply.status).toBe(200);
      expect(reply.setCookies).toEqual([]);
    }
    // Reading the data without building req.session is free too.
    const info = await get(`${url}/info`, cookie);
    expect(info.json()).toMatchObject({ data: { user: 'alice' }, has: true });
    expect(info.setCookies).toEqual([]);
    expect(await commandsOn(id)).toEqual(['get', 'get', 'get', 'get', 'get', 'get']);
    expect(counts.calls).toEqual({ get: 6, set: 0, touch: 0, destroy: 0 });
  });

  it('renews once touchAfterMs has passed: one EXPIRE and one Set-Cookie, then quiet again', async () => {
    const touchAfterMs = 400;
    const { url } = await start({ touchAfterMs });
    const created = Date.now();
    const { cookie, id } = await createSession(url);
    const ttlAtStart = await redis.pttl(prefix + id);
    const measured = Date.now();
    monitor.clear();
    let renewal: Awaited<ReturnType<typeof get>> | undefined;
    let quietViews = 0;
    // Poll with page views: each is either quiet (before the threshold) or the renewal.
    await eventually(
      async () => {
        const reply = await get(`${url}/view`, cookie);
        if (reply.setCookies.length === 0) {
          quietViews++;
          return false;
        }
        renewal = reply;
        return true;
      },
      { timeoutMs: 10_000, stepMs: 25 },
    );
    expect(Date.now() - created).toBeGreaterThanOrEqual(touchAfterMs);
    expect(renewal!.setCookies).toHaveLength(1);
    expect(idOf(renewal!.cookieValue!)).toBe(id);
    expect(attribute(renewal!.setCookies[0]!, 'HttpOnly')).toBe('');
    expect(quietViews).toBeGreaterThan(0);
    expect(writesOf(await commandsOn(id))).toEqual(['expire']);
    // Without the EXPIRE the key would have at most ttlAtStart minus the time since left.
    const ttlAfter = await redis.pttl(prefix + id);
    expect(ttlAfter).toBeGreaterThan(ttlAtStart - (Date.now() - measured) + 100);
    // Right after the renewal, quiet again.
    monitor.clear();
    const next = await get(`${url}/view`, cookie);
    expect(next.setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual([]);
  });

  it('with touchAfterMs 0 every response renews (as express-session)', async () => {
    const { url } = await start({ touchAfterMs: 0 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    for (let i = 0; i < 3; i++) {
      const reply = await get(`${url}/view`, cookie);
      expect(reply.setCookies).toHaveLength(1);
      expect(idOf(reply.cookieValue!)).toBe(id);
    }
    expect(writesOf(await commandsOn(id))).toEqual(['expire', 'expire', 'expire']);
  });

  it('rolling false: no Set-Cookie for unchanged views, the record TTL still follows; a change sends the cookie', async () => {
    const { url } = await start({ rolling: false, touchAfterMs: 0 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    for (let i = 0; i < 2; i++) {
      const reply = await get(`${url}/view`, cookie);
      expect(reply.setCookies).toEqual([]);
      const read = await get(`${url}/read`, cookie);
      expect(read.setCookies).toEqual([]);
    }
    expect(writesOf(await commandsOn(id))).toEqual(['expire', 'expire', 'expire', 'expire']);
    monitor.clear();
    const changed = await get(`${url}/set?user=bob`, cookie);
    expect(changed.setCookies).toHaveLength(1);
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
  });

  it('a streamed response of an untouched session due for renewal still carries the renewed cookie', async () => {
    const { url } = await start({ touchAfterMs: 0 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/stream-view`, cookie);
    expect(reply.body).toBe('first,last');
    expect(reply.setCookies).toHaveLength(1);
    expect(idOf(reply.cookieValue!)).toBe(id);
    expect(writesOf(await commandsOn(id))).toEqual(['expire']);
  });

  it('keeps the renewal memory bounded: sessions past renewalMemory are renewed again on their next view', async () => {
    const renewalMemory = 3;
    const { url } = await start({ touchAfterMs: 60_000, renewalMemory });
    const sessions: { cookie: string; id: string }[] = [];
    for (let i = 0; i < 8; i++) sessions.push(await createSession(url, `user=u${i}`));
    // Newest first: the last `renewalMemory` are remembered (quiet), the older ones are not.
    const renewed: boolean[] = [];
    for (const { cookie } of [...sessions].reverse()) renewed.push((await get(`${url}/view`, cookie)).setCookies.length === 1);
    expect(renewed).toEqual([false, false, false, true, true, true, true, true]);

    // With the default memory, none is forgotten.
    const roomy = await start({ touchAfterMs: 60_000 });
    const kept: string[] = [];
    for (let i = 0; i < 8; i++) kept.push((await createSession(roomy.url, `user=v${i}`)).cookie);
    for (const cookie of kept) expect((await get(`${roomy.url}/view`, cookie)).setCookies).toEqual([]);
  });
});

describe('sessionMiddleware: modified sessions', () => {
  it('saves a top-level change with one SET before the response ends', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/set?user=bob&role=admin`, cookie);
    expect(await readRecord(redis, prefix, id)).toMatchObject({ user: 'bob', role: 'admin' });
    expect(reply.setCookies).toHaveLength(1);
    expect(idOf(reply.cookieValue!)).toBe(id);
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
  });

  it('saves a nested change (one SET each time)', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url);
    monitor.clear();
    await get(`${url}/nested`, cookie);
    expect((await readRecord(redis, prefix, id))!.deep).toEqual({ list: [1] });
    await get(`${url}/nested`, cookie);
    expect((await readRecord(redis, prefix, id))!.deep).toEqual({ list: [1, 2] });
    expect(writesOf(await commandsOn(id))).toEqual(['set', 'set']);
  });

  it('setting the value it already had is no change', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/set?user=alice`, cookie);
    expect(reply.setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual([]);
  });

  it('does not save a change that was reverted', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url, 'k=original');
    monitor.clear();
    const reply = await get(`${url}/revert`, cookie);
    expect(reply.setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual([]);
    expect(await readRecord(redis, prefix, id)).toMatchObject({ k: 'original' });
  });

  it('an explicit save() is not followed by a second write', async () => {
    const { url, counts } = await start();
    const { cookie, id } = await createSession(url);
    monitor.clear();
    counts.reset();
    const reply = await get(`${url}/save?v=one`, cookie);
    expect(reply.body).toBe('saved');
    expect((await readRecord(redis, prefix, id))!.saved).toBe('one');
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
    expect(counts.calls).toEqual({ get: 1, set: 1, touch: 0, destroy: 0 });
    // The one write gave the record the renewed cookie's lifetime.
    expect(reply.setCookies).toHaveLength(1);
    const expires = Date.parse(attribute(reply.setCookies[0]!, 'Expires')!);
    const ttl = await redis.pttl(prefix + id);
    expect(Math.abs(Date.now() + ttl - expires)).toBeLessThan(3000);
    expect(ttl).toBeGreaterThan(MAX_AGE - 5000);
  });

  it('an explicit save() of a new session: one write, and the cookie goes out', async () => {
    const { url, counts } = await start();
    const reply = await get(`${url}/save?v=new`);
    expect(reply.setCookies).toHaveLength(1);
    const id = idOf(reply.cookieValue!);
    expect((await readRecord(redis, prefix, id))!.saved).toBe('new');
    expect(counts.calls.set).toBe(1);
    expect(counts.ids.set).toEqual([id]);
  });

  it('regenerate() gives a new id and cookie, stores the new record and removes the old one', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url);
    const reply = await get(`${url}/regenerate`, cookie);
    expect(reply.setCookies).toHaveLength(1);
    const newId = idOf(reply.cookieValue!);
    expect(newId).not.toBe(id);
    expect(await redis.exists(prefix + id)).toBe(0);
    const record = await readRecord(redis, prefix, newId);
    expect(record).toMatchObject({ k: 'after-regenerate' });
    expect(record).not.toHaveProperty('user');
    // The new cookie works, the old one is a stranger now.
    expect((await get(`${url}/info`, reply.cookieValue)).json()).toMatchObject({ data: { k: 'after-regenerate' } });
    expect((await get(`${url}/info`, cookie)).json()).toMatchObject({ data: null });
  });

  it('destroy() removes the record and nothing is written back', async () => {
    const { url } = await start({ touchAfterMs: 0 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/destroy`, cookie);
    expect(reply.body).toBe('destroyed');
    expect(reply.setCookies).toEqual([]);
    expect(await redis.exists(prefix + id)).toBe(0);
    expect(writesOf(await commandsOn(id))).toEqual(['del']);
  });

  it('req.session = null writes nothing (and sets no cookie)', async () => {
    const { url } = await start({ touchAfterMs: 0 });
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/null`, cookie);
    expect(reply.body).toBe('nulled');
    expect(reply.setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual([]);
    expect(await readRecord(redis, prefix, id)).not.toHaveProperty('k');
  });

  it('reload() brings back the stored data and drops unsaved changes', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url, 'k=stored');
    monitor.clear();
    const reply = await get(`${url}/reload`, cookie);
    expect(reply.json()).toEqual({ k: 'stored' });
    expect(writesOf(await commandsOn(id))).toEqual([]);
    expect(await readRecord(redis, prefix, id)).toMatchObject({ k: 'stored' });
  });

  it('a streamed response (write before end) of a new session still gets its cookie, and the record is saved', async () => {
    const { url } = await start();
    const reply = await get(`${url}/stream?k=streamed`);
    expect(reply.body).toBe('first,last');
    expect(reply.setCookies).toHaveLength(1);
    expect(await readRecord(redis, prefix, idOf(reply.cookieValue!))).toMatchObject({ k: 'streamed' });
  });

  it('a streamed response of a modified stored session gets the renewed cookie and one SET', async () => {
    const { url } = await start();
    const { cookie, id } = await createSession(url);
    monitor.clear();
    const reply = await get(`${url}/stream?k=changed`, cookie);
    expect(reply.setCookies).toHaveLength(1);
    expect(idOf(reply.cookieValue!)).toBe(id);
    expect(await readRecord(redis, prefix, id)).toMatchObject({ k: 'changed' });
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
  });
});

describe('sessionMiddleware: secure cookies over plain HTTP', () => {
  it('sends no cookie but still saves a new session', async () => {
    const { url, counts } = await start({ cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: MAX_AGE, secure: true } });
    const reply = await get(`${url}/set?user=carol`);
    expect(reply.setCookies).toEqual([]);
    expect(counts.calls.set).toBe(1);
    const record = await readRecord(redis, prefix, counts.ids.set[0]!);
    expect(record).toMatchObject({ user: 'carol', cookie: { secure: true } });
  });

  it('sends no cookie but still touches (and saves) a stored session', async () => {
    const secure = { httpOnly: true, sameSite: 'lax' as const, path: '/', maxAge: MAX_AGE, secure: true };
    const { url, store } = await start({ touchAfterMs: 0, cookie: secure });
    const id = `secure-${Date.now()}`;
    // A record's cookie keeps the attributes it was stored with (as in express-session).
    const cookie = await plant(store, id, { user: 'dave' }, 20_000, { secure: true });
    monitor.clear();
    const view = await get(`${url}/view`, cookie);
    expect(view.setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual(['expire']);
    // The TTL followed the renewal (maxAge 60 s), not the planted 20 s.
    expect(await redis.pttl(prefix + id)).toBeGreaterThan(30_000);
    monitor.clear();
    const change = await get(`${url}/set?user=erin`, cookie);
    expect(change.setCookies).toEqual([]);
    expect(await readRecord(redis, prefix, id)).toMatchObject({ user: 'erin' });
  });
});

describe('sessionMiddleware: expiryCap', () => {
  const caps = new Map<string, number>();
  const expiryCap = (data: Record<string, unknown>) => (typeof data.user === 'string' ? caps.get(data.user) : undefined);

  it('never gives the cookie or the record an expiry past the cap', async () => {
    const { url } = await start({ touchAfterMs: 0, expiryCap });
    const cap = Date.now() + 10_000;
    caps.set('capped-1', cap);
    const reply = await get(`${url}/set?user=capped-1`);
    const id = idOf(reply.cookieValue!);
    expect(Date.parse(attribute(reply.setCookies[0]!, 'Expires')!)).toBeLessThanOrEqual(cap);
    expect(Date.now() + (await redis.pttl(prefix + id))).toBeLessThanOrEqual(cap + 1000);
    // A renewal (touchAfterMs 0) keeps to the cap too.
    const view = await get(`${url}/view`, reply.cookieValue);
    expect(view.setCookies).toHaveLength(1);
    expect(Date.parse(attribute(view.setCookies[0]!, 'Expires')!)).toBeLessThanOrEqual(cap);
    expect(Date.now() + (await redis.pttl(prefix + id))).toBeLessThanOrEqual(cap + 1000);
    expect((await readRecord(redis, prefix, id))!.cookie.expires).toBeDefined();
  });

  it('a cap earlier than the last renewal renews at once, then not again', async () => {
    const { url } = await start({ touchAfterMs: 60_000, expiryCap });
    const reply = await get(`${url}/set?user=capped-2`);
    const { cookieValue } = reply;
    const id = idOf(cookieValue!);
    expect(await redis.pttl(prefix + id)).toBeGreaterThan(MAX_AGE - 5000);
    expect((await get(`${url}/view`, cookieValue)).setCookies).toEqual([]);
    const cap = Date.now() + 8_000;
    caps.set('capped-2', cap);
    monitor.clear();
    const view = await get(`${url}/view`, cookieValue);
    expect(view.setCookies).toHaveLength(1);
    expect(Date.parse(attribute(view.setCookies[0]!, 'Expires')!)).toBeLessThanOrEqual(cap);
    expect(writesOf(await commandsOn(id))).toEqual(['expire']);
    expect(Date.now() + (await redis.pttl(prefix + id))).toBeLessThanOrEqual(cap + 1000);
    monitor.clear();
    expect((await get(`${url}/view`, cookieValue)).setCookies).toEqual([]);
    expect(writesOf(await commandsOn(id))).toEqual([]);
  });
});

describe('sessionMiddleware: records that are not sessions', () => {
  it.each([
    ['not JSON', 'this is not json'],
    ['JSON without a cookie', '{"user":"mallory"}'],
    ['a JSON array', '[1,2,3]'],
  ])('a record that is %s reads as no session, and the request gets a fresh one', async (_what, text) => {
    const { url } = await start();
    const id = `corrupt-${Math.random().toString(36).slice(2)}`;
    await redis.set(prefix + id, text, 'PX', 60_000);
    const cookie = encodeURIComponent(signSessionId(id, SECRET));
    const info = await get(`${url}/info`, cookie);
    expect(info.status).toBe(200);
    expect(info.json()).toMatchObject({ data: null, has: true, storeError: false });
    const reply = await get(`${url}/set?user=fresh`, cookie);
    expect(reply.status).toBe(200);
    const newId = idOf(reply.cookieValue!);
    expect(newId).not.toBe(id);
    expect(await readRecord(redis, prefix, newId)).toMatchObject({ user: 'fresh' });
  });
});

describe('sessionMiddleware: secret rotation', () => {
  it('accepts a cookie signed with an older secret and renews it signed with the first', async () => {
    const { url, store } = await start({ secrets: ['new-secret', SECRET], touchAfterMs: 0 });
    const id = `rotated-${Date.now()}`;
    const old = await plant(store, id, { user: 'rita' });
    const reply = await get(`${url}/info`, old);
    expect(reply.json()).toMatchObject({ data: { user: 'rita' } });
    expect(reply.setCookies).toHaveLength(1);
    expect(decodeURIComponent(reply.cookieValue!)).toBe(signSessionId(id, 'new-secret'));
  });
});

describe('sessionMiddleware: mounted twice on one request', () => {
  it('the second instance leaves the first in charge: one read, one write, one cookie', async () => {
    const store = createSessionStore({ client: redis, prefix, logger: recordingLogger() });
    const counts = countCalls(store);
    const { app } = sessionApp(store, {}, (outer) => {
      outer.use(
        sessionMiddleware({
          name: COOKIE,
          secrets: [SECRET],
          store,
          cookie: { httpOnly: true, path: '/', maxAge: MAX_AGE },
          rolling: true,
          touchAfterMs: 60_000,
          timeoutMs: 2000,
          logger: recordingLogger(),
        }),
      );
    });
    const served = await serve(app);
    servers.push(served);
    const { cookie, id } = await createSession(served.url);
    expect(counts.calls.set).toBe(1);
    counts.reset();
    monitor.clear();
    expect((await get(`${served.url}/view`, cookie)).status).toBe(200);
    const changed = await get(`${served.url}/set?user=twice`, cookie);
    expect(changed.setCookies).toHaveLength(1);
    expect(counts.calls).toEqual({ get: 2, set: 1, touch: 0, destroy: 0 });
    expect(writesOf(await commandsOn(id))).toEqual(['set']);
  });
});
