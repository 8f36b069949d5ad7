/**
 * The session store goes away and comes back (docs/CONTRACT.md, "Behaviour the routes share"):
 * the app reaches the real Redis through a TCP relay the test can cut and restore.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CookieJar, request, signIn } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { tokensFromIdp } from './helpers/tokens.js';

/** A TCP relay to 127.0.0.1:6379 on a fixed port that can be cut (connections dropped) and restored. */
class Relay {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async open(): Promise<void> {
    const server = net.createServer((inbound) => {
      const outbound = net.connect(6379, '127.0.0.1');
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.once('close', () => outbound.destroy());
      outbound.once('close', () => inbound.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 20_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  let value = await probe();
  while (!ok(value)) {
    if (Date.now() > until) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await probe();
  }
  return value;
}

const relay = new Relay();
let t: TestApp;
let accessToken: string;

beforeAll(async () => {
  await relay.open();
  t = await startTestApp('outage', { REDIS_URL: `redis://127.0.0.1:${relay.port}` });
  accessToken = (
    await tokensFromIdp({
      issuer: t.server.example.issuer,
      clientID: t.server.config.clientID,
      clientSecret: t.server.config.clientSecret,
      redirectUri: `${t.base}/callback`,
    })
  ).access_token;
});

afterAll(async () => {
  await relay.cut();
  await t.close();
});

describe('when the session store does not answer', () => {
  it('answers 503 on /healthz, /login, /callback, /logout and /profile within a few seconds, /api/* keeps working, and recovers without a restart', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, t.base, { returnTo: '/profile' })).callback.status).toBe(302);

    await relay.cut();

    const health = await eventually(() => fetch(`${t.base}/healthz`), (res) => res.status === 503);
    expect(await health.json()).toEqual({ status: expect.not.stringMatching(/^ok$/) });

    for (const path of ['/login', '/callback?code=x&state=y', '/logout', '/profile']) {
      const started = Date.now();
      const page = await request(jar, `${t.base}${path}`);
      expect({ path, status: page.status }).toEqual({ path, status: 503 });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(page.body).not.toMatch(/\n\s+at .+:\d+:\d+/);
    }

    // The API needs no session.
    const me = await fetch(`${t.base}/api/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect((await fetch(`${t.base}/api/me`)).status).toBe(401);
    // The public page still renders (signed out).
    expect((await request(new CookieJar(), `${t.base}/`)).status).toBe(200);

    await relay.open();

    await eventually(() => fetch(`${t.base}/healthz`), (res) => res.status === 200);
    const login = await eventually(() => request(new CookieJar(), `${t.base}/login`), (page) => page.status === 302);
    expect(login.location).toMatch(new RegExp(`^${t.server.example.issuer}/auth\\?`));
    // The session survived the outage (it lives in Redis).
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);
  });
});
