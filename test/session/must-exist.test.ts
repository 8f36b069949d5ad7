/**
 * A signed-in session is written back only over its record (`mustExist`, SET ... XX): a request
 * that loaded it cannot re-create it after a logout elsewhere destroyed it mid-request. Other
 * sessions are written as before.
 */
import express from 'express';
import type { Redis } from 'ioredis';
import { sessionMiddleware } from '../../src/session/middleware.js';
import { createSessionStore, SessionEndedError } from '../../src/session/store.js';
import { signSessionId } from '../../src/session/cookie.js';
import { cleanup, connect, recordingLogger, testPrefix } from '../support/redis.js';
import { COOKIE, get, MAX_AGE, SECRET, serve, type Served } from './session-harness.js';

const prefix = testPrefix('must-exist');
let redis: Redis;
let served: Served;
const logger = recordingLogger();
const saveErrors: unknown[] = [];

beforeAll(async () => {
  redis = await connect();
  const store = createSessionStore({ client: redis, prefix, logger });
  const app = express();
  app.use(
    sessionMiddleware({
      name: COOKIE,
      secrets: [SECRET],
      store,
      cookie: { httpOnly: true, path: '/', maxAge: MAX_AGE },
      rolling: true,
      touchAfterMs: 60_000,
      timeoutMs: 2000,
      mustExist: (data) => (data as { user?: unknown }).user !== undefined,
      logger,
    }),
  );
  // Ends the session in the store while the request runs (as a back-channel logout would), then
  // changes it: at the end of the response, or with an explicit save.
  app.get('/race/:how', async (req, res) => {
    await redis.del(`${prefix}${req.sessionID}`);
    const data = req.session as unknown as { visits?: number };
    data.visits = (data.visits ?? 0) + 1;
    if (req.params.how === 'save') {
      await new Promise<void>((resolve) =>
        req.session!.save((err) => {
          saveErrors.push(err);
          resolve();
        }),
      );
    }
    res.send('done');
  });
  app.get('/change', (req, res) => {
    const data = req.session as unknown as { visits?: number };
    data.visits = (data.visits ?? 0) + 1;
    res.send('changed');
  });
  served = await serve(app);
});

afterAll(async () => {
  await served.close();
  await cleanup(prefix, redis);
});

async function plant(id: string, data: Record<string, unknown>): Promise<string> {
  const cookie = { originalMaxAge: MAX_AGE, expires: new Date(Date.now() + MAX_AGE).toISOString(), httpOnly: true, path: '/' };
  await redis.set(`${prefix}${id}`, JSON.stringify({ cookie, ...data }), 'PX', MAX_AGE);
  return encodeURIComponent(signSessionId(id, SECRET));
}

describe('mustExist', () => {
  it('does not re-create a signed-in session destroyed during the request (end of response)', async () => {
    const cookie = await plant('signed-in-end', { user: 'alice' });
    expect((await get(`${served.url}/race/end`, cookie)).status).toBe(200);
    expect(await redis.exists(`${prefix}signed-in-end`)).toBe(0);
    expect(logger.lines.some((c) => c.level === 'info' && /not written back/.test(c.message))).toBe(true);
  });

  it('fails an explicit save of such a session with SessionEndedError, and writes nothing', async () => {
    saveErrors.length = 0;
    const cookie = await plant('signed-in-save', { user: 'alice' });
    expect((await get(`${served.url}/race/save`, cookie)).status).toBe(200);
    expect(saveErrors).toHaveLength(1);
    expect(saveErrors[0]).toBeInstanceOf(SessionEndedError);
    expect(await redis.exists(`${prefix}signed-in-save`)).toBe(0);
  });

  it('still writes a session the predicate does not cover (no sign-in in it)', async () => {
    const cookie = await plant('anonymous', { cart: 1 });
    expect((await get(`${served.url}/race/end`, cookie)).status).toBe(200);
    expect(JSON.parse((await redis.get(`${prefix}anonymous`))!)).toMatchObject({ cart: 1, visits: 1 });
  });

  it('updates a signed-in session that still exists, keeping a TTL', async () => {
    const cookie = await plant('alive', { user: 'bob' });
    expect((await get(`${served.url}/change`, cookie)).status).toBe(200);
    expect(JSON.parse((await redis.get(`${prefix}alive`))!)).toMatchObject({ user: 'bob', visits: 1 });
    expect(await redis.pttl(`${prefix}alive`)).toBeGreaterThan(MAX_AGE - 5000);
  });
});
