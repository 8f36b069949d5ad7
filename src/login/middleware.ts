import express, { type Router } from 'express';
import { directDispatch } from './direct-dispatch.js';
import { close, health, sessionAdmin, type SessionAdmin } from './lifecycle.js';
import { resolveLoginConfig, type AuthOptions } from './options.js';
import { requestLayer } from './request-layer.js';
import { signInRoutes } from './routes/index.js';
import { createLoginRuntime } from './runtime.js';
import { sessionLayer } from './session-layer.js';

export type { SessionAdmin } from './lifecycle.js';

/** The router `auth()` returns, with lifecycle extras. */
export interface AuthRouter extends Router {
  /** Releases refresh locks and quits the Redis client `auth()` created (not one you passed). */
  close(): Promise<void>;
  /** True when the session store answers (a readiness probe). */
  health(): Promise<boolean>;
  sessions: SessionAdmin;
}

/**
 * The sign-in middleware (OpenID Connect Core 1.0 §3.1, authorization code flow with PKCE):
 * returns a Router serving the login, callback, logout and back-channel logout routes, keeping
 * sessions in express-session (Redis by default, tokens sealed), setting `req.oidc` on every
 * request, and — with `authRequired` (default true) — requiring sign-in on every other route.
 *
 * Options are checked once, here (TypeError naming the option). Unset ones fall back to
 * ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, BASE_URL and SECRET.
 *
 * @example
 * const oidc = auth({ authRequired: false, session: { redis: 'redis://127.0.0.1:6379' } });
 * app.use(oidc);
 * app.get('/profile', requiresAuth(), (req, res) => res.json(req.oidc.user));
 * process.on('SIGTERM', () => server.close(() => void oidc.close()));
 */
export function auth(options?: AuthOptions): AuthRouter {
  // 1. The config, checked once (TypeError naming the option).
  const config = resolveLoginConfig(options);
  if (config.allowInsecureHttp) {
    config.logger.warn('allowInsecureHttp is on: tokens and session cookies may travel over plain HTTP. Never use this in production.');
  }
  if (config.backchannelLogout.allowMissingExp) {
    config.logger.warn(
      'backchannelLogout.allowMissingExp is on: logout tokens without exp (Back-Channel Logout draft 06) are accepted while their iat is under five minutes old.',
    );
  }
  // 2. The services the requests share.
  const runtime = createLoginRuntime(config);
  // 3. One layer: the session, the request's context, then our routes or the page guard.
  const layer = requestLayer(runtime, sessionLayer(runtime), signInRoutes(runtime));
  const router = express.Router() as AuthRouter;
  router.use(layer);
  const direct = directDispatch(router, layer);
  // 4. The lifecycle methods.
  direct.sessions = sessionAdmin(runtime);
  direct.health = () => health(runtime);
  direct.close = () => close(runtime);
  return direct;
}
