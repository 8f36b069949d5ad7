import express, { type Router } from 'express';
import type { LoginRuntime } from '../runtime.js';
import { backchannelLogoutRoute } from './backchannel-logout.js';
import { callbackRoute } from './callback.js';
import { loginRoute } from './login.js';
import { logoutRoute } from './logout.js';
import { formBody } from './route.js';

/** The sign-in routes, and which request paths they may answer. */
export interface SignInRoutes {
  router: Router;
  /** False when the path is surely none of ours (the request then skips the routes router). */
  mayHandle(path: string): boolean;
}

/** A route path as Express compares it: case-insensitive, a trailing slash optional. */
function normaliseRoutePath(path: string): string {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
}

/**
 * Mounts the login, callback, logout and back-channel logout routes on their own router, entered
 * only for their paths: a page view passes one layer of ours, not one per route.
 */
export function signInRoutes(runtime: LoginRuntime): SignInRoutes {
  const { routes: paths } = runtime.config;
  const router = express.Router();
  if (paths.login !== false) router.get(paths.login, loginRoute(runtime));
  const callback = callbackRoute(runtime);
  router.get(paths.callback, callback);
  router.post(paths.callback, formBody(runtime), callback);
  const logout = logoutRoute(runtime);
  router.get(paths.logout, logout);
  router.post(paths.logout, logout);
  if (paths.backchannelLogout !== false) {
    const backchannel = backchannelLogoutRoute(runtime);
    if (backchannel) router.post(paths.backchannelLogout, formBody(runtime, 'json'), backchannel);
  }

  const routePaths = [paths.login, paths.callback, paths.logout, paths.backchannelLogout].filter(
    (path): path is string => typeof path === 'string',
  );
  // Express matches routes case-insensitively and with or without a trailing slash; a path with
  // pattern characters is left to Express alone (every request then enters the routes router).
  const plainPaths = routePaths.every((path) => /^[A-Za-z0-9/_.~-]*$/.test(path));
  const ownPaths = new Set(routePaths.map((path) => normaliseRoutePath(path)));
  // Most requests are for other paths: a length check spares them the lower-casing.
  const ownLengths = new Set(routePaths.flatMap((path) => [path.length, path.length + 1]));
  return {
    router,
    mayHandle: (path) => !plainPaths || (ownLengths.has(path.length) && ownPaths.has(normaliseRoutePath(path))),
  };
}
