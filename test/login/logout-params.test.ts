/**
 * From express-openid-connect (issue 16 B): `res.oidc.logout({ returnTo, logoutParams })` and the
 * `logoutParams` option, against oidc-provider's end-session endpoint (RP-Initiated Logout 1.0 §2).
 */
import express from 'express';
import { auth, requiresAuth } from '../../src/index.js';
import { signInAtProvider, startProvider } from '../support/provider.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { loginOptions } from './setup.js';

const handle = useLoginApp({
  file: 'logout-params',
  issuer: ({ url }) => startProvider({ redirectUris: [`${url}/callback`] }),
  auth: { logoutParams: { ui_locales: 'fr', logout_hint: 'global' } },
  app: (oidc) =>
    express()
      .use(oidc)
      .get('/me', requiresAuth(), (req, res) => {
        res.json({ sub: req.oidc.user?.sub });
      })
      .post('/leave', (_req, res) => res.oidc.logout({ returnTo: '/goodbye', logoutParams: { ui_locales: 'de', extra: '1' } }))
      .post('/leave-elsewhere', (_req, res) => res.oidc.logout({ returnTo: 'https://evil.example/' }))
      .post('/leave-badly', (_req, res) => res.oidc.logout({ logoutParams: { client_id: 'other' } })),
});
const prefix = handle.prefix;
/** The app and its oidc-provider, under the names the tests use. */
const app = {
  get url() {
    return handle.url;
  },
  get provider() {
    return handle.issuer;
  },
};

async function signIn(): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login`);
  const back = await signInAtProvider(browser, login.location!, app.url);
  expect((await browser.get(back.location!)).status).toBe(302);
  return browser;
}

async function signedIn(browser: Browser): Promise<boolean> {
  return (await browser.get(`${app.url}/me`, { accept: 'application/json' })).status === 200;
}

describe('logoutParams', () => {
  it('adds its parameters to the end-session request of /logout', async () => {
    const browser = await signIn();
    const hop = await browser.get(`${app.url}/logout`);
    const target = new URL(hop.location!);
    expect(target.searchParams.get('ui_locales')).toBe('fr');
    expect(target.searchParams.get('logout_hint')).toBe('global');
    expect(target.searchParams.get('post_logout_redirect_uri')).toBe(app.url);
    expect(target.searchParams.get('id_token_hint')).toMatch(/^eyJ/);
  });

  it.each(['id_token_hint', 'post_logout_redirect_uri', 'client_id'])('refuses %s at start-up (the logout sets it)', (name) => {
    expect(() => auth(loginOptions(app.provider, app.url, prefix, { logoutParams: { [name]: 'x' } }))).toThrow(
      new RegExp(`logoutParams\\.${name} must be left unset`),
    );
  });
});

describe('res.oidc.logout({ returnTo, logoutParams })', () => {
  it('ends the session and sends the browser to the issuer with returnTo as post_logout_redirect_uri', async () => {
    const browser = await signIn();
    const hop = await browser.post(`${app.url}/leave`, {});
    expect(hop.status).toBe(302);
    expect(hop.headers.get('cache-control')).toContain('no-store');
    const target = new URL(hop.location!);
    expect(target.origin).toBe(new URL(app.provider.issuer).origin);
    expect(target.searchParams.get('post_logout_redirect_uri')).toBe(`${app.url}/goodbye`);
    expect(target.searchParams.get('ui_locales')).toBe('de');
    expect(target.searchParams.get('extra')).toBe('1');
    expect(target.searchParams.get('logout_hint')).toBe('global');
    expect(await signedIn(browser)).toBe(false);
  });

  it('ignores a returnTo that is not a same-origin path', async () => {
    const browser = await signIn();
    const hop = await browser.post(`${app.url}/leave-elsewhere`, {});
    expect(new URL(hop.location!).searchParams.get('post_logout_redirect_uri')).toBe(app.url);
    expect(await signedIn(browser)).toBe(false);
  });

  it('answers a reserved parameter with an error page, ending nothing', async () => {
    const browser = await signIn();
    const hop = await browser.post(`${app.url}/leave-badly`, {});
    expect(hop.status).toBe(500);
    expect(hop.text).not.toMatch(/eyJ/);
    expect(await signedIn(browser)).toBe(true);
  });
});
