import express, { type Express } from 'express';
import { auth, requiresAuth, requiresClaim, type AuthOptions, type AuthRouter } from '../../../src/index.js';

/** ISSUER_BASE_URL, BASE_URL, CLIENT_ID, CLIENT_SECRET and SECRET come from the environment, as before. */
export function createApp(overrides: AuthOptions = {}): { app: Express; oidc: AuthRouter } {
  const app = express();
  const oidc = auth({
    authRequired: false,
    // response_type is always 'code' (with PKCE); idpLogout is on when the issuer supports it.
    authorizationParams: { scope: 'openid profile email offline_access', audience: 'https://api.example.com' },
    // Sessions, and the tokens in them (sealed), live in Redis instead of the cookie.
    session: { redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    ...overrides,
  });
  app.use(oidc);

  app.get('/', (req, res) => {
    res.send(req.oidc.isAuthenticated() ? `Hello ${String(req.oidc.user?.name)}` : '<a href="/login">Log in</a>');
  });

  app.get('/profile', requiresAuth(), async (req, res, next) => {
    try {
      const accessToken = await req.oidc.getAccessToken(); // refreshed first when (nearly) expired
      const userInfo = await req.oidc.fetchUserInfo();
      res.json({ user: req.oidc.user, userInfo, accessTokenLength: accessToken.length });
    } catch (err) {
      next(err);
    }
  });

  // claimEquals('isAdmin', true) of express-openid-connect: the ID token claims of the session.
  app.get('/admin', requiresClaim.equals('isAdmin', true), (_req, res) => {
    res.send('Welcome, admin');
  });

  app.get('/orders/login', (_req, res) => res.oidc.login({ returnTo: '/orders' }));

  return { app, oidc };
}
