/**
 * The app the soak drives, in its own process (so its memory is read apart from the IdP's and the
 * clients'): the example app's pieces (`auth()` on Redis, `requireBearer()` on /api) with what a
 * soak needs and the example app does not expose: the shortest session lifetimes `auth()` accepts
 * (sessions expire during the run) and a Redis key prefix of its own (leaks can be counted). The
 * IdP (the example app's embedded development IdP, with short access tokens so refreshes happen)
 * runs in the parent, bench/suite/soak.ts.
 *
 * Env: SOAK_PORT (the port the IdP was configured for), SOAK_ISSUER, SOAK_CLIENT_SECRET,
 * SOAK_SECRET, SOAK_REDIS_URL, SOAK_PREFIX, SOAK_SESSION_SECONDS. Routes besides the app's: the
 * control routes (./control.ts), GET /__reported (what the app's logger said at warn or error).
 * Prints `ready <url>`.
 */
import http from 'node:http';
import express from 'express';
import { auth, requireBearer, requiresAuth } from '../../src/index.js';
import { mountControl } from './control.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const port = Number(env('SOAK_PORT'));
const issuer = env('SOAK_ISSUER');
const clientSecret = env('SOAK_CLIENT_SECRET');
const sessionSeconds = Number(env('SOAK_SESSION_SECONDS'));
const url = `http://localhost:${port}`;

/** What the app's logger reported at warn or error level (a soak must end with none). */
const reported: string[] = [];
const logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => void reported.push(`warn ${message}`),
  error: (message: string) => void reported.push(`error ${message}`),
};

const app = express();
app.disable('x-powered-by');
mountControl(app);
app.get('/__reported', (_req, res) => {
  res.json(reported);
});
app.use('/api', requireBearer({ issuerBaseURL: issuer, audience: `${url}/api`, logger }), (req, res) => {
  res.set('Cache-Control', 'no-store').json(req.auth?.payload);
});
const oidc = auth({
  issuerBaseURL: issuer,
  baseURL: url,
  clientID: 'example-app',
  clientSecret,
  secret: env('SOAK_SECRET'),
  authRequired: false,
  authorizationParams: { scope: 'openid profile email offline_access', resource: `${url}/api` },
  session: { redis: env('SOAK_REDIS_URL'), prefix: env('SOAK_PREFIX'), rollingDuration: sessionSeconds, absoluteDuration: sessionSeconds },
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
    const api = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    await api.arrayBuffer();
    res.status(api.status === 200 ? 200 : 502).json({ sub: req.oidc.user?.sub, api: api.status });
  } catch (err) {
    next(err);
  }
});

const server = http.createServer(app);
// Longer than the clients' idle keep-alive (undici: 4 s), so a client never sends on a connection
// the server is closing (a "fetch failed" that is the benchmark's, not the library's).
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${url}\n`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void oidc.close().then(() => process.exit(0)));
});
