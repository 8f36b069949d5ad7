/**
 * ARCHITECTURE.md, "Performance shortcuts" of the sign-in half: each shortcut answers exactly as
 * the plain path does. The same requests go to an app built with the shortcut and to one built
 * without it, and the answers are compared: status, the headers that matter, the body, and which
 * cookies are set with which attributes (values aside: ids, states and nonces are random).
 *
 * - direct router dispatch (login/direct-dispatch.ts), off: `shortcuts.directDispatch = false`;
 * - `requiresAuth()` without a promise (login/requires-auth.ts), off:
 *   `shortcuts.requiresAuthWithoutPromise = false`;
 * - the local record cache (session/local-cache.ts), off: `session.localCache: false`;
 * - the request in V8's dictionary mode (util/dictionary-mode.ts), off:
 *   `shortcuts.dictionaryMode = false`.
 */
import { createHook } from 'node:async_hooks';
import express, { type RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { JWTPayload } from 'jose';
import { auth, requiresAuth, requiresClaim, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { shortcuts, withShortcuts } from '../../src/config/shortcuts.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { Browser, type Hop } from '../support/browser.js';
import { assertionRedis, deleteKeys, testPrefix } from '../support/redis.js';
import { loginOptions, REDIS_URL, startAppServer, waitFor, type AppServer } from './setup.js';

const CLIENT_SECRET = 'hostile-client-secret';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Query parameters that are random per request (or per sign-in), compared by presence only. */
const RANDOM_PARAMS = new Set(['state', 'nonce', 'code_challenge', 'id_token_hint', 'logout_hint']);
/** The response headers compared (besides Location and Set-Cookie, normalised below). */
const HEADERS = ['content-type', 'cache-control', 'pragma', 'www-authenticate', 'x-frame-options', 'vary', 'x-content-type-options'];

let issuer: HostileIssuer;
let redis: Redis;
const started: Array<{ oidc: AuthRouter; server: AppServer; prefix: string }> = [];
let jti = 0;

beforeAll(async () => {
  redis = assertionRedis();
  issuer = await startHostileIssuer();
});

afterAll(async () => {
  for (const app of started) {
    await app.oidc.close();
    await app.server.close();
    await deleteKeys(redis, app.prefix);
  }
  await issuer.close();
  await redis.quit();
});

/** Promises created while `counting` is on (async_hooks sees each one made). */
let promisesMade = 0;
let counting = false;
const promiseCounter = createHook({
  init(_id, type) {
    if (counting && type === 'PROMISE') promisesMade++;
  },
});

/**
 * Puts how many promises `guard` made before it called `next` in the `x-test-guard-promises`
 * header (left out of the comparison): it shows which path the switch chose.
 */
function observed(guard: RequestHandler): RequestHandler {
  return (req, res, next) => {
    promisesMade = 0;
    counting = true;
    void guard(req, res, (err?: unknown) => {
      counting = false;
      res.setHeader('x-test-guard-promises', String(promisesMade));
      next(err);
    });
    counting = false;
  };
}

interface TestApp {
  url: string;
  oidc: AuthRouter;
}

/**
 * An app at the hostile issuer, built (synchronously, so the switches apply to everything made)
 * under `switches`: a public page, a `requiresAuth()` page, a `requiresClaim` page the test user
 * fails, and optionally a route added to the router `auth()` returns.
 */
async function startApp(
  name: string,
  switches: Partial<typeof shortcuts>,
  options: { routerRoute?: boolean; localCache?: false } = {},
): Promise<TestApp> {
  const server = await startAppServer();
  const prefix = testPrefix(`shortcuts-${name}`);
  const oidc = withShortcuts(switches, () => {
    const overrides: Partial<AuthOptions> = { clientSecret: CLIENT_SECRET };
    if (options.localCache === false) overrides.session = { redis: REDIS_URL, prefix, localCache: false };
    const router = auth(loginOptions(issuer, server.url, prefix, overrides));
    if (options.routerRoute) {
      router.get('/extra', (req, res) => {
        res.json({ extra: true, sub: req.oidc.user?.sub ?? null });
      });
    }
    const app = express()
      .use(router)
      .get('/page', (req, res) => {
        res.json({ signedIn: req.oidc.isAuthenticated(), sub: req.oidc.user?.sub ?? null });
      })
      // Whether the session layer set `url` again (the dictionary-mode shortcut) after Express's own properties.
      .get('/url-order', (req, res) => {
        const keys = Object.keys(req);
        res.json({ urlAfterMethod: keys.indexOf('url') > keys.indexOf('method') });
      })
      .get('/private', observed(requiresAuth()), (req, res) => {
        res.json({ sub: req.oidc.user?.sub });
      })
      .get('/admin', requiresClaim.equals('role', 'admin'), (_req, res) => {
        res.send('admin');
      });
    server.setHandler(app);
    return router;
  });
  started.push({ oidc, server, prefix });
  await waitFor(() => oidc.health(), 10_000, 'redis');
  return { url: server.url, oidc };
}

/** A URL with the app's origin as `<app>` and random query values as `<random>`. */
function normaliseUrl(value: string | undefined, app: TestApp): string | undefined {
  if (value === undefined) return undefined;
  const url = new URL(value);
  const params = [...url.searchParams]
    .map(([key, v]) => `${key}=${RANDOM_PARAMS.has(key) ? '<random>' : v.replaceAll(app.url, '<app>')}`)
    .sort();
  return `${url.origin === app.url ? '<app>' : url.origin}${url.pathname}?${params.join('&')}`;
}

/** One `Set-Cookie` line without its value and expiry time (both differ per session). */
function normaliseCookie(line: string): string {
  const [pair, ...attributes] = line.split(';').map((part) => part.trim());
  const name = pair!.slice(0, pair!.indexOf('='));
  const value = pair!.slice(pair!.indexOf('=') + 1);
  const kept = attributes.filter((attribute) => !/^expires=/i.test(attribute));
  return [`${name}=${value === '' ? '' : '<value>'}`, ...kept].join('; ');
}

/** What the comparison looks at in one answer. */
function answerOf(hop: Hop, app: TestApp): Record<string, unknown> {
  const headers = Object.fromEntries(HEADERS.map((name) => [name, hop.headers.get(name)]));
  return {
    status: hop.status,
    location: normaliseUrl(hop.location, app),
    headers,
    setCookie: hop.headers.getSetCookie().map(normaliseCookie).sort(),
    // A redirect's body repeats its Location (random parts included): compared through it.
    body: hop.status >= 300 && hop.status < 400 ? '<redirect>' : hop.text.replaceAll(app.url, '<app>'),
  };
}

/** Signs a browser in at the app (the hostile issuer answers the authorization request at once). */
async function signIn(app: TestApp, sub: string, sid: string): Promise<{ browser: Browser; hops: Hop[] }> {
  issuer.sub = sub;
  issuer.sid = sid;
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login?returnTo=/private`);
  const authorize = await browser.get(login.location!);
  const callback = await browser.get(authorize.location!);
  return { browser, hops: [login, callback] };
}

async function backchannelLogout(app: TestApp, claims: JWTPayload): Promise<Hop> {
  const now = Math.floor(Date.now() / 1000);
  const token = await issuer.sign(
    { iss: issuer.issuer, aud: issuer.clientId, iat: now, exp: now + 120, jti: `shortcuts-${++jti}`, events: { [EVENT]: {} }, ...claims },
    { typ: 'logout+jwt' },
  );
  return new Browser().post(`${app.url}/backchannel-logout`, { logout_token: token });
}

/**
 * The table of requests both apps get: signed out, then signed in (page, guarded page, claim
 * refusal, JSON refusal, the router's own route when there is one), then /logout and after it.
 */
async function requestTable(app: TestApp, routerRoute: boolean, user: string): Promise<Array<[string, Record<string, unknown>]>> {
  const rows: Array<[string, Hop]> = [];
  const out = new Browser();
  rows.push(['signed out GET /page', await out.get(`${app.url}/page`)]);
  rows.push(['signed out GET /private', await out.get(`${app.url}/private?x=1`)]);
  rows.push(['signed out GET /private (JSON)', await out.get(`${app.url}/private`, { accept: 'application/json' })]);
  rows.push(['signed out GET /admin', await out.get(`${app.url}/admin`)]);
  rows.push(['signed out GET /login', await out.get(`${app.url}/login?returnTo=/page`)]);
  rows.push(['signed out GET /logout', await out.get(`${app.url}/logout`)]);
  if (routerRoute) rows.push(['signed out GET /extra', await out.get(`${app.url}/extra`)]);
  const { browser, hops } = await signIn(app, user, `${user}-sid`);
  rows.push(['GET /login to sign in', hops[0]!], ['GET /callback', hops[1]!]);
  rows.push(['signed in GET /page', await browser.get(`${app.url}/page`)]);
  rows.push(['signed in GET /private', await browser.get(`${app.url}/private`)]);
  rows.push(['signed in GET /private again', await browser.get(`${app.url}/private`)]);
  rows.push(['signed in GET /admin (claim refused)', await browser.get(`${app.url}/admin`)]);
  rows.push(['signed in GET /admin (claim refused, JSON)', await browser.get(`${app.url}/admin`, { accept: 'application/json' })]);
  if (routerRoute) rows.push(['signed in GET /extra', await browser.get(`${app.url}/extra`)]);
  rows.push(['signed in GET /logout', await browser.get(`${app.url}/logout`)]);
  rows.push(['after logout GET /private', await browser.get(`${app.url}/private`)]);
  return rows.map(([what, hop]) => [what, answerOf(hop, app)]);
}

describe('direct router dispatch, requiresAuth() without a promise and the request in dictionary mode', () => {
  let on: TestApp;
  let off: TestApp;

  beforeAll(async () => {
    on = await startApp('on', {});
    off = await startApp('off', { directDispatch: false, requiresAuthWithoutPromise: false, dictionaryMode: false });
  });

  it('the switches take effect: off, auth() returns the Router itself, requiresAuth() always makes its promise and the request keeps its key order', async () => {
    // The shortcut inherits the router's `stack`; the plain router owns it.
    expect(Object.hasOwn(on.oidc, 'stack')).toBe(false);
    expect(Object.hasOwn(off.oidc, 'stack')).toBe(true);
    const { browser: inOn } = await signIn(on, 'switch-user', 'switch-on');
    const { browser: inOff } = await signIn(off, 'switch-user', 'switch-off');
    promiseCounter.enable();
    try {
      expect((await inOn.get(`${on.url}/private`)).headers.get('x-test-guard-promises')).toBe('0');
      expect(Number((await inOff.get(`${off.url}/private`)).headers.get('x-test-guard-promises'))).toBeGreaterThan(0);
    } finally {
      promiseCounter.disable();
    }
    expect(JSON.parse((await inOn.get(`${on.url}/url-order`)).text)).toEqual({ urlAfterMethod: true });
    expect(JSON.parse((await inOff.get(`${off.url}/url-order`)).text)).toEqual({ urlAfterMethod: false });
    // The switches are put back once the apps are built.
    expect(shortcuts).toEqual({ directDispatch: true, requiresAuthWithoutPromise: true, dictionaryMode: true });
  });

  it('answers the table of requests the same way with the shortcuts and without them', async () => {
    const withShortcut = await requestTable(on, false, 'table-user');
    const plain = await requestTable(off, false, 'table-user');
    expect(withShortcut.map(([what]) => what)).toEqual(plain.map(([what]) => what));
    expect(withShortcut).toEqual(plain);
    // The table bites: it holds pages, refusals and redirects, not one kind of answer.
    expect(new Set(plain.map(([, answer]) => answer.status))).toEqual(new Set([200, 302, 401, 403]));
  });

  it('answers the same for an app that adds a route to the router auth() returns', async () => {
    const onWithRoute = await startApp('on-route', {}, { routerRoute: true });
    const offWithRoute = await startApp(
      'off-route',
      { directDispatch: false, requiresAuthWithoutPromise: false, dictionaryMode: false },
      { routerRoute: true },
    );
    const withShortcut = await requestTable(onWithRoute, true, 'route-user');
    const plain = await requestTable(offWithRoute, true, 'route-user');
    expect(withShortcut).toEqual(plain);
    expect(plain.find(([what]) => what === 'signed in GET /extra')?.[1]).toMatchObject({
      status: 200,
      body: '{"extra":true,"sub":"route-user"}',
    });
  });
});

describe('the local record cache (session.localCache)', () => {
  /** Sign-in, page views, a back-channel logout, a second sign-in and a /logout. */
  async function flow(app: TestApp, user: string): Promise<Array<[string, Record<string, unknown>]>> {
    const rows: Array<[string, Hop]> = [];
    const first = await signIn(app, user, `${user}-sid-1`);
    rows.push(['GET /login', first.hops[0]!], ['GET /callback', first.hops[1]!]);
    rows.push(['GET /private', await first.browser.get(`${app.url}/private`)]);
    rows.push(['GET /page', await first.browser.get(`${app.url}/page`)]);
    rows.push(['GET /private again', await first.browser.get(`${app.url}/private`)]);
    rows.push(['back-channel logout of sid 1', await backchannelLogout(app, { sub: user, sid: `${user}-sid-1` })]);
    rows.push(['GET /private after the back-channel logout', await first.browser.get(`${app.url}/private`)]);
    rows.push(['GET /page after the back-channel logout', await first.browser.get(`${app.url}/page`)]);
    const second = await signIn(app, user, `${user}-sid-2`);
    rows.push(['GET /login again', second.hops[0]!], ['GET /callback again', second.hops[1]!]);
    rows.push(['GET /private in the second session', await second.browser.get(`${app.url}/private`)]);
    rows.push(['back-channel logout of another sid', await backchannelLogout(app, { sub: user, sid: `${user}-sid-other` })]);
    rows.push(['GET /private after another sid ended', await second.browser.get(`${app.url}/private`)]);
    rows.push(['GET /logout', await second.browser.get(`${app.url}/logout`)]);
    rows.push(['GET /private after /logout', await second.browser.get(`${app.url}/private`)]);
    rows.push(['GET /page after /logout', await second.browser.get(`${app.url}/page`)]);
    return rows.map(([what, hop]) => [what, answerOf(hop, app)]);
  }

  it('answers a sign-in, page views, back-channel logout and logout the same with the cache off and on', async () => {
    const cached = await startApp('cache-on', {});
    const uncached = await startApp('cache-off', {}, { localCache: false });
    const withCache = await flow(cached, 'cache-user');
    const withoutCache = await flow(uncached, 'cache-user');
    expect(withCache).toEqual(withoutCache);
    const status = (rows: Array<[string, Record<string, unknown>]>, what: string) => rows.find(([name]) => name === what)?.[1].status;
    // The flow bites: signed in before each logout, signed out after it.
    expect(status(withoutCache, 'GET /private again')).toBe(200);
    expect(status(withoutCache, 'GET /private after the back-channel logout')).toBe(302);
    expect(status(withoutCache, 'GET /private after another sid ended')).toBe(200);
    expect(status(withoutCache, 'GET /private after /logout')).toBe(302);
  });
});
