/**
 * Issue 16 E: a newcomer's own app signs in at the example app's embedded development IdP, whose
 * client accepts the extra redirect URIs of `DEV_IDP_REDIRECT_URIS`.
 */
import { requiresAuth } from '../../src/index.js';
import { loadConfig } from '../../example-app/config.js';
import { DEMO_USER } from '../../example-app/idp.js';
import { useLoginApp } from '../support/login-app.js';
import { CookieJar, authorizeAtIdp, request, startLogin } from './helpers/browserless.js';
import { startTestApp, type TestApp } from './helpers/app.js';

const CLIENT_SECRET = 'dev-idp-test-secret-0123456789';
let t: TestApp;

/** The newcomer's own app, signing in at the example app's embedded IdP. */
const own = useLoginApp({
  file: 'dev-idp-own-app',
  issuer: async ({ url }) => {
    t = await startTestApp('dev-idp', { DEV_IDP_REDIRECT_URIS: `${url}/callback`, CLIENT_SECRET });
    return { issuer: t.server.example.issuer, clientId: 'example-app', clientSecret: CLIENT_SECRET, close: () => t.close() };
  },
  routes: (app) => {
    app.get('/me', requiresAuth(), (req, res) => {
      res.json({ sub: req.oidc.user?.sub });
    });
  },
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
    expect(() => loadConfig({ DEV_IDP_REDIRECT_URIS: 'localhost:4000/callback' })).toThrow(
      /DEV_IDP_REDIRECT_URIS must be a comma-separated list of http\(s\) URLs/,
    );
  });
});
