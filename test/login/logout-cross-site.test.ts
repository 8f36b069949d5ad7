/**
 * A logout that another site started (issue 15 §8): `GET /logout` with `Sec-Fetch-Site:
 * cross-site` ends nothing, here or at the issuer; it answers a page whose button POSTs to
 * /logout. Same-site links, the app's own POST /logout and browsers that send no Fetch Metadata
 * log out at once, as before. Against oidc-provider (it has an end_session_endpoint).
 */
import express from 'express';
import { auth, requiresAuth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { signInAtProvider, startProvider } from '../support/provider.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { loginOptions, startProviderApp, type ProviderApp } from './setup.js';

/** The profile app around a router. */
const profileApp = (oidc: AuthRouter) =>
  express()
    .use(oidc)
    .get('/profile', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    });
const handle = useLoginApp({
  file: 'logout-cross-site',
  issuer: ({ url }) => startProvider({ redirectUris: [`${url}/callback`] }),
  app: profileApp,
});
const prefix = handle.prefix;
/** Apps started by tests (each at a provider of its own), closed after the file. */
const apps: ProviderApp[] = [];

function startApp(auth: Partial<AuthOptions> = {}): Promise<ProviderApp> {
  return startProviderApp({}, { prefix, auth, app: profileApp }).then((app) => {
    apps.push(app);
    return app;
  });
}

let app: ProviderApp;

beforeAll(() => {
  app = { ...handle.app, provider: handle.issuer };
});

afterAll(async () => {
  for (const started of apps) await started.close();
});

async function signIn(at: ProviderApp = app): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${at.url}/login`);
  const back = await signInAtProvider(browser, login.location!, at.url);
  expect((await browser.get(back.location!)).status).toBe(302);
  return browser;
}

async function signedIn(browser: Browser, at: ProviderApp = app): Promise<boolean> {
  return (await browser.get(`${at.url}/profile`, { accept: 'application/json' })).status === 200;
}

/** The form of a confirmation page: its method and action. */
function formOf(html: string): { method: string; action: string } | undefined {
  const match = /<form[^>]*method="(\w+)"[^>]*action="([^"]*)"/i.exec(html);
  return match ? { method: match[1]!.toLowerCase(), action: match[2]! } : undefined;
}

describe('GET /logout started by another site (Sec-Fetch-Site: cross-site)', () => {
  it('ends nothing and answers a page whose button POSTs to /logout', async () => {
    const browser = await signIn();
    const page = await browser.get(`${app.url}/logout`, { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' });
    expect(page.status).toBe(200);
    expect(page.location).toBeUndefined();
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(formOf(page.text)).toEqual({ method: 'post', action: '/logout' });
    // No token on the page (the id_token_hint goes to the issuer only after the POST).
    expect(page.text).not.toMatch(/eyJ/);
    expect(await signedIn(browser)).toBe(true);
  });

  it("the page's button (a same-origin POST /logout) logs out here and at the issuer", async () => {
    const browser = await signIn();
    const page = await browser.get(`${app.url}/logout`, { 'sec-fetch-site': 'cross-site' });
    const form = formOf(page.text)!;
    const done = await browser.post(
      new URL(form.action, app.url).href,
      {},
      { headers: { 'sec-fetch-site': 'same-origin', origin: app.url } },
    );
    expect(done.status).toBe(302);
    const target = new URL(done.location!);
    expect(target.origin).toBe(new URL(app.provider.issuer).origin);
    expect(target.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect(await signedIn(browser)).toBe(false);
  });

  it('a cross-site POST /logout (even with the cookie) ends nothing either', async () => {
    const browser = await signIn();
    const page = await browser.post(
      `${app.url}/logout`,
      {},
      { headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } },
    );
    expect(page.status).toBe(200);
    expect(formOf(page.text)).toEqual({ method: 'post', action: '/logout' });
    expect(await signedIn(browser)).toBe(true);
  });

  it('a POST from a foreign Origin without Fetch Metadata (an older browser) ends nothing', async () => {
    const browser = await signIn();
    for (const origin of ['https://evil.example', 'null']) {
      const page = await browser.post(`${app.url}/logout`, {}, { headers: { origin } });
      expect(page.status).toBe(200);
      expect(formOf(page.text)?.action).toBe('/logout');
    }
    expect(await signedIn(browser)).toBe(true);
  });

  it('answers the page without a session too (no store needed)', async () => {
    const page = await new Browser().get(`${app.url}/logout`, { 'sec-fetch-site': 'cross-site' });
    expect(page.status).toBe(200);
    expect(formOf(page.text)?.action).toBe('/logout');
  });
});

describe('logouts that keep working as before', () => {
  it.each([
    ['a same-site link (Sec-Fetch-Site: same-site)', 'GET', { 'sec-fetch-site': 'same-site' }],
    ['a same-origin link', 'GET', { 'sec-fetch-site': 'same-origin' }],
    ['a typed or bookmarked URL (Sec-Fetch-Site: none)', 'GET', { 'sec-fetch-site': 'none' }],
    ['a browser that sends no Fetch Metadata', 'GET', {}],
    ["the app's own POST /logout", 'POST', { 'sec-fetch-site': 'same-origin' }],
    ['a POST without Fetch Metadata or Origin', 'POST', {}],
  ])('%s logs out at once (302 to the issuer)', async (_name, method, headers: Record<string, string>) => {
    const browser = await signIn();
    const hop =
      method === 'GET' ? await browser.get(`${app.url}/logout`, headers) : await browser.post(`${app.url}/logout`, {}, { headers });
    expect(hop.status).toBe(302);
    expect(new URL(hop.location!).searchParams.get('id_token_hint')).toMatch(/^eyJ/);
    expect(await signedIn(browser)).toBe(false);
  });
});

describe('renderLogoutConfirm', () => {
  it("draws the confirmation page in the app's layout, with the form it is given", async () => {
    const seen: unknown[] = [];
    const custom = await startApp({
      routes: { logout: '/sign-out' },
      renderLogoutConfirm: (_req, res, form) => {
        seen.push(form);
        res
          .status(200)
          .send(`<main class="app-layout"><form method="${form.method}" action="${form.action}"><button>Sign out</button></form></main>`);
      },
    });
    const browser = await signIn(custom);
    const page = await browser.get(`${custom.url}/sign-out`, { 'sec-fetch-site': 'cross-site' });
    expect(page.status).toBe(200);
    expect(page.text).toContain('class="app-layout"');
    expect(seen).toEqual([{ action: '/sign-out', method: 'post' }]);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await signedIn(browser, custom)).toBe(true);
    const done = await browser.post(`${custom.url}${formOf(page.text)!.action}`, {}, { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(done.status).toBe(302);
    expect(await signedIn(browser, custom)).toBe(false);
  });

  it('must be a function (TypeError at start-up)', () => {
    expect(() => auth(loginOptions(app.provider, app.url, prefix, { renderLogoutConfirm: 'page' as never }))).toThrow(
      /renderLogoutConfirm/,
    );
  });
});
