/**
 * The example app's own pages for what the library answers (issue 15 §8, issue 16 E): the
 * cross-site logout confirmation and the error pages are drawn in the app's layout; declining
 * consent at the IdP reads as a cancelled sign-in, with a way to log in again.
 */
import { CookieJar, authorizeAtIdp, formAction, request, signIn, startLogin } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp('pages');
});

afterAll(async () => {
  await t.close();
});

/** The app's layout: its header bar with the brand link. */
const LAYOUT = /<header><div class="bar"><a class="brand" href="\/">express-oidc-guard example<\/a>/;

describe('GET /logout started by another site (Sec-Fetch-Site: cross-site)', () => {
  it('answers a page in the app layout whose button POSTs to /logout; the session stays until it is pressed', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, t.base, { returnTo: '/profile' })).callback.status).toBe(302);
    const key = t.sessionKey(jar.get(t.base, 'oidc.sid')) as string;

    const page = await request(jar, `${t.base}/logout`, { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } });
    expect(page.status).toBe(200);
    expect(page.body).toMatch(LAYOUT);
    expect(page.body).toMatch(/<form class="inline" method="post" action="\/logout"><button type="submit">Log out<\/button><\/form>/);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await t.redis.exists(key)).toBe(1);
    expect((await request(jar, `${t.base}/profile`)).status).toBe(200);

    // The button: a POST from the app's own page.
    const done = await request(jar, formAction(page, /\/logout$/) as string, {
      form: {},
      headers: { 'sec-fetch-site': 'same-origin', origin: t.base },
    });
    expect(done.status).toBe(302);
    expect(done.location).toMatch(new RegExp(`^${t.server.example.issuer}/session/end\\?`));
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('a same-site logout link still logs out at once', async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, t.base)).callback.status).toBe(302);
    const page = await request(jar, `${t.base}/logout`, { headers: { 'sec-fetch-site': 'same-site' } });
    expect(page.status).toBe(302);
    expect((await request(jar, `${t.base}/profile`)).status).toBe(302);
  });
});

describe('error pages', () => {
  it('declining consent reads as a cancelled sign-in, in the app layout, with "Log in again"', async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, t.base);
    const back = await authorizeAtIdp(jar, authorizeURL, `${t.base}/callback`, { consent: 'deny' });
    const page = await request(jar, back.href);
    expect(page.status).toBe(400);
    expect(page.body).toMatch(LAYOUT);
    expect(page.body).toContain('<h1>Sign-in cancelled</h1>');
    expect(page.body).toContain('You cancelled the sign-in');
    expect(page.body).not.toContain('Sign-in failed');
    expect(page.body).toMatch(/<a class="button" href="\/login">Log in again<\/a>/);
  });

  it('a failed callback shows the reason in the app layout, with "Log in again"', async () => {
    const jar = new CookieJar();
    const page = await request(jar, `${t.base}/callback?code=x&state=not-a-state`);
    expect(page.status).toBe(400);
    expect(page.body).toMatch(LAYOUT);
    expect(page.body).toContain('<h1>Sign-in failed</h1>');
    expect(page.body).toMatch(/<a class="button" href="\/login">Log in again<\/a>/);
    expect(page.headers.get('cache-control')).toMatch(/no-store/);
  });

  it('stays JSON for callers that ask for JSON', async () => {
    const page = await request(new CookieJar(), `${t.base}/callback?code=x&state=not-a-state`, { headers: { accept: 'application/json' } });
    expect(page.status).toBe(400);
    expect(JSON.parse(page.body)).toEqual({ error: expect.any(String), error_description: expect.any(String) });
  });
});
