/**
 * A real browser (Debian's Chromium, driven by playwright-core) signs in to the example app
 * through the embedded IdP's pages and signs out again. Leaves a screenshot of the profile page
 * in artifacts/profile.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { DEMO_USER } from '../../example-app/idp.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const ARTIFACTS = path.resolve(import.meta.dirname, '../../artifacts');

let t: TestApp;
let browser: Browser;

beforeAll(async () => {
  t = await startTestApp('browser');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('signing in and out with a real browser', () => {
  it('logs in with the demo user, shows the profile with /api/me, and logs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    try {
      await page.goto(`${t.base}/`);
      await page.getByRole('link', { name: 'Log in' }).click();

      // The IdP's login form.
      await page.waitForURL((url) => url.href.startsWith(`${t.server.example.issuer}/interaction/`));
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'idp-login.png') });
      await page.getByLabel('Username').fill(DEMO_USER.login);
      await page.getByLabel('Password').fill(DEMO_USER.password);
      await page.getByRole('button', { name: 'Sign in' }).click();

      // Consent.
      await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'idp-consent.png') });
      await page.getByRole('button', { name: 'Allow' }).click();

      // Back at the app, on the profile page.
      await page.waitForURL(`${t.base}/profile`);
      await expect(page.locator('#sub').textContent()).resolves.toBe(DEMO_USER.sub);
      const me = JSON.parse((await page.locator('#api-me').textContent()) ?? 'null') as Record<string, unknown>;
      expect(me).toMatchObject({ sub: DEMO_USER.sub, aud: `${t.base}/api`, iss: t.server.example.issuer });
      await page.screenshot({ path: path.join(ARTIFACTS, 'profile.png'), fullPage: true });

      // Log out at the app, then at the IdP, and come back signed out.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('button', { name: 'Yes, sign me out' }).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'idp-logout.png') });
      await page.getByRole('button', { name: 'Yes, sign me out' }).click();
      await page.waitForURL(`${t.base}/`);
      await expect(page.getByRole('link', { name: 'Log in' }).isVisible()).resolves.toBe(true);
      await page.screenshot({ path: path.join(ARTIFACTS, 'home.png') });

      // /profile now sends the browser to sign in again.
      await page.goto(`${t.base}/profile`);
      await page.waitForURL((url) => url.href.startsWith(`${t.server.example.issuer}/interaction/`));
      await expect(page.getByLabel('Password').isVisible()).resolves.toBe(true);
    } finally {
      await context.close();
    }
  }, 120_000);
});
