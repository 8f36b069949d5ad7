/** Shared plumbing of the login tests: an app server on a free port, an app signed in at an issuer, Redis, polling. */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { auth, type AuthOptions, type AuthRouter } from '../../src/index.js';
import { signInAtProvider, startProvider, type TestProvider, type TestProviderOptions } from '../support/provider.js';
import { Browser, type Hop } from '../support/browser.js';
import { eventually } from '../support/eventually.js';
import type { Redis } from 'ioredis';
import { assertionRedis, cleanup, deleteKeys, REDIS_URL, quiet } from '../support/redis.js';

export { REDIS_URL, quiet, testPrefix, assertionRedis } from '../support/redis.js';

export const SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** A started app server (startAppServer()). */
export interface AppServer {
  server: Server;
  url: string;
  setHandler(handler: RequestListener): void;
  close(): Promise<void>;
}

/** An HTTP server listening on 127.0.0.1 with its handler set later (the URL is needed first). */
export async function startAppServer(): Promise<AppServer> {
  let handler: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = createServer((req, res) => handler(req, res));
  // Keep idle connections open for the test's life: a server closing an idle keep-alive socket
  // just as the client reuses it gives the client ECONNRESET under load (Node's default is 5 s).
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    setHandler(next) {
      handler = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Where a test app signs in: the issuer and the client registered there (a TestProvider, a HostileIssuer, or any such). */
export interface IssuerClient {
  issuer: string;
  clientId: string;
  /** Sent as `clientSecret` when set (a HostileIssuer has none: give it in the overrides). */
  clientSecret?: string;
}

/**
 * The auth() options of a test app at `baseURL`: the issuer's client, the test secret, no
 * authRequired, sessions in the test Redis under `prefix`, a quiet logger. `overrides` win; one
 * set to undefined leaves the option unset.
 */
export function loginOptions(issuer: IssuerClient, baseURL: string, prefix: string, overrides: Partial<AuthOptions> = {}): AuthOptions {
  return {
    issuerBaseURL: issuer.issuer,
    baseURL,
    clientID: issuer.clientId,
    ...(issuer.clientSecret === undefined ? {} : { clientSecret: issuer.clientSecret }),
    secret: SECRET,
    authRequired: false,
    session: { redis: REDIS_URL, prefix },
    logger: quiet,
    ...overrides,
  };
}

export interface LoginAppOptions {
  issuer: IssuerClient;
  /** The test file's Redis key prefix (testPrefix()). */
  prefix: string;
  /** auth() options over loginOptions()'s (baseURL defaults to the app's URL). */
  auth?: Partial<AuthOptions>;
  /** The app around the router. Default: the router alone. */
  app?: (oidc: AuthRouter) => RequestListener;
  /** A server already started (its URL was needed first, e.g. for the issuer's redirect URIs); close() closes it. */
  server?: AppServer;
}

export interface LoginApp {
  url: string;
  oidc: AuthRouter;
  server: AppServer;
  /** Closes the router, then the server. */
  close(): Promise<void>;
}

/** A route that answers `{ token }` from `req.oidc.getAccessToken()` (which refreshes when due); errors go to next(). */
export const accessTokenRoute: RequestHandler = async (req, res, next) => {
  try {
    res.json({ token: await req.oidc.getAccessToken() });
  } catch (err) {
    next(err);
  }
};

/** An app with `auth()` on its own port, once the router's store answers. */
export async function startLoginApp(options: LoginAppOptions): Promise<LoginApp> {
  const server = options.server ?? (await startAppServer());
  const oidc = auth(loginOptions(options.issuer, server.url, options.prefix, options.auth));
  server.setHandler(options.app ? options.app(oidc) : express().use(oidc));
  await waitFor(() => oidc.health(), 10_000, 'redis');
  return {
    url: server.url,
    oidc,
    server,
    async close() {
      await oidc.close();
      await server.close();
    },
  };
}

export interface ProviderApp extends LoginApp {
  provider: TestProvider;
  /** Closes the router, the server, then the provider. */
  close(): Promise<void>;
}

/** startLoginApp() at a new oidc-provider whose client redirects to this app's /callback. */
export async function startProviderApp(
  providerOptions: Omit<TestProviderOptions, 'redirectUris'>,
  options: Omit<LoginAppOptions, 'issuer' | 'server'>,
): Promise<ProviderApp> {
  const server = await startAppServer();
  const provider = await startProvider({ ...providerOptions, redirectUris: [`${server.url}/callback`] });
  const app = await startLoginApp({ ...options, issuer: provider, server });
  return {
    ...app,
    provider,
    async close() {
      await app.close();
      await provider.close();
    },
  };
}

/** An issuer that a test starts and stops (a TestProvider, a HostileIssuer). */
export type ClosableIssuer = IssuerClient & { close(): Promise<void> };

/** Two instances of one app (two processes behind one URL) at one issuer, sharing Redis. */
export interface TwoInstances<I extends ClosableIssuer = TestProvider> {
  first: LoginApp;
  second: LoginApp;
  /** The issuer both sign in at. */
  issuer: I;
  /** Signs in on the first instance; the browser sends the second the same cookie (same site). */
  signIn(): Promise<Browser>;
  /** Closes both instances and the issuer. */
  close(): Promise<void>;
}

export type TwoInstancesOptions<I extends ClosableIssuer> = Omit<LoginAppOptions, 'issuer' | 'server'> & {
  /** auth() options of one instance (0 or 1) over `auth`, e.g. a Redis client of its own. */
  instance?: (index: 0 | 1) => Partial<AuthOptions>;
} & (
    | { /** A new oidc-provider issuing access tokens of this many seconds and rotating refresh tokens. */ accessTokenTtl: number }
    | { /** An issuer already started (closed by close()). */ issuer: I }
  );

/** startLoginApp() twice with the same baseURL and secret, at one issuer. */
export async function startTwoInstances(options: TwoInstancesOptions<TestProvider> & { accessTokenTtl: number }): Promise<TwoInstances>;
export async function startTwoInstances<I extends ClosableIssuer>(
  options: TwoInstancesOptions<I> & { issuer: I },
): Promise<TwoInstances<I>>;
export async function startTwoInstances<I extends ClosableIssuer>(
  options: TwoInstancesOptions<I>,
): Promise<TwoInstances<I | TestProvider>> {
  const firstServer = await startAppServer();
  const secondServer = await startAppServer();
  const issuer: I | TestProvider =
    'issuer' in options
      ? options.issuer
      : await startProvider({
          redirectUris: [`${firstServer.url}/callback`],
          accessTokenTtl: options.accessTokenTtl,
          rotateRefreshToken: true,
        });
  const instance = (server: AppServer, index: 0 | 1) =>
    startLoginApp({
      prefix: options.prefix,
      ...(options.app ? { app: options.app } : {}),
      server,
      issuer,
      auth: { ...options.auth, baseURL: firstServer.url, ...options.instance?.(index) },
    });
  const first = await instance(firstServer, 0);
  const second = await instance(secondServer, 1);
  return {
    first,
    second,
    issuer,
    async signIn() {
      const browser = new Browser();
      const login = await browser.get(`${first.url}/login`);
      const back = await signInAtProvider(browser, login.location!, first.url);
      const done = await browser.get(back.location!);
      if (done.status !== 302) throw new Error(`sign-in answered ${done.status}`);
      browser.shareCookies(first.url, second.url);
      return browser;
    },
    async close() {
      await first.close();
      await second.close();
      await issuer.close();
    },
  };
}

/** The error handler of the tests' JSON apps: the error's status (500 without) and `{ error: code }`. */
export const jsonErrors: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
  res.status(err.status ?? 500).json({ error: err.code ?? 'server_error' });
};

/** `eventually(check, { timeoutMs, what })` of test/support, with positional arguments. */
export function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return eventually(check, { timeoutMs, what, stepMs: 25 });
}

/** Deletes every key under `prefix`. */
export const cleanPrefix = deleteKeys;

/** The session id inside an express-session cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sessionIdOf(cookieValue: string): string {
  const decoded = decodeURIComponent(cookieValue);
  const match = /^s:([^.]+)\.[A-Za-z0-9+/=_-]+$/.exec(decoded);
  if (!match) throw new Error('not a signed session cookie');
  return match[1]!;
}

/** Asserts a hop is a redirect to the login route with the given returnTo. */
export function expectLoginRedirect(hop: Hop, returnTo: string): void {
  expect(hop.status).toBe(302);
  const url = new URL(hop.location!);
  expect(url.pathname).toBe('/login');
  expect(url.searchParams.get('returnTo')).toBe(returnTo);
}

export type { Browser };

/** Registers the hooks that delete every key under `prefix` once the test file is done. */
export function cleansPrefixAfterAll(prefix: string): void {
  let redis: Redis;
  beforeAll(() => {
    redis = assertionRedis();
  });
  afterAll(() => cleanup(prefix, redis));
}
