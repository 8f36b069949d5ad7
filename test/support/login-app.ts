/**
 * `useLoginApp()`: the set-up most sign-in tests share, as one call at the top of a test file. It
 * registers its own `beforeAll` (an issuer, `auth()` on an app of its own port over the test
 * Redis, an assertion Redis client) and `afterAll` (close them all, delete the file's keys), and
 * answers a handle whose members are there once `beforeAll` ran.
 */
import type { RequestListener } from 'node:http';
import express from 'express';
import type { Redis } from 'ioredis';
import type { AuthOptions, AuthRouter } from '../../src/index.js';
import { startHostileIssuer, type HostileIssuer } from './hostile-issuer.js';
import { startAppServer, startLoginApp, type ClosableIssuer, type LoginApp } from '../login/setup.js';
import { assertionRedis, deleteKeys, testPrefix } from './redis.js';

export type { ClosableIssuer };

export interface UseLoginAppOptions<I extends ClosableIssuer> {
  /** Names the file's Redis key prefix (`test:<file>:<random>:`). */
  file: string;
  /** The key prefix itself, when the `auth` options need it first (made by `testPrefix(file)`). */
  prefix?: string;
  /**
   * Starts the issuer, once the app's server listens at `app.url` (for the redirect URIs an
   * oidc-provider client needs). Default: the hostile issuer (test/support/hostile-issuer.ts).
   */
  issuer?: (app: { url: string }) => Promise<I>;
  /** auth() options over the tests' defaults (login/setup.ts loginOptions()). */
  auth?: Partial<AuthOptions>;
  /** Adds the app's routes after the router (an error handler too, when the tests need one). */
  routes?: (app: express.Express) => void;
  /** The whole app around the router, instead of `routes` (for an app a test file builds itself). */
  app?: (oidc: AuthRouter) => RequestListener;
}

export interface LoginAppHandle<I extends ClosableIssuer> {
  /** The app's base URL. */
  readonly url: string;
  readonly oidc: AuthRouter;
  readonly issuer: I;
  /** A plain client of the test Redis, for assertions. */
  readonly redis: Redis;
  /** The file's Redis key prefix. */
  readonly prefix: string;
  readonly app: LoginApp;
}

export function useLoginApp(options: UseLoginAppOptions<HostileIssuer>): LoginAppHandle<HostileIssuer>;
export function useLoginApp<I extends ClosableIssuer>(
  options: UseLoginAppOptions<I> & { issuer: (app: { url: string }) => Promise<I> },
): LoginAppHandle<I>;
export function useLoginApp<I extends ClosableIssuer>(options: UseLoginAppOptions<I>): LoginAppHandle<I> {
  const prefix = options.prefix ?? testPrefix(options.file);
  let state: { app: LoginApp; issuer: I; redis: Redis } | undefined;
  const started = (): NonNullable<typeof state> => {
    if (!state) throw new Error('useLoginApp(): read in a test or hook, after its beforeAll ran');
    return state;
  };

  beforeAll(async () => {
    const redis = assertionRedis();
    const server = await startAppServer();
    const issuer = options.issuer ? await options.issuer({ url: server.url }) : ((await startHostileIssuer()) as unknown as I);
    const app = await startLoginApp({
      issuer,
      prefix,
      server,
      ...(options.auth ? { auth: options.auth } : {}),
      app:
        options.app ??
        ((oidc) => {
          const routes = express();
          routes.use(oidc);
          options.routes?.(routes);
          return routes;
        }),
    });
    state = { app, issuer, redis };
  });

  afterAll(async () => {
    if (!state) return;
    await state.app.close();
    await state.issuer.close();
    await deleteKeys(state.redis, prefix);
    await state.redis.quit();
  });

  return {
    get url() {
      return started().app.url;
    },
    get oidc() {
      return started().app.oidc;
    },
    get issuer() {
      return started().issuer;
    },
    get redis() {
      return started().redis;
    },
    get app() {
      return started().app;
    },
    prefix,
  };
}
