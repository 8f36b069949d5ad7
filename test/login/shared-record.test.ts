/**
 * A signed-in session read from the local record cache is parsed and opened once, then shared
 * (frozen) between requests: what a request changes must still be its own and be written, and
 * what it hands the app must be the app's to change.
 */
import express from 'express';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';

const t = useLoginApp({
  file: 'shared-record',
  auth: { clientSecret: 'hostile-client-secret' },
  routes: (app: express.Express) => {
    app.get('/me', (req, res) => {
      res.json(req.oidc.user ?? null);
    });
    app.get('/scribble', (req, res) => {
      const user = req.oidc.user as Record<string, unknown>;
      user.sub = 'scribbled';
      user.extra = { nested: true };
      res.json(user);
    });
    app.get('/visit', (req, res) => {
      const data = req.session as unknown as { visits?: number };
      data.visits = (data.visits ?? 0) + 1;
      res.json({ visits: data.visits });
    });
  },
});

async function signIn(browser: Browser): Promise<string> {
  const login = await browser.get(`${t.url}/login?returnTo=/me`);
  const back = await browser.get(login.location!);
  const done = await browser.get(back.location!);
  expect(done.status).toBe(302);
  const me = JSON.parse((await browser.get(`${t.url}/me`)).text) as { sub: string };
  return me.sub;
}

describe('a session shared from the local record cache', () => {
  it('gives each request its own copy of the user: a change does not reach the next request', async () => {
    const browser = new Browser();
    const sub = await signIn(browser);
    expect(JSON.parse((await browser.get(`${t.url}/scribble`)).text)).toMatchObject({ sub: 'scribbled', extra: { nested: true } });
    for (let i = 0; i < 3; i += 1) {
      const me = JSON.parse((await browser.get(`${t.url}/me`)).text) as Record<string, unknown>;
      expect(me.sub).toBe(sub);
      expect(me.extra).toBeUndefined();
    }
  });

  it('writes a view that changes the session, view after view, and keeps the user signed in', async () => {
    const browser = new Browser();
    const sub = await signIn(browser);
    for (let i = 1; i <= 4; i += 1) {
      const hop = await browser.get(`${t.url}/visit`);
      expect(hop.status).toBe(200);
      expect(JSON.parse(hop.text)).toEqual({ visits: i });
    }
    expect((JSON.parse((await browser.get(`${t.url}/me`)).text) as { sub: string }).sub).toBe(sub);
  });
});
