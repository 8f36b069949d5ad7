/**
 * Logout sticks with any session store (issue 15 §9): a request in flight when the session ended
 * (here a token refresh waiting at the issuer) cannot write the signed-in session back, whether
 * the sessions live in the app's own express-session with connect-redis (`useExistingSession`),
 * in a MemoryStore, or in a `session.store` of the app's. Set-ups where no process could see
 * another's logout are refused at start-up.
 */
import { RedisStore } from 'connect-redis';
import express from 'express';
import session, { type Store } from 'express-session';
import type { Redis } from 'ioredis';
import { auth, requiresAuth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { startHostileIssuer, type HostileIssuer, type ScriptedAnswer } from '../support/hostile-issuer.js';
import { Browser } from '../support/browser.js';
import {
  assertionRedis,
  cleanPrefix,
  loginOptions,
  REDIS_URL,
  SECRET,
  sessionIdOf,
  startLoginApp,
  testPrefix,
  type LoginApp,
} from '../login/setup.js';

const prefix = testPrefix('logout-sticks');
let issuer: HostileIssuer;
let redis: Redis;
/** Refresh grants wait here until the test lets them go. */
let holdRefresh: Promise<void> | undefined;
const refreshArrived: (() => void)[] = [];

beforeAll(async () => {
  redis = assertionRedis();
  issuer = await startHostileIssuer();
  issuer.onToken = async (ctx): Promise<ScriptedAnswer> => {
    const answer = await ctx.valid();
    if (ctx.request.form.grant_type === 'refresh_token') {
      refreshArrived.shift()?.();
      await holdRefresh;
    }
    // Access tokens that are due for refresh at once: every getAccessToken() refreshes.
    return { body: { ...answer, expires_in: 0 } };
  };
});

afterAll(async () => {
  await issuer.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

/** The routes of the test app, behind `oidc` (and the app's own session middleware, if any). */
function routes(oidc: AuthRouter, before?: express.RequestHandler): express.Express {
  const app = express();
  if (before) app.use(before);
  app.use(oidc);
  app.get('/me', (req, res) => {
    res.json({ signedIn: req.oidc.isAuthenticated() });
  });
  app.get('/token', requiresAuth(), async (req, res) => {
    try {
      res.json({ token: await req.oidc.getAccessToken() });
    } catch (err) {
      res.status(401).json({ error: (err as { code?: string }).code ?? 'failed' });
    }
  });
  return app;
}

async function signIn(app: LoginApp, browser: Browser): Promise<void> {
  const login = await browser.get(`${app.url}/login?returnTo=/me`);
  const back = await browser.get(login.location!);
  expect((await browser.get(back.location!)).status).toBe(302);
  expect(JSON.parse((await browser.get(`${app.url}/me`)).text)).toEqual({ signedIn: true });
}

/**
 * Signs in, starts a /token request whose refresh waits at the issuer, logs out (`/logout`, or
 * `endSession`), then lets the refresh finish. Returns that request's answer.
 */
async function refreshAcrossLogout(
  app: LoginApp,
  browser: Browser,
  endSession?: () => Promise<void>,
): Promise<{ status: number; text: string }> {
  await signIn(app, browser);
  let release!: () => void;
  holdRefresh = new Promise<void>((resolve) => (release = resolve));
  const arrived = new Promise<void>((resolve) => refreshArrived.push(resolve));
  const inFlight = browser.get(`${app.url}/token`);
  await arrived;
  if (endSession) await endSession();
  else expect((await browser.clone().get(`${app.url}/logout`)).status).toBe(302);
  release();
  const answer = await inFlight;
  holdRefresh = undefined;
  return answer;
}

function storeGet(store: Store, id: string): Promise<unknown> {
  return new Promise((resolve, reject) => store.get(id, (err, data) => (err ? reject(err) : resolve(data))));
}

/** True when the store holds a signed-in record for the session. */
async function storedSignedIn(store: Store, id: string): Promise<boolean> {
  const data = (await storeGet(store, id)) as { oidc?: { login?: unknown } } | null | undefined;
  return data?.oidc?.login !== undefined;
}

function expectEnded(answer: { status: number; text: string }): void {
  expect(answer.status).not.toBe(200);
  expect(answer.text).not.toMatch(/"token"/);
}

async function startApp(options: Partial<AuthOptions>, before?: express.RequestHandler): Promise<LoginApp> {
  return startLoginApp({
    issuer,
    prefix,
    auth: { clientSecret: 'hostile-client-secret', ...options },
    app: (oidc) => routes(oidc, before),
  });
}

/**
 * refreshAcrossLogout() on an app with `useExistingSession` over express-session and connect-redis
 * (its keys under `<prefix><storeName>:`), then checks that the logout stuck: in the answer, in the
 * app's store and on the next page.
 */
async function refreshAcrossLogoutWithConnectRedis(storeName: string, endSession?: (app: LoginApp) => Promise<void>): Promise<void> {
  const appRedis = assertionRedis();
  const store = new RedisStore({ client: appRedis, prefix: `${prefix}${storeName}:` });
  const app = await startApp(
    { useExistingSession: true, session: { redis: REDIS_URL, prefix } },
    session({ name: 'app.sid', secret: SECRET, resave: false, saveUninitialized: false, store }),
  );
  try {
    const browser = new Browser();
    const answer = await refreshAcrossLogout(app, browser, endSession && (() => endSession(app)));
    const id = sessionIdOf(browser.cookies(app.url).get('app.sid')!.value);
    expectEnded(answer);
    expect(await storedSignedIn(store, id)).toBe(false);
    expect(JSON.parse((await browser.get(`${app.url}/me`)).text)).toEqual({ signedIn: false });
  } finally {
    await app.close();
    await appRedis.quit();
  }
}

describe('issue 15 §9: a logout is not undone by a request in flight', () => {
  it('with useExistingSession: express-session and connect-redis', async () => {
    await refreshAcrossLogoutWithConnectRedis('app-sess');
  });

  it('with useExistingSession: express-session and connect-redis, ended by a back-channel logout', async () => {
    await refreshAcrossLogoutWithConnectRedis('app-bcl', async (app) => {
      const now = Math.floor(Date.now() / 1000);
      const token = await issuer.sign(
        {
          iss: issuer.issuer,
          aud: issuer.clientId,
          iat: now,
          exp: now + 120,
          jti: `bcl-${now}-${Math.random()}`,
          sid: issuer.sid,
          events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        },
        { typ: 'logout+jwt' },
      );
      const res = await fetch(`${app.url}/backchannel-logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });
      expect(res.status).toBe(200);
    });
  });

  it('with useExistingSession: express-session and its MemoryStore (one process, session.allowMemoryStore)', async () => {
    const store = new session.MemoryStore();
    const app = await startApp(
      { useExistingSession: true, session: { allowMemoryStore: true } },
      session({ name: 'app.sid', secret: SECRET, resave: false, saveUninitialized: false, store }),
    );
    try {
      const browser = new Browser();
      const answer = await refreshAcrossLogout(app, browser);
      expectEnded(answer);
      expect(await storedSignedIn(store, sessionIdOf(browser.cookies(app.url).get('app.sid')!.value))).toBe(false);
      expect(JSON.parse((await browser.get(`${app.url}/me`)).text)).toEqual({ signedIn: false });
    } finally {
      await app.close();
    }
  });

  it('with session.store (a MemoryStore of the app), ended by sessions.destroy()', async () => {
    const store = new session.MemoryStore();
    const app = await startApp({ session: { store } });
    try {
      const browser = new Browser();
      const answer = await refreshAcrossLogout(app, browser, async () => {
        await app.oidc.sessions.destroy(sessionIdOf(browser.cookies(app.url).get('oidc.sid')!.value));
      });
      expectEnded(answer);
      expect(await storedSignedIn(store, sessionIdOf(browser.cookies(app.url).get('oidc.sid')?.value ?? 's:x.y'))).toBe(false);
      expect(JSON.parse((await browser.get(`${app.url}/me`)).text)).toEqual({ signedIn: false });
    } finally {
      await app.close();
    }
  });
});

describe('issue 15 §9: set-ups where a logout could not stick are refused at start-up', () => {
  const base = (options: Partial<AuthOptions>): AuthOptions =>
    loginOptions(issuer, 'http://127.0.0.1:3000', prefix, { clientSecret: 'hostile-client-secret', ...options });

  it('refuses useExistingSession without session.redis, and says why', () => {
    expect(() => auth(base({ useExistingSession: true, session: undefined }))).toThrow(/session\.redis.*ended session|logout/is);
  });

  it('refuses a session.store shared between processes without session.redis, and says why', () => {
    const shared = new RedisStore({ client: redis, prefix: `${prefix}shared:` });
    expect(() => auth(base({ session: { store: shared } }))).toThrow(/session\.redis.*logout/is);
  });
});
