/**
 * The Redis commands of a full sign-in (login, callback, first page), seen through MONITOR: how
 * many, and what they leave behind.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import express from 'express';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { eventually } from '../support/eventually.js';
import { REDIS_URL } from '../support/redis.js';
import { sessionIdOf } from './setup.js';

const COOKIE = 'oidc.sid';

const t = useLoginApp({
  file: 'signin-redis',
  auth: { clientSecret: 'hostile-client-secret' },
  routes: (app: express.Express) => {
    app.get('/page', (req, res) => {
      res.json({ sub: req.oidc.user?.sub ?? null });
    });
  },
});

/** Every command Redis runs that names a key under `prefix` (in any argument), from MONITOR on a socket of its own. */
async function monitor(prefix: string): Promise<{ commands: string[][]; settle(): Promise<void>; stop(): void }> {
  const url = new URL(REDIS_URL);
  const socket: Socket = connectTcp(Number(url.port || 6379), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const commands: string[][] = [];
  const markers = new Set<string>();
  let buffer = '';
  let started!: () => void;
  const monitoring = new Promise<void>((resolve) => (started = resolve));
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.startsWith('+OK\r\n')) {
      buffer = buffer.slice(5);
      started();
    }
    let end: number;
    while ((end = buffer.indexOf('\r\n')) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
      if (args.length === 0) continue;
      const marker = args.find((a) => a.startsWith(`${prefix}marker:`));
      if (marker) markers.add(marker);
      // Commands a script runs show as `[<db> lua]`; CLIENT TRACKING starts the local cache's feed once per process.
      else if (!line.includes(' lua]') && args[0]!.toUpperCase() !== 'CLIENT' && args.some((a) => a.startsWith(prefix)))
        commands.push([args[0]!.toUpperCase(), ...args.slice(1)]);
    }
  });
  socket.write('MONITOR\r\n');
  await monitoring;
  let n = 0;
  const settle = async (): Promise<void> => {
    const marker = `${prefix}marker:${++n}`;
    await t.redis.get(marker);
    await eventually(() => markers.has(marker));
  };
  await settle();
  commands.length = 0;
  return { commands, settle, stop: () => socket.destroy() };
}

describe('a full sign-in in Redis', () => {
  it('takes at most 6 commands (login, callback, first page) and leaves only the new session and its index', async () => {
    const watch = await monitor(t.prefix);
    try {
      const browser = new Browser();
      const login = await browser.get(`${t.url}/login?returnTo=/page`);
      expect(login.status).toBe(302);
      const pendingId = sessionIdOf(browser.cookies(t.url).get(COOKIE)!.value);
      const back = await browser.get(login.location!);
      const callback = await browser.get(back.location!);
      expect(callback.status).toBe(302);
      const page = await browser.get(callback.location!);
      expect(JSON.parse(page.text)).toEqual({ sub: expect.any(String) });
      await watch.settle();
      const names = watch.commands.map(([name]) => name);
      // Was 8: SET (login); GET, SET (state consumed), DEL (regenerate), SET, EVAL x2 (index); GET (page).
      // Now: SET; GET, DEL (state consumed and session regenerated at once), SET, EVAL (both indexes); GET.
      expect(names.length).toBeLessThanOrEqual(6);
      const sessionId = sessionIdOf(browser.cookies(t.url).get(COOKIE)!.value);
      expect(sessionId).not.toBe(pendingId);
      expect(await t.redis.exists(`${t.prefix}sess:${pendingId}`)).toBe(0);
      expect(await t.redis.exists(`${t.prefix}sess:${sessionId}`)).toBe(1);
      expect(await t.oidc.sessions.listBySub(JSON.parse(page.text).sub)).toContain(sessionId);
    } finally {
      watch.stop();
    }
  });

  it("keeps the other tab's sign-in when one of two completes, and both complete", async () => {
    const browser = new Browser();
    const first = await browser.get(`${t.url}/login?returnTo=/page`);
    const second = await browser.get(`${t.url}/login?returnTo=/page`);
    const firstBack = await browser.get(first.location!);
    const secondBack = await browser.get(second.location!);
    expect((await browser.get(secondBack.location!)).status).toBe(302);
    const done = await browser.get(firstBack.location!);
    expect(done.status).toBe(302);
    expect(JSON.parse((await browser.get(done.location!)).text)).toEqual({ sub: expect.any(String) });
  });

  it('refuses the same authorization response a second time, from a copy of the browser taken before', async () => {
    const browser = new Browser();
    const login = await browser.get(`${t.url}/login?returnTo=/page`);
    const back = await browser.get(login.location!);
    const copy = browser.clone();
    expect((await browser.get(back.location!)).status).toBe(302);
    const replay = await copy.get(back.location!);
    expect(replay.status).toBe(400);
  });
});
