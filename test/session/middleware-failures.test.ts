/**
 * sessionMiddleware() with a store that fails: the request goes on signed out (never a 500 from
 * the middleware), and a failed write at the end is logged while the response completes.
 */
import session, { type SessionData } from 'express-session';
import type { Express } from 'express';
import { signSessionId } from '../../src/session/cookie.js';
import type { SessionMiddlewareOptions } from '../../src/session/middleware.js';
import { get, idOf, MAX_AGE, SECRET, serve, sessionApp, type Served } from './session-harness.js';
import { eventually } from '../support/eventually.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- MemoryStore passes each method its own result type
type Callback = (err?: any, data?: any) => void;

/** A MemoryStore whose methods can be made to fail, hang or answer late. */
class FaultyStore extends session.MemoryStore {
  getMode: 'ok' | 'error' | 'hang' | 'late' | 'throw' = 'ok';
  setFails = false;
  touchFails = false;
  lateAnswered = false;

  override get(sid: string, cb: Callback): void {
    switch (this.getMode) {
      case 'error':
        setImmediate(() => cb(new Error('store is down')));
        return;
      case 'hang':
        return;
      case 'throw':
        throw new Error('store threw');
      case 'late':
        setTimeout(() => {
          super.get(sid, (err, sess) => {
            cb(err, sess);
            this.lateAnswered = true;
          });
        }, 150);
        return;
      default:
        super.get(sid, cb);
    }
  }
  override set(sid: string, sess: SessionData, cb?: Callback): void {
    if (this.setFails) {
      setImmediate(() => cb?.(new Error('write refused')));
      return;
    }
    super.set(sid, sess, cb);
  }
  override touch(sid: string, sess: SessionData, cb?: Callback): void {
    if (this.touchFails) {
      setImmediate(() => cb?.(new Error('touch refused')));
      return;
    }
    super.touch(sid, sess, cb);
  }
}

const servers: Served[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(options: Partial<SessionMiddlewareOptions> = {}) {
  const store = new FaultyStore();
  const test = sessionApp(store, { timeoutMs: 100, ...options });
  const handled = new Map<string, number>();
  // Counted after the session middleware: a second next() from it would show here.
  (test.app as Express).get('/counted', (req, res) => {
    handled.set(req.path, (handled.get(req.path) ?? 0) + 1);
    res.json({ session: req.session ?? null });
  });
  const served = await serve(test.app);
  servers.push(served);
  return { ...test, store, handled, url: served.url };
}

async function createSession(url: string): Promise<string> {
  const reply = await get(`${url}/set?user=alice`);
  expect(reply.cookieValue).toBeDefined();
  return reply.cookieValue!;
}

const warnings = (logger: { lines: { level: string; message: string }[] }) =>
  logger.lines.filter((l) => l.level === 'warn').map((l) => l.message);

describe('sessionMiddleware with a failing store', () => {
  it.each([
    ['answers an error', 'error'],
    ['never answers (timeoutMs)', 'hang'],
    ['throws instead of calling back', 'throw'],
  ] as const)('a store that %s: the request goes on without a session', async (_what, mode) => {
    const { url, store, logger, handled } = await start();
    const cookie = await createSession(url);
    store.getMode = mode;
    const started = Date.now();
    const info = await get(`${url}/info`, cookie);
    expect(info.status).toBe(200);
    expect(info.json()).toEqual({ data: null, has: false, storeError: true, session: null });
    expect(info.setCookies).toEqual([]);
    const counted = await get(`${url}/counted`, cookie);
    expect(counted.status).toBe(200);
    expect(counted.json()).toEqual({ session: null });
    expect(handled.get('/counted')).toBe(1);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(warnings(logger)).toEqual([
      'session store unavailable; request continues signed out',
      'session store unavailable; request continues signed out',
    ]);
    // The store back: the session is still there.
    store.getMode = 'ok';
    expect((await get(`${url}/info`, cookie)).json()).toMatchObject({ data: { user: 'alice' }, has: true, storeError: false });
  });

  it('an answer that comes after the timeout is ignored (the route runs once)', async () => {
    const { url, store, handled, logger } = await start({ timeoutMs: 30 });
    const cookie = await createSession(url);
    store.getMode = 'late';
    const reply = await get(`${url}/counted`, cookie);
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ session: null });
    await eventually(() => store.lateAnswered, 5000);
    // Let the late answer's continuation (if any) run through the app.
    await new Promise((resolve) => setImmediate(resolve));
    expect(handled.get('/counted')).toBe(1);
    expect(warnings(logger)).toEqual(['session store unavailable; request continues signed out']);
    // The server still answers normally.
    store.getMode = 'ok';
    expect((await get(`${url}/info`, cookie)).json()).toMatchObject({ data: { user: 'alice' } });
  });

  it('a failed save at the end is logged and the response still completes', async () => {
    const { url, store, logger } = await start();
    store.setFails = true;
    const reply = await get(`${url}/set?user=bob`);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('set');
    expect(warnings(logger)).toEqual(['session store failed while saving the session']);
    // Nothing was stored under the id the cookie names.
    store.setFails = false;
    expect((await get(`${url}/info`, reply.cookieValue)).json()).toMatchObject({ data: null });
  });

  it('a failed save of a stored session keeps the old record', async () => {
    const { url, store, logger } = await start();
    const cookie = await createSession(url);
    store.setFails = true;
    const reply = await get(`${url}/nested`, cookie);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('nested');
    expect(warnings(logger)).toEqual(['session store failed while saving the session']);
    store.setFails = false;
    const info = (await get(`${url}/info`, cookie)).json<{ data: Record<string, unknown> }>();
    expect(info.data).toMatchObject({ user: 'alice' });
    expect(info.data).not.toHaveProperty('deep');
  });

  it('a failed touch is logged and the response still completes', async () => {
    const { url, store, logger } = await start({ touchAfterMs: 0 });
    const cookie = await createSession(url);
    store.touchFails = true;
    const reply = await get(`${url}/view`, cookie);
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('page');
    expect(warnings(logger)).toEqual(['session store failed while renewing the session']);
  });

  it('a signed cookie for a record the store does not have: a fresh session, nothing stored unless changed', async () => {
    const { url, store } = await start();
    const cookie = encodeURIComponent(signSessionId('no-such-session', SECRET));
    const info = await get(`${url}/read`, cookie);
    expect(info.setCookies).toEqual([]);
    const fresh = info.json<{ id: string }>().id;
    expect(fresh).not.toBe('no-such-session');
    const reply = await get(`${url}/set?user=new`, cookie);
    expect(reply.setCookies).toHaveLength(1);
    const id = idOf(reply.cookieValue!);
    expect(id).not.toBe('no-such-session');
    const stored = await new Promise<unknown>((resolve) => store.get(id, (_err, sess) => resolve(sess)));
    // express-session's Cookie takes originalMaxAge from two reads of the clock (expires, then
    // expires - now): a process descheduled between them, as on a loaded machine, stores a few ms less.
    expect(stored).toMatchObject({ user: 'new', cookie: { originalMaxAge: expect.any(Number) } });
    const { originalMaxAge } = (stored as { cookie: { originalMaxAge: number } }).cookie;
    expect(originalMaxAge).toBeLessThanOrEqual(MAX_AGE);
    expect(originalMaxAge).toBeGreaterThan(MAX_AGE - 1000);
  });
});
