/**
 * Sessions: returnTo, authRequired, lifetimes, writes, secret rotation, sealed data that cannot
 * be opened, a Redis outage and recovery, the errorHandler option.
 */
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import express from 'express';
import type { Redis } from 'ioredis';
import { auth, requiresAuth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { Browser, type Hop } from '../support/browser.js';
import {
  assertionRedis,
  cleanPrefix,
  expectLoginRedirect,
  REDIS_URL,
  SECRET,
  sessionIdOf,
  startLoginApp,
  testPrefix,
  waitFor,
  type LoginAppOptions,
} from './setup.js';
import { editLogin } from '../session/stored-login.js';

const prefix = testPrefix('session-lifecycle');
const CLIENT_SECRET = 'hostile-client-secret';
const COOKIE = 'oidc.sid';
let issuer: HostileIssuer;
let redis: Redis;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = assertionRedis();
  issuer = await startHostileIssuer();
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await issuer.close();
  await cleanPrefix(redis, prefix);
  await redis.quit();
});

interface TestApp {
  url: string;
  oidc: AuthRouter;
}

/** An app on its own port at the scripted issuer, closed after the file; `app` builds it (default the router alone). */
async function startTestApp(options: Partial<AuthOptions>, app?: LoginAppOptions['app']): Promise<TestApp> {
  const started = await startLoginApp({ issuer, prefix, auth: { clientSecret: CLIENT_SECRET, ...options }, ...(app ? { app } : {}) });
  cleanups.push(() => started.close());
  return started;
}

/** An app on its own port with `auth(options)`, a public `/`, and a protected `/profile`. */
async function startApp(options: Partial<AuthOptions> = {}, baseURL?: string): Promise<TestApp> {
  return startTestApp({ ...(baseURL === undefined ? {} : { baseURL }), ...options }, (oidc) => {
    const app = express();
    app.use(oidc);
    app.get('/', (req, res) => {
      res.json({ signedIn: req.oidc.isAuthenticated() });
    });
    app.get('/profile', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    });
    app.get('/token', requiresAuth({ accessToken: true }), (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/state', async (req, res) => {
      await req.oidc.getAccessToken().catch(() => undefined);
      res.json({ afterTokenUse: req.oidc.isAuthenticated() });
    });
    app.get('/visit', requiresAuth(), (req, res) => {
      const data = req.session as unknown as { visits?: number };
      data.visits = (data.visits ?? 0) + 1;
      res.json({ visits: data.visits });
    });
    return app;
  });
}

async function signIn(app: TestApp, browser: Browser, returnTo = '/profile', callbackBase = app.url): Promise<Hop> {
  const login = await browser.get(`${app.url}/login?returnTo=${encodeURIComponent(returnTo)}`);
  expect(login.status).toBe(302);
  const back = await browser.get(login.location!);
  const callback = new URL(back.location!);
  return browser.get(`${callbackBase}${callback.pathname}${callback.search}`);
}

function sessionKey(browser: Browser, url: string): string {
  return `${prefix}sess:${sessionIdOf(browser.cookies(url).get(COOKIE)!.value)}`;
}

describe('returnTo', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });

  it.each(['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)', '/.//evil.example', '/a\r\nx: y'])(
    'drops the hostile value %p and returns to /',
    async (value) => {
      const hop = await signIn(app, new Browser(), value);
      expect(hop.status).toBe(302);
      expect(hop.location).toBe(`${app.url}/`);
    },
  );

  it('keeps a same-origin path with its query', async () => {
    const hop = await signIn(app, new Browser(), '/orders?page=2');
    expect(hop.location).toBe(`${app.url}/orders?page=2`);
  });
});

describe('authRequired: true (the default)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ authRequired: true });
  });

  it('requires sign-in on every route but its own', async () => {
    expectLoginRedirect(await new Browser().get(`${app.url}/`), '/');
    expectLoginRedirect(await new Browser().get(`${app.url}/anything?x=1`), '/anything?x=1');
    expect(new URL((await new Browser().get(`${app.url}/login`)).location!).origin).toBe(issuer.issuer);
  });

  it('lets a signed-in user through', async () => {
    const browser = new Browser();
    await signIn(app, browser, '/');
    expect(JSON.parse((await browser.get(`${app.url}/`)).text)).toEqual({ signedIn: true });
  });
});

describe('session lifetimes and writes', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({ session: { redis: REDIS_URL, prefix, rollingDuration: 3600, absoluteDuration: 7200 } });
  });

  it('gives the cookie and the Redis record the rolling lifetime', async () => {
    const browser = new Browser();
    const hop = await signIn(app, browser);
    const line = hop.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
    const expires = Date.parse(/Expires=([^;]+)/.exec(line)![1]!);
    expect(expires - Date.now()).toBeGreaterThan(3500_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    const ttl = await redis.ttl(sessionKey(browser, app.url));
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  it('does not rewrite or renew the session for a page view that changes nothing (within touchAfter)', async () => {
    const browser = new Browser();
    await signIn(app, browser);
    const key = sessionKey(browser, app.url);
    const before = await redis.get(key);
    await redis.expire(key, 100);
    const hop = await browser.get(`${app.url}/profile`);
    expect(hop.status).toBe(200);
    expect(await redis.get(key)).toBe(before);
    // Signed in a moment ago: the renewal is not due yet, so no EXPIRE and no new cookie.
    expect(await redis.ttl(key)).toBeLessThanOrEqual(100);
    expect(hop.headers.getSetCookie()).toEqual([]);
  });

  it('writes the session back when the app changed it, with a renewed cookie', async () => {
    const browser = new Browser();
    await signIn(app, browser);
    const key = sessionKey(browser, app.url);
    await redis.expire(key, 100);
    const hop = await browser.get(`${app.url}/visit`);
    expect(hop.status).toBe(200);
    expect((JSON.parse((await redis.get(key))!) as { visits?: number }).visits).toBe(1);
    expect(await redis.ttl(key)).toBeGreaterThan(3500);
    expect(hop.headers.getSetCookie().some((c) => c.startsWith(`${COOKIE}=`))).toBe(true);
    // A nested change counts too.
    await browser.get(`${app.url}/visit`);
    expect((JSON.parse((await redis.get(key))!) as { visits?: number }).visits).toBe(2);
  });

  it('renews on every response with touchAfter: 0 (EXPIRE only, no rewrite)', async () => {
    const every = await startApp({ session: { redis: REDIS_URL, prefix, rollingDuration: 3600, absoluteDuration: 7200, touchAfter: 0 } });
    const browser = new Browser();
    await signIn(every, browser);
    const key = sessionKey(browser, every.url);
    const before = await redis.get(key);
    for (let i = 0; i < 2; i += 1) {
      await redis.expire(key, 100);
      const hop = await browser.get(`${every.url}/profile`);
      expect(hop.status).toBe(200);
      expect(await redis.get(key)).toBe(before);
      expect(await redis.ttl(key)).toBeGreaterThan(3500);
      const line = hop.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
      expect(Date.parse(/Expires=([^;]+)/.exec(line)![1]!) - Date.now()).toBeGreaterThan(3500_000);
    }
  });

  it('renews once touchAfter has passed since the last renewal', async () => {
    const soon = await startApp({ session: { redis: REDIS_URL, prefix, rollingDuration: 3600, absoluteDuration: 7200, touchAfter: 0.3 } });
    const browser = new Browser();
    await signIn(soon, browser);
    const key = sessionKey(browser, soon.url);
    await redis.expire(key, 100);
    const started = Date.now();
    const first = await browser.get(`${soon.url}/profile`);
    const renewedAtOnce = first.headers.getSetCookie().length > 0;
    // Poll (deadline 5 s) until a view renews: it must not come before touchAfter has passed.
    let renewedAfter = -1;
    await waitFor(
      async () => {
        const hop = await browser.get(`${soon.url}/profile`);
        if (hop.headers.getSetCookie().some((c) => c.startsWith(`${COOKIE}=`))) renewedAfter = Date.now() - started;
        return renewedAfter >= 0;
      },
      5000,
      'a renewal',
    );
    expect(renewedAtOnce && Date.now() - started < 300).toBe(false);
    expect(renewedAfter).toBeGreaterThanOrEqual(250);
    expect(await redis.ttl(key)).toBeGreaterThan(3500);
  });

  it('refuses a touchAfter that is not shorter than rollingDuration', () => {
    expect(() =>
      auth({
        issuerBaseURL: issuer.issuer,
        baseURL: 'http://127.0.0.1:1',
        clientID: issuer.clientId,
        clientSecret: CLIENT_SECRET,
        secret: SECRET,
        session: { redis: REDIS_URL, rollingDuration: 600, touchAfter: 600 },
      }),
    ).toThrow(/session\.touchAfter/);
  });

  it('signs out a session past its absolute lifetime', async () => {
    const browser = new Browser();
    await signIn(app, browser);
    const key = sessionKey(browser, app.url);
    await editLogin(redis, key, (login) => {
      login.createdAt = Date.now() - 7201_000;
    });
    expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
    expect(JSON.parse((await redis.get(key))!).oidc.login).toBeUndefined();
  });

  it('caps the cookie at what is left of the absolute lifetime', async () => {
    const browser = new Browser();
    await signIn(app, browser);
    const key = sessionKey(browser, app.url);
    await editLogin(redis, key, (login) => {
      login.createdAt = Date.now() - 7200_000 + 600_000; // 10 minutes left
    });
    const hop = await browser.get(`${app.url}/profile`);
    expect(hop.status).toBe(200);
    const line = hop.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`))!;
    const left = Date.parse(/Expires=([^;]+)/.exec(line)![1]!) - Date.now();
    expect(left).toBeLessThanOrEqual(600_000);
    expect(left).toBeGreaterThan(500_000);
  });

  it('reads a session whose sealed record (tokens and all) was altered as signed out', async () => {
    const browser = new Browser();
    await signIn(app, browser);
    const key = sessionKey(browser, app.url);
    const record = JSON.parse((await redis.get(key))!) as { oidc: { login: string } };
    const parts = record.oidc.login.split('.');
    parts[3] = `${parts[3]!.slice(0, -2)}${parts[3]!.endsWith('AA') ? 'BA' : 'AA'}`;
    record.oidc.login = parts.join('.');
    await redis.set(key, JSON.stringify(record), 'KEEPTTL');
    expectLoginRedirect(await browser.get(`${app.url}/profile`), '/profile');
    expectLoginRedirect(await browser.get(`${app.url}/token`), '/token');
    expect(JSON.parse((await browser.get(`${app.url}/state`)).text)).toEqual({ afterTokenUse: false });
  });
});

describe('secret rotation', () => {
  const NEW_SECRET = 'the-new-secret-0123456789-abcdefghijklmnop';

  it('reads sessions sealed under the old secret with secret: [new, old]', async () => {
    const old = await startApp();
    const browser = new Browser();
    await signIn(old, browser);
    const rotated = await startApp({ secret: [NEW_SECRET, SECRET] }, old.url);
    // Same cookie (the browser sends it to the second port too: copy it over).
    const cookie = browser.cookies(old.url).get(COOKIE)!;
    browser.cookies(rotated.url).set(COOKIE, cookie);
    const hop = await browser.get(`${rotated.url}/profile`);
    expect(hop.status).toBe(200);
    expect(JSON.parse(hop.text)).toEqual({ sub: 'hostile-user' });
  });

  it('treats sessions of a secret that was dropped as signed out', async () => {
    const old = await startApp();
    const browser = new Browser();
    await signIn(old, browser);
    const replaced = await startApp({ secret: NEW_SECRET }, old.url);
    browser.cookies(replaced.url).set(COOKIE, browser.cookies(old.url).get(COOKIE)!);
    expectLoginRedirect(await browser.get(`${replaced.url}/profile`), '/profile');
  });
});

describe('errorHandler option', () => {
  it('receives the errors of the sign-in routes', async () => {
    const seen: string[] = [];
    const app = await startApp({
      errorHandler: (err, _req, res) => {
        seen.push((err as { code: string }).code);
        res.status(418).send('custom');
      },
    });
    const hop = await new Browser().get(`${app.url}/callback?state=nope&code=x`);
    expect(hop.status).toBe(418);
    expect(hop.text).toBe('custom');
    expect(seen).toEqual(['invalid_request']);
  });
});

/** A TCP proxy in front of Redis that the test can take down and bring back on the same port. */
async function startRedisProxy(): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  let server: TcpServer | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createTcpServer((client) => {
        const upstream = connect(6379, '127.0.0.1');
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const down = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  };
  await listen();
  return { url: `redis://127.0.0.1:${port}`, down, up: listen, close: down };
}

describe('Redis outage', () => {
  it('answers 503 quickly on routes that need the session, serves the others signed out, and recovers', async () => {
    const proxy = await startRedisProxy();
    cleanups.push(() => proxy.close());
    const app = await startApp({ session: { redis: proxy.url, prefix } });
    const browser = new Browser();
    await signIn(app, browser);
    expect((await browser.get(`${app.url}/profile`)).status).toBe(200);

    await proxy.down();
    await waitFor(async () => !(await app.oidc.health()), 10_000, 'health to report the outage');
    for (const [path, who] of [
      ['/profile', browser],
      ['/login', browser],
      ['/login', new Browser()],
      ['/logout', browser],
      ['/callback?state=a&code=b', browser],
    ] as const) {
      // A request that waited on the store would run into the test's timeout instead.
      const hop = await who.get(`${app.url}${path}`);
      expect([path, hop.status]).toEqual([path, 503]);
      expect(hop.text).toContain('unavailable');
    }
    const open = await browser.get(`${app.url}/`);
    expect(open.status).toBe(200);
    expect(JSON.parse(open.text)).toEqual({ signedIn: false });

    await proxy.up();
    await waitFor(async () => (await browser.get(`${app.url}/profile`)).status === 200, 15_000, 'the app to recover');
    expect(await app.oidc.health()).toBe(true);
  });
});

describe('useExistingSession', () => {
  it('uses the express-session the app mounted, and mounts none of its own', async () => {
    const session = (await import('express-session')).default;
    const server = await startTestApp(
      { useExistingSession: true, routes: { backchannelLogout: false }, session: { allowMemoryStore: true } },
      (oidc) => {
        const app = express();
        app.use(session({ name: 'app.sid', secret: SECRET, resave: false, saveUninitialized: false, store: new session.MemoryStore() }));
        app.use(oidc);
        app.get('/profile', requiresAuth(), (req, res) => {
          res.json({ sub: req.oidc.user?.sub });
        });
        return app;
      },
    );
    const browser = new Browser();
    const hop = await signIn(server, browser);
    expect(hop.status).toBe(302);
    expect([...browser.cookies(server.url).keys()]).toEqual(['app.sid']);
    expect((await browser.get(`${server.url}/profile`)).status).toBe(200);
    await browser.get(`${server.url}/logout`);
    expectLoginRedirect(await browser.get(`${server.url}/profile`), '/profile');
  });
});

describe('errors that are not ours', () => {
  it("leaves errors of the app's earlier middleware to the app's error handler", async () => {
    const server = await startTestApp({}, (oidc) => {
      const app = express();
      app.use((_req, _res, next) => next(Object.assign(new Error('app failure'), { appError: true })));
      app.use(oidc);
      app.use((err: { appError?: boolean }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(599).json({ handledByApp: err.appError === true });
      });
      return app;
    });
    const hop = await new Browser().get(`${server.url}/login`);
    expect(hop.status).toBe(599);
    expect(JSON.parse(hop.text)).toEqual({ handledByApp: true });
  });

  it('answers an oversized back-channel logout body with 400 invalid_request JSON', async () => {
    const app = await startApp();
    const res = await fetch(`${app.url}/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `logout_token=${'a'.repeat(100_000)}`,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'The form body is invalid or too large.' });
  });
});
