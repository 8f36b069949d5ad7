/**
 * auth() end to end on a real three-master Redis Cluster (ioredis `Cluster` clients): two app
 * instances behind one URL, each with its own Cluster client, share sessions, the refresh lock,
 * the per-user index and the replay records. Sign-in, page views on both instances, one refresh
 * grant for 10 concurrent requests spread over both, /logout, and back-channel logout by `sub`.
 */
import { randomBytes } from 'node:crypto';
import express from 'express';
import type { Cluster } from 'ioredis';
import { requiresAuth, type AuthRouter } from '../../src/index.js';
import { closeRedisClient, whenReady } from '../../src/redis/client.js';
import { startHostileIssuer, type HostileIssuer } from '../support/hostile-issuer.js';
import { clusterClient, commandCounts, masterOf, startRedisCluster, type TestCluster } from '../support/redis-cluster.js';
import { Browser } from '../support/browser.js';
import {
  accessTokenRoute,
  expectLoginRedirect,
  jsonErrors,
  sessionIdOf,
  startTwoInstances,
  waitFor,
  type LoginApp,
  type TwoInstances,
} from '../login/setup.js';

const prefix = `test:cluster-login:${randomBytes(6).toString('hex')}:`;
const CLIENT_SECRET = 'cluster-client-secret';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Access tokens from a code grant live this long (seconds): short, so a refresh comes soon. */
const FIRST_TOKEN_TTL = 2;

let cluster: TestCluster;
let issuer: HostileIssuer;
/** One Cluster client per app instance (two processes), and one for assertions. */
let clients: Cluster[] = [];
let check: Cluster;
let instances: TwoInstances<HostileIssuer>;
let first: LoginApp;
let second: LoginApp;

function appWith(oidc: AuthRouter): express.Express {
  const app = express();
  app.use(oidc);
  app.get('/profile', requiresAuth(), (req, res) => {
    res.json({ sub: req.oidc.user?.sub });
  });
  app.get('/expires-in', requiresAuth(), (req, res) => {
    res.json({ expiresIn: req.oidc.accessToken?.expires_in });
  });
  app.get('/token', requiresAuth(), accessTokenRoute);
  app.use(jsonErrors);
  return app;
}

beforeAll(async () => {
  cluster = await startRedisCluster();
  clients = [clusterClient(cluster.nodes), clusterClient(cluster.nodes), clusterClient(cluster.nodes)];
  await Promise.all(clients.map((c) => whenReady(c, 20_000)));
  check = clients[2]!;
  issuer = await startHostileIssuer();
  // Code grants give 2-second access tokens; refreshed ones live an hour (one refresh per test).
  issuer.onToken = async ({ request, valid }) => ({
    body: { ...(await valid()), expires_in: request.form.grant_type === 'refresh_token' ? 3600 : FIRST_TOKEN_TTL },
  });
  // Two instances of one app (same baseURL and secret), each with its own Cluster client.
  instances = await startTwoInstances({
    issuer,
    prefix,
    auth: { clientSecret: CLIENT_SECRET, refreshMargin: 1 },
    instance: (index) => ({ session: { redis: clients[index]!, prefix } }),
    app: appWith,
  });
  ({ first, second } = instances);
}, 60_000);

afterAll(async () => {
  await instances?.close();
  await Promise.all(clients.map((c) => closeRedisClient(c)));
  await cluster?.stop();
});

let users = 0;

/** Signs a new browser in at the first instance; the second instance (same site) gets the same cookies. */
async function signIn(sub = `user-${++users}`, sid = `op-${randomBytes(4).toString('hex')}`): Promise<Browser> {
  issuer.sub = sub;
  issuer.sid = sid;
  return instances.signIn();
}

function sessionKey(browser: Browser): string {
  return `${prefix}sess:${sessionIdOf(browser.cookies(first.url).get('oidc.sid')!.value)}`;
}

async function profile(browser: Browser, app: LoginApp): Promise<{ status: number; sub?: string }> {
  const hop = await browser.get(`${app.url}/profile`, { accept: 'application/json' });
  return { status: hop.status, ...(hop.status === 200 ? (JSON.parse(hop.text) as { sub: string }) : {}) };
}

function refreshGrants(): number {
  return issuer.tokenRequests.filter((r) => r.form.grant_type === 'refresh_token').length;
}

async function backchannelLogout(app: LoginApp, claims: Record<string, unknown>): Promise<number> {
  const now = Math.floor(Date.now() / 1000);
  const token = await issuer.sign(
    {
      iss: issuer.issuer,
      aud: issuer.clientId,
      iat: now,
      exp: now + 120,
      jti: randomBytes(8).toString('hex'),
      events: { [EVENT]: {} },
      ...claims,
    },
    { typ: 'logout+jwt' },
  );
  const res = await fetch(`${app.url}/backchannel-logout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ logout_token: token }).toString(),
  });
  await res.text();
  return res.status;
}

describe('auth() on a three-master Redis Cluster, two instances', () => {
  it('signs in and serves page views on both instances, with sessions spread over the masters', async () => {
    // One after the other: the issuer names the user of the sign-in in progress.
    const browsers: { browser: Browser; sub: string }[] = [];
    for (let i = 0; i < 6; i += 1) {
      const sub = `user-view-${i}`;
      browsers.push({ browser: await signIn(sub), sub });
    }
    for (const { browser, sub } of browsers) {
      for (let view = 0; view < 3; view += 1) {
        expect(await profile(browser, first)).toEqual({ status: 200, sub });
        expect(await profile(browser, second)).toEqual({ status: 200, sub });
      }
      expect(await check.exists(sessionKey(browser))).toBe(1);
    }
    // The session records live on more than one master: the test runs across slots.
    const owners = new Set(await Promise.all(browsers.map(({ browser }) => masterOf(check, sessionKey(browser)))));
    expect(owners.size).toBeGreaterThan(1);
  });

  it('serves page views of a signed-in session from the local cache: no command reaches the cluster', async () => {
    const browser = await signIn();
    // Warm both instances (the first view of each reads the record; the caches are live by then).
    await waitFor(
      async () => {
        for (const app of [first, second]) expect((await profile(browser, app)).status).toBe(200);
        await commandCounts(check);
        for (const app of [first, second]) await profile(browser, app);
        const counts = await commandCounts(check);
        return (counts.get('get') ?? 0) === 0;
      },
      15_000,
      'the local caches to serve',
    );
    for (let view = 0; view < 20; view += 1) for (const app of [first, second]) expect((await profile(browser, app)).status).toBe(200);
    const counts = await commandCounts(check);
    // Only the measurement's own INFO and the tracking connections' heartbeat PINGs remain.
    const data = [...counts].filter(([name]) => !/^(info|config\|resetstat|ping|cluster\|.*)$/.test(name));
    expect(data).toEqual([]);
  });

  it('makes exactly one refresh grant for 10 concurrent requests spread over both instances', async () => {
    const browser = await signIn();
    // Poll (no fixed sleep) until the 2-second access token has expired.
    await waitFor(
      async () => {
        const hop = await browser.get(`${first.url}/expires-in`, { accept: 'application/json' });
        return (JSON.parse(hop.text) as { expiresIn: number }).expiresIn <= 0;
      },
      15_000,
      'the access token to expire',
    );
    const before = refreshGrants();
    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const hop = await browser.get(`${(i % 2 === 0 ? first : second).url}/token`, { accept: 'application/json' });
        return { status: hop.status, token: (JSON.parse(hop.text) as { token?: string }).token };
      }),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((a) => a.token)).size).toBe(1);
    expect(refreshGrants()).toBe(before + 1);
    // Both instances see the refreshed token afterwards, without another grant.
    for (const app of [first, second]) {
      const hop = await browser.get(`${app.url}/token`, { accept: 'application/json' });
      expect((JSON.parse(hop.text) as { token: string }).token).toBe(answers[0]!.token);
    }
    expect(refreshGrants()).toBe(before + 1);
  });

  it('/logout on one instance signs the browser out on both, and removes the record', async () => {
    const browser = await signIn();
    const key = sessionKey(browser);
    expect((await profile(browser, first)).status).toBe(200);
    expect((await profile(browser, second)).status).toBe(200);
    const stolen = browser.clone();
    const out = await browser.post(`${second.url}/logout`, {});
    expect(out.status).toBe(302);
    expect(await check.exists(key)).toBe(0);
    // The old cookie, replayed, is signed out on both instances.
    expectLoginRedirect(await stolen.get(`${first.url}/profile`), '/profile');
    expectLoginRedirect(await stolen.get(`${second.url}/profile`), '/profile');
  });

  it('back-channel logout by sub ends every session of that user on both instances, and only those', async () => {
    const sub = `user-bcl-${randomBytes(3).toString('hex')}`;
    const mine = [await signIn(sub), await signIn(sub), await signIn(sub)];
    const other = await signIn();
    for (const browser of [...mine, other]) {
      expect((await profile(browser, first)).status).toBe(200);
      expect((await profile(browser, second)).status).toBe(200);
    }
    expect((await first.oidc.sessions.listBySub(sub)).length).toBe(3);

    expect(await backchannelLogout(second, { sub })).toBe(200);

    for (const browser of mine) {
      expect(await check.exists(sessionKey(browser))).toBe(0);
      expectLoginRedirect(await browser.get(`${first.url}/profile`), '/profile');
      expectLoginRedirect(await browser.get(`${second.url}/profile`), '/profile');
    }
    expect(await first.oidc.sessions.listBySub(sub)).toEqual([]);
    expect((await profile(other, first)).status).toBe(200);
    expect((await profile(other, second)).status).toBe(200);
  });
});
