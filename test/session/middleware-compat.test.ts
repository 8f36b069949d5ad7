/**
 * Sessions move between express-session and sessionMiddleware() in both directions: the same
 * cookie and the same store records, on Redis (connect-redis via createSessionStore) and on
 * express-session's MemoryStore (the generic-store path, without rawRecordOf()).
 */
import express, { type Express } from 'express';
import session, { type Store } from 'express-session';
import type { Redis } from 'ioredis';
import { createSessionStore } from '../../src/session/store.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { attribute, COOKIE, countCalls, get, idOf, MAX_AGE, routes, SECRET, serve, sessionApp, type Served } from './session-harness.js';

const prefix = testPrefix('session-compat');
let redis: Redis;
const servers: Served[] = [];

beforeAll(async () => {
  redis = await connect();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await cleanup(prefix, redis);
});

function expressSessionApp(store: Store, secret: string | string[] = SECRET): Express {
  const app = express();
  app.set('etag', false);
  app.use(
    session({
      store,
      secret,
      name: COOKIE,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: MAX_AGE },
    }),
  );
  routes(app);
  return app;
}

/** How far in the future a Set-Cookie line's Expires is, in ms. */
function lifetime(line: string): number {
  return Date.parse(attribute(line, 'Expires')!) - Date.now();
}

interface Pair {
  /** Store of the express-session app and of ours: one shared store, or two stores on one Redis prefix. */
  theirs: Store;
  ours: Store;
}

const kinds: [string, () => Pair][] = [
  [
    'Redis (two stores on one prefix, as two processes)',
    () => ({
      theirs: createSessionStore({ client: redis, prefix, logger: recordingLogger() }),
      ours: createSessionStore({ client: redis, prefix, logger: recordingLogger() }),
    }),
  ],
  [
    'MemoryStore (one store, both middlewares)',
    () => {
      const store = new session.MemoryStore();
      return { theirs: store, ours: store };
    },
  ],
];

describe.each(kinds)('express-session <-> sessionMiddleware on %s', (_kind, makeStores) => {
  async function start(options: { oursSecrets?: string[]; laterSecret?: string } = {}) {
    const { theirs, ours } = makeStores();
    // express-session first: ours is created after it on a shared store (the harder order for store.generate).
    const theirApp = await serve(expressSessionApp(theirs));
    // Our cookies live twice as long as express-session's: whose generator made a session shows.
    const ourTest = sessionApp(ours, {
      touchAfterMs: 60_000,
      cookie: { httpOnly: true, sameSite: 'lax', path: '/', maxAge: 2 * MAX_AGE },
      ...(options.oursSecrets ? { secrets: options.oursSecrets } : {}),
    });
    const counts = countCalls(ours);
    const ourApp = await serve(ourTest.app);
    servers.push(theirApp, ourApp);
    // express-session after the rotation: only the new secret.
    const laterApp = options.laterSecret ? await serve(expressSessionApp(theirs, options.laterSecret)) : undefined;
    if (laterApp) servers.push(laterApp);
    return { theirs: theirApp.url, ours: ourApp.url, later: laterApp?.url, counts };
  }

  type Read = { id: string; session: Record<string, unknown> & { cookie: Record<string, unknown> } };

  it('a session express-session wrote is read, changed and saved by sessionMiddleware, and read back', async () => {
    const { theirs, ours, counts } = await start();
    const created = await get(`${theirs}/set?user=alice`);
    expect(created.setCookies).toHaveLength(1);
    const cookie = created.cookieValue!;
    const id = idOf(cookie);
    // (On a shared store the counts include express-session's calls.)
    counts.reset();

    const info = await get(`${ours}/info`, cookie);
    expect(info.json()).toMatchObject({ data: { user: 'alice' }, has: true, storeError: false });
    // Built and compared, unchanged: nothing written (the comparison agrees with express-session's JSON).
    const read = await get(`${ours}/read`, cookie);
    expect(read.json<Read>()).toMatchObject({ id, session: { user: 'alice', cookie: { httpOnly: true, path: '/', sameSite: 'lax' } } });
    expect(counts.calls.set).toBe(0);

    const changed = await get(`${ours}/set?role=admin`, cookie);
    expect(changed.setCookies).toHaveLength(1);
    expect(changed.cookieValue).toBe(cookie);
    expect(counts.calls.set).toBe(1);

    const back = await get(`${theirs}/read`, cookie);
    expect(back.json<Read>()).toMatchObject({ id, session: { user: 'alice', role: 'admin' } });
    // express-session sees an intact record: it touches (rolling false: no cookie) and keeps the id.
    expect(back.setCookies).toEqual([]);
  });

  it('a session sessionMiddleware wrote is read, changed and saved by express-session, and read back', async () => {
    const { theirs, ours } = await start();
    const created = await get(`${ours}/set?user=bob`);
    expect(created.setCookies).toHaveLength(1);
    const cookie = created.cookieValue!;
    const id = idOf(cookie);

    const read = await get(`${theirs}/read`, cookie);
    expect(read.json<Read>()).toMatchObject({
      id,
      session: { user: 'bob', cookie: { httpOnly: true, path: '/', sameSite: 'lax', originalMaxAge: expect.any(Number) } },
    });
    const nested = await get(`${theirs}/nested`, cookie);
    expect(nested.status).toBe(200);
    expect(nested.cookieValue).toBe(cookie);

    const back = await get(`${ours}/info`, cookie);
    expect(back.json()).toMatchObject({ data: { user: 'bob', deep: { list: [1] } } });
  });

  it('both write records of the same shape', async () => {
    const { theirs, ours } = await start();
    const a = await get(`${theirs}/set?user=x`);
    const b = await get(`${ours}/set?user=x`);
    const ra = (await get(`${ours}/read`, a.cookieValue)).json<Read>().session;
    const rb = (await get(`${theirs}/read`, b.cookieValue)).json<Read>().session;
    expect(Object.keys(rb)).toEqual(Object.keys(ra));
    expect(Object.keys(rb.cookie).sort()).toEqual(Object.keys(ra.cookie).sort());
    expect({ ...rb.cookie, expires: 0, originalMaxAge: 0 }).toEqual({ ...ra.cookie, expires: 0, originalMaxAge: 0 });
  });

  it('regenerate() in sessionMiddleware yields a session express-session accepts; destroy() in express-session ends it for both', async () => {
    const { theirs, ours } = await start();
    const created = await get(`${theirs}/set?user=carol`);
    const regenerated = await get(`${ours}/regenerate`, created.cookieValue);
    expect(regenerated.setCookies).toHaveLength(1);
    expect(lifetime(regenerated.setCookies[0]!)).toBeGreaterThan(MAX_AGE + 10_000);
    const cookie = regenerated.cookieValue!;
    expect(idOf(cookie)).not.toBe(idOf(created.cookieValue!));
    // Made by our generator (a 32-character id), not express-session's (uid-safe, also 32): check the data instead.
    const read = await get(`${theirs}/read`, cookie);
    expect(read.json<Read>()).toMatchObject({ id: idOf(cookie), session: { k: 'after-regenerate' } });
    expect(read.json<Read>().session).not.toHaveProperty('user');
    expect((await get(`${theirs}/read`, created.cookieValue)).json<Read>().session).not.toHaveProperty('user');

    await get(`${theirs}/destroy`, cookie);
    expect((await get(`${ours}/info`, cookie)).json()).toMatchObject({ data: null });
  });

  it('regenerate() in express-session still makes an express-session session on a store sessionMiddleware shares', async () => {
    const { theirs, ours } = await start();
    const created = await get(`${ours}/set?user=dan`);
    const regenerated = await get(`${theirs}/regenerate`, created.cookieValue);
    expect(regenerated.setCookies).toHaveLength(1);
    expect(lifetime(regenerated.setCookies[0]!)).toBeLessThanOrEqual(MAX_AGE);
    const cookie = regenerated.cookieValue!;
    expect(idOf(cookie)).not.toBe(idOf(created.cookieValue!));
    expect((await get(`${ours}/info`, cookie)).json()).toMatchObject({ data: { k: 'after-regenerate' } });
    expect((await get(`${ours}/info`, created.cookieValue)).json()).toMatchObject({ data: null });
  });

  it('rotation across the two: an old-secret express-session cookie is accepted, renewed under the new secret, and express-session with the new secret reads it', async () => {
    const { theirs, ours, later } = await start({ oursSecrets: ['rotated-secret', SECRET], laterSecret: 'rotated-secret' });
    const created = await get(`${theirs}/set?user=erin`);
    const renewed = await get(`${ours}/set?user=erin2`, created.cookieValue);
    expect(renewed.setCookies).toHaveLength(1);
    expect(renewed.cookieValue).not.toBe(created.cookieValue);
    expect(idOf(renewed.cookieValue!)).toBe(idOf(created.cookieValue!));
    expect((await get(`${later!}/read`, renewed.cookieValue)).json<Read>().session).toMatchObject({ user: 'erin2' });
    expect((await get(`${later!}/read`, created.cookieValue)).json<Read>().session).not.toHaveProperty('user');
  });
});
