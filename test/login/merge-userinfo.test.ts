/**
 * `mergeUserInfo` (issue 16 B): an issuer that keeps `name` and `email` out of the ID token
 * (oidc-provider with `conformIdTokenClaims`) still gives the app a named user.
 */
import express from 'express';
import { signInAtProvider } from '../support/provider.js';
import { Browser } from '../support/browser.js';
import { cleansPrefixAfterAll, startProviderApp, testPrefix, type ProviderApp } from './setup.js';

const prefix = testPrefix('merge-userinfo');
cleansPrefixAfterAll(prefix);

/** Signs alice in at an issuer that puts only `sub` in the ID token; returns `req.oidc.user`. */
async function userAfterSignIn(mergeUserInfo: boolean): Promise<{ user: Record<string, unknown>; app: ProviderApp }> {
  const app = await startProviderApp(
    { providerConfig: { conformIdTokenClaims: true } },
    {
      prefix,
      auth: { mergeUserInfo, authorizationParams: { scope: 'openid profile email' } },
      app: (oidc) =>
        express()
          .use(oidc)
          .get('/me', (req, res) => res.json(req.oidc.user ?? null)),
    },
  );
  const browser = new Browser();
  const login = await browser.get(`${app.url}/login`);
  const back = await signInAtProvider(browser, login.location!, app.url, 'alice');
  expect((await browser.get(back.location!)).status).toBe(302);
  const me = await browser.get(`${app.url}/me`, { accept: 'application/json' });
  return { user: JSON.parse(me.text) as Record<string, unknown>, app };
}

describe('mergeUserInfo (OIDC Core §5.3)', () => {
  it('adds the UserInfo claims the ID token lacks to req.oidc.user', async () => {
    const { user, app } = await userAfterSignIn(true);
    try {
      expect(user).toMatchObject({ sub: 'alice', name: 'User alice', email: 'alice@example.test' });
      expect(app.provider.requests.some((r) => r.path.endsWith('/me'))).toBe(true);
    } finally {
      await app.close();
    }
  });

  it('leaves the user as the ID token has it when off (the default)', async () => {
    const { user, app } = await userAfterSignIn(false);
    try {
      expect(user.sub).toBe('alice');
      expect(user.email).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
