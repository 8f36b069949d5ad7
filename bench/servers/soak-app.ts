/**
 * The app the soak drives: the example app's pieces (the embedded development IdP, `auth()` on
 * Redis, `requireBearer()` on /api) with what a soak needs and the example app does not expose:
 * short access tokens (refreshes happen), the shortest session lifetimes `auth()` accepts (sessions
 * expire during the run) and a Redis key prefix of its own (leaks can be counted).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { auth, requireBearer, requiresAuth, type AuthRouter } from '../../src/index.js';
import { startDevIdp, type DevIdp } from '../../example-app/idp.js';

export interface SoakApp {
  url: string;
  idp: DevIdp;
  oidc: AuthRouter;
  clientSecret: string;
  close(): Promise<void>;
}

export interface SoakAppOptions {
  redisURL: string;
  prefix: string;
  /** Access token lifetime at the IdP, in seconds (the refresh margin is 30 s). */
  accessTokenTtlSeconds: number;
  /** Idle and absolute session lifetime, in seconds (60 at least). */
  sessionSeconds: number;
  secret: string;
}

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Errors the app's logger reported at warn or error level (a soak must end with none). */
export const reported: string[] = [];
const logger = {
  ...silent,
  warn: (message: string) => void reported.push(`warn ${message}`),
  error: (message: string) => void reported.push(`error ${message}`),
};

export async function startSoakApp(options: SoakAppOptions): Promise<SoakApp> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  const clientSecret = 'soak-client-secret-0123456789';
  const idp = await startDevIdp({
    host: '127.0.0.1',
    port: 0,
    baseURL: url,
    clientID: 'example-app',
    clientSecret,
    audience: `${url}/api`,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds,
  });
  const app = express();
  app.disable('x-powered-by');
  app.use('/api', requireBearer({ issuerBaseURL: idp.issuer, audience: `${url}/api`, logger }), (req, res) => {
    res.set('Cache-Control', 'no-store').json(req.auth?.payload);
  });
  const oidc = auth({
    issuerBaseURL: idp.issuer,
    baseURL: url,
    clientID: 'example-app',
    clientSecret,
    secret: options.secret,
    authRequired: false,
    authorizationParams: { scope: 'openid profile email offline_access', resource: `${url}/api` },
    session: { redis: options.redisURL, prefix: options.prefix, rollingDuration: options.sessionSeconds, absoluteDuration: options.sessionSeconds },
    logger,
  });
  app.get('/healthz', async (_req, res) => {
    res.sendStatus((await oidc.health()) ? 200 : 503);
  });
  app.use(oidc);
  // Like the example app's /profile: a usable access token (refreshed first), then the API with it.
  app.get('/profile', requiresAuth({ accessToken: true }), async (req, res, next) => {
    try {
      const token = await req.oidc.getAccessToken();
      const api = await fetch(`${url.replace('localhost', '127.0.0.1')}/api/me`, { headers: { authorization: `Bearer ${token}` } });
      await api.arrayBuffer();
      res.status(api.status === 200 ? 200 : 502).json({ sub: req.oidc.user?.sub, api: api.status });
    } catch (err) {
      next(err);
    }
  });
  server.on('request', app);
  return {
    url,
    idp,
    oidc,
    clientSecret,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await oidc.close();
      await idp.close();
    },
  };
}
