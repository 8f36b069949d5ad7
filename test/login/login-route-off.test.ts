/**
 * `routes.login: false` (express-openid-connect's): no login route is mounted; the app's own route
 * starts the sign-in with `res.oidc.login()`, and `requiresAuth()` starts it itself on the
 * protected URL (as express-openid-connect's does), so no browser is sent to a path nobody serves.
 */
import { auth, requiresAuth } from '../../src/index.js';
import { signInAtProvider, startProvider } from '../support/provider.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { loginOptions } from './setup.js';

const app = useLoginApp({
  file: 'login-route-off',
  issuer: ({ url }) => startProvider({ redirectUris: [`${url}/callback`] }),
  auth: { routes: { login: false } },
  routes: (routes) =>
    routes
      .get('/sign-in', (req, res) => {
        void res.oidc.login({ returnTo: '/me', authorizationParams: { ui_locales: 'de' } });
      })
      .get('/me', requiresAuth(), (req, res) => {
        res.json({ sub: req.oidc.user?.sub });
      })
      .get('/orders', requiresAuth(), (req, res) => {
        res.json({ orders: [], sub: req.oidc.user?.sub, query: req.query });
      })
      .get('/link', (req, res) => {
        try {
          res.json({ url: req.oidc.loginUrl('/me') });
        } catch (err) {
          res.json({ name: (err as Error).name, message: (err as Error).message });
        }
      })
      .use((_req, res) => {
        res.status(404).type('text/plain').send('the app has no such page');
      }),
});
const prefix = app.prefix;

describe('routes.login: false', () => {
  it("is accepted and mounts no login route: GET /login is the app's own 404", async () => {
    const hop = await new Browser().get(`${app.url}/login`);
    expect(hop.status).toBe(404);
    expect(hop.text).toBe('the app has no such page');
  });

  it('an app route calling res.oidc.login() signs in end to end and returns to its returnTo', async () => {
    const browser = new Browser();
    const start = await browser.get(`${app.url}/sign-in`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.location!);
    expect(authorize.origin).toBe(new URL(app.issuer.issuer).origin);
    expect(authorize.searchParams.get('ui_locales')).toBe('de');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${app.url}/callback`);
    const back = await signInAtProvider(browser, start.location!, app.url);
    const done = await browser.get(back.location!);
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/me`);
    const me = await browser.get(`${app.url}/me`);
    expect(me.status).toBe(200);
    expect(JSON.parse(me.text)).toEqual({ sub: 'alice' });
  });

  it('requiresAuth() starts the sign-in on the protected URL itself and returns to it', async () => {
    const browser = new Browser();
    const guarded = await browser.get(`${app.url}/orders?page=2`);
    expect(guarded.status).toBe(302);
    expect(guarded.headers.get('cache-control')).toContain('no-store');
    // Straight to the issuer's authorization endpoint, not to a login route of ours.
    const authorize = new URL(guarded.location!);
    expect(authorize.origin).toBe(new URL(app.issuer.issuer).origin);
    expect(authorize.searchParams.get('response_type')).toBe('code');
    const back = await signInAtProvider(browser, guarded.location!, app.url, 'bob');
    const done = await browser.get(back.location!);
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${app.url}/orders?page=2`);
    const orders = await browser.get(done.location!);
    expect(orders.status).toBe(200);
    expect(JSON.parse(orders.text)).toEqual({ orders: [], sub: 'bob', query: { page: '2' } });
  });

  it('requiresAuth() still answers 401 to a request that wants JSON', async () => {
    const res = await fetch(`${app.url}/orders`, { headers: { accept: 'application/json' }, redirect: 'manual' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'unauthorized', error_description: 'Sign-in required.' });
  });

  it('req.oidc.loginUrl() throws, naming res.oidc.login() (there is no route to link to)', async () => {
    const hop = await new Browser().get(`${app.url}/link`);
    expect(JSON.parse(hop.text)).toEqual({
      name: 'TypeError',
      message: expect.stringMatching(/routes\.login is false.*res\.oidc\.login\(/),
    });
  });

  it('refuses other non-path values with the option named', () => {
    expect(() => auth(loginOptions(app.issuer, app.url, prefix, { routes: { login: true as unknown as string } }))).toThrow(
      /routes\.login/,
    );
  });
});
