/**
 * Issue 16 E: a newcomer's own app signs in at the example app's embedded development IdP, whose
 * client accepts the extra redirect URIs of `DEV_IDP_REDIRECT_URIS`.
 */
import express from 'express';
import { requiresAuth } from '../../src/index.js';
import { loadConfig } from '../../example-app/config.js';
import { DEMO_USER } from '../../example-app/idp.js';
import { startAppServer, startLoginApp, testPrefix, type AppServer, type LoginApp } from '../login/setup.js';
import { CookieJar, authorizeAtIdp, request, startLogin } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const CLIENT_SECRET = 'dev-idp-test-secret-0123456789';
let t: TestApp;
let own: AppServer;
let ownApp: LoginApp;

beforeAll(async () => {
  own = await startAppServer();
  t = await startTestApp('dev-idp', { DEV_IDP_REDIRECT_URIS: `${own.url}/callback`, CLIENT_SECRET });
  ownApp = await startLoginApp({
    server: own,
    issuer: { issuer: t.server.example.issuer, clientId: 'example-app', clientSecret: CLIENT_SECRET },
    prefix: testPrefix('dev-idp-own-app'),
    app: (oidc) =>
      express()
        .use(oidc)
        .get('/me', requiresAuth(), (req, res) => {
          res.json({ sub: req.oidc.user?.sub });
        }),
  });
});

afterAll(async () => {
  await ownApp.close();
  await t.close();
});

describe('DEV_IDP_REDIRECT_URIS', () => {
  it("lets another app sign in at the embedded IdP with the example app's client", async () => {
    const jar = new CookieJar();
    const authorizeURL = await startLogin(jar, own.url, '/me');
    expect(authorizeURL.origin).toBe(new URL(t.server.example.issuer).origin);
    const back = await authorizeAtIdp(jar, authorizeURL, `${own.url}/callback`);
    const callback = await request(jar, back.href);
    expect(callback.status).toBe(302);
    const me = await request(jar, `${own.url}/me`, { headers: { accept: 'application/json' } });
    expect(me.status).toBe(200);
    expect(JSON.parse(me.body)).toEqual({ sub: DEMO_USER.sub });
  });

  it('is refused at start-up when it is not a list of http(s) URLs', () => {
    expect(() => loadConfig({ DEV_IDP_REDIRECT_URIS: 'localhost:4000/callback' })).toThrow(/DEV_IDP_REDIRECT_URIS must be a comma-separated list of http\(s\) URLs/);
  });
});
