/**
 * RFC 6749 §4.1.2.1 `access_denied` coming back from the issuer on an interactive sign-in (the user
 * declined or cancelled there): the default error page reads as a cancelled sign-in, with a way to
 * log in again; the status, the JSON answer and every other error page stay as they were.
 */
import express from 'express';
import { requiresAuth, type AuthRouter } from '../../src/index.js';
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { Browser } from '../support/browser.js';
import { useLoginApp } from '../support/login-app.js';
import { startLoginApp, type LoginApp } from './setup.js';

const CLIENT_SECRET = 'hostile-client-secret';
const appOf = (oidc: AuthRouter) =>
  express()
    .use(oidc)
    .get('/sign-in', (_req, res) => void res.oidc.login({ returnTo: '/page' }))
    .get('/page', requiresAuth(), (_req, res) => {
      res.send('page');
    });
const handle = useLoginApp({ file: 'cancelled-sign-in', auth: { clientSecret: CLIENT_SECRET }, app: appOf });
let issuer: HostileIssuer;
let app: LoginApp;
/** The same app with `routes.login: false`: no login route to link to. */
let noRouteApp: LoginApp;

beforeAll(async () => {
  issuer = handle.issuer;
  app = handle.app;
  noRouteApp = await startLoginApp({
    issuer,
    prefix: handle.prefix,
    auth: { clientSecret: CLIENT_SECRET, routes: { login: false } },
    app: appOf,
  });
});

afterAll(async () => {
  await noRouteApp.close();
});

/** Starts a sign-in at `path` of `target`; answers the browser and the `state` sent to the issuer. */
async function startSignIn(target: LoginApp, path = '/login?returnTo=/page'): Promise<{ browser: Browser; state: string }> {
  const browser = new Browser();
  const login = await browser.get(`${target.url}${path}`);
  expect(login.status).toBe(302);
  return { browser, state: new URL(login.location!).searchParams.get('state')! };
}

function errorCallback(target: LoginApp, state: string, error: string, extra: Record<string, string> = {}): string {
  return `${target.url}/callback?${new URLSearchParams({ error, state, iss: issuer.issuer, ...extra }).toString()}`;
}

describe('the default error page › access_denied from the issuer (RFC 6749 §4.1.2.1)', () => {
  it('reads as a cancelled sign-in, with "Log in again" to the login route; still 400', async () => {
    const { browser, state } = await startSignIn(app);
    const page = await browser.get(
      errorCallback(app, state, 'access_denied', { error_description: 'The user said no (secret-ish detail)' }),
    );
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toContain('no-store');
    expect(page.text).toContain('<title>Sign-in cancelled</title>');
    expect(page.text).toContain('<h1>Sign-in cancelled</h1>');
    expect(page.text).toContain('You cancelled the sign-in, so you are not signed in.');
    expect(page.text).toContain('<a href="/login">Log in again</a>');
    expect(page.text).toContain('access_denied');
    expect(page.text).not.toContain('Sign-in failed');
    // Nothing the issuer or the browser sent is echoed: not the state, not the issuer's description.
    expect(page.text).not.toContain(state);
    expect(page.text).not.toContain('secret-ish');
  });

  it('has no "Log in again" link when there is no login route (routes.login: false)', async () => {
    const { browser, state } = await startSignIn(noRouteApp, '/sign-in');
    const page = await browser.get(errorCallback(noRouteApp, state, 'access_denied'));
    expect(page.status).toBe(400);
    expect(page.text).toContain('<h1>Sign-in cancelled</h1>');
    expect(page.text).not.toContain('Log in again');
  });

  it('stays the same JSON for a caller that asks for JSON', async () => {
    const { browser, state } = await startSignIn(app);
    const res = await browser.get(errorCallback(app, state, 'access_denied'), { accept: 'application/json' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({
      error: 'access_denied',
      error_description: 'The authorization server did not sign you in (access_denied).',
    });
  });

  it('leaves other issuer errors as "Sign-in failed" (login_required, and an unknown code read as access_denied)', async () => {
    for (const error of ['login_required', 'invalid_scope']) {
      const { browser, state } = await startSignIn(app);
      const page = await browser.get(errorCallback(app, state, error));
      expect(page.status).toBe(400);
      expect(page.text).toContain('Sign-in failed');
      expect(page.text).not.toContain('Sign-in cancelled');
      expect(page.text).not.toContain('Log in again');
    }
  });

  it('leaves a callback that matches no sign-in as "Sign-in failed"', async () => {
    const page = await new Browser().get(errorCallback(app, 'not-a-state', 'access_denied'));
    expect(page.status).toBe(400);
    expect(page.text).toContain('Sign-in failed');
    expect(page.text).not.toContain('Sign-in cancelled');
  });
});
