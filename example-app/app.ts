/**
 * The example app: a public home page, sign-in with `auth()`, a profile page that calls the app's
 * own API with the session's access token, and the API protected by `requireBearer()`. The
 * routes are the ones docs/CONTRACT.md fixes. `createApp()` builds it without listening;
 * `listen.ts` binds it to a port and `server.ts` runs it.
 */
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Cluster } from 'ioredis';
import {
  AuthError,
  LoginRequiredError,
  auth,
  renderError,
  requireBearer,
  requiredScopes,
  requiresAuth,
  type Logger,
} from '../src/index.js';
import { wantsJson } from '../src/advanced.js';
import type { AppConfig } from './config.js';
import { startDevIdp, type DevIdp } from './idp.js';
import { PAGE_HEADERS, html, page, type Html } from './html.js';

/** Extra knobs for tests and embedding; none of them is read from the environment. */
export interface CreateAppOptions {
  /** Where the library reports (default: its own logger, warnings to stderr). */
  logger?: Logger;
  /** Prefix of the Redis keys of the sessions (default: the library's `oidc:`). */
  sessionPrefix?: string;
  /** Access token lifetime at the embedded IdP, in seconds (tests use short ones to force a refresh). */
  idpAccessTokenTtlSeconds?: number;
}

/** A built app and how to stop what it started. */
export interface ExampleApp {
  app: express.Express;
  /** The issuer the app signs in with (the embedded IdP's when `ISSUER_BASE_URL` was unset). */
  issuer: string;
  /** The embedded development IdP, when one was started. */
  idp: DevIdp | undefined;
  /** Health of the session store, as `/healthz` reports it. */
  health(): Promise<boolean>;
  /** Closes the session store connection (Redis) and the embedded IdP. */
  close(): Promise<void>;
}

const BRAND = 'express-oidc-guard example';

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function sendPage(res: Response, status: number, body: string): void {
  res.status(status).set(PAGE_HEADERS).set('Cache-Control', 'no-store').send(body);
}

function nav(req: Request): Html {
  if (!req.oidc?.isAuthenticated()) return html``;
  return html`<a href="/profile">Profile</a>
<form class="inline" method="post" action="/logout"><button class="secondary" type="submit">Log out</button></form>`;
}

function displayName(claims: Record<string, unknown> | undefined): string {
  const name = claims?.name ?? claims?.email ?? claims?.sub;
  return typeof name === 'string' ? name : 'signed-in user';
}

function homePage(req: Request): string {
  const signedIn = req.oidc?.isAuthenticated() ?? false;
  const body = signedIn
    ? html`<div class="card">
<h1>Welcome back</h1>
<p>Signed in as <strong id="user-name">${displayName(req.oidc.user)}</strong>.</p>
<p><a class="button" href="/profile">View your profile</a></p>
</div>`
    : html`<div class="card">
<h1>Welcome</h1>
<p>This app signs you in with OpenID Connect and calls its own API with your access token.</p>
<p class="muted">You are not signed in.</p>
<p><a class="button" href="/login?returnTo=/profile">Log in</a></p>
</div>`;
  return page({ title: BRAND, brand: BRAND, nav: nav(req), body });
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function profilePage(req: Request, api: { status: number; body: unknown }): string {
  const claims = (req.oidc.user ?? {}) as Record<string, unknown>;
  const body = html`<div class="card">
<h1>Your profile</h1>
<dl>
<dt>sub</dt><dd id="sub">${String(claims.sub ?? '')}</dd>
${typeof claims.name === 'string' ? html`<dt>name</dt><dd>${claims.name}</dd>` : ''}
${typeof claims.email === 'string' ? html`<dt>email</dt><dd>${claims.email}</dd>` : ''}
</dl>
</div>
<div class="card">
<h2>ID token claims</h2>
<pre id="claims">${json(claims)}</pre>
</div>
<div class="card">
<h2>GET /api/me <span class="muted">(called server-side with your access token: ${api.status})</span></h2>
<pre id="api-me">${json(api.body)}</pre>
</div>`;
  return page({ title: `Profile - ${BRAND}`, brand: BRAND, nav: nav(req), body });
}

function messagePage(req: Request, title: string, message: string): string {
  return page({
    title: `${title} - ${BRAND}`,
    brand: BRAND,
    nav: nav(req),
    body: html`<div class="card"><h1>${title}</h1><p>${message}</p><p><a href="/">Home</a></p></div>`,
  });
}

/** The page that asks to confirm a logout another site started (auth()'s `renderLogoutConfirm`). */
function logoutConfirmPage(req: Request, action: string): string {
  return page({
    title: `Log out? - ${BRAND}`,
    brand: BRAND,
    nav: nav(req),
    body: html`<div class="card"><h1>Log out?</h1>
<p>Another site sent you here to log you out. Log out only if you meant to.</p>
<div class="actions"><form class="inline" method="post" action="${action}"><button type="submit">Log out</button></form>
<a class="button secondary" href="/">Stay signed in</a></div></div>`,
  });
}

/**
 * The app's error pages, in its own layout (auth()'s `errorHandler`, and the last-resort handler
 * for the library's errors): the reason and a way to log in again; JSON for API-style callers.
 * Declining at the IdP (`access_denied` on the callback) reads as a cancelled sign-in.
 */
function errorPage(req: Request, res: Response, err: AuthError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (wantsJson(req)) {
    renderError(req, res, err);
    return;
  }
  const cancelled = err.code === 'access_denied' && err.status === 400;
  const title = cancelled
    ? 'Sign-in cancelled'
    : err.status >= 500
      ? 'Service unavailable'
      : err.status === 403
        ? 'Not allowed'
        : 'Sign-in failed';
  const message = cancelled ? 'You cancelled the sign-in, so you are not signed in.' : err.description;
  res.set(err.headers);
  sendPage(
    res,
    err.status,
    page({
      title: `${title} - ${BRAND}`,
      brand: BRAND,
      nav: nav(req),
      body: html`<div class="card"><h1>${title}</h1><p id="error-reason">${message}</p><p class="muted"><code>${err.code}</code></p>
<div class="actions"><a class="button" href="/login">Log in again</a><a class="button secondary" href="/">Home</a></div></div>`,
    }),
  );
}

/** The app's own `/api/me`, on the address and port this request came in on. */
function selfURL(req: Request, path: string): string {
  const address = req.socket.localAddress ?? '127.0.0.1';
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${req.socket.localPort ?? (req.socket.address() as AddressInfo).port}${path}`;
}

async function callApi(req: Request, token: string): Promise<{ status: number; body: unknown }> {
  let res: globalThis.Response;
  try {
    res = await fetch(selfURL(req, '/api/me'), {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
      redirect: 'manual',
    });
  } catch {
    return { status: 0, body: { error: 'unreachable', error_description: 'The API did not answer.' } };
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: text.slice(0, 200) };
  }
}

/** Least time between two logged Redis Cluster connection errors, in ms (one per reconnect otherwise). */
const CLUSTER_ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * A Redis Cluster client for `REDIS_CLUSTER_NODES`, configured as docs/redis.md recommends: no
 * offline queue, short timeouts, capped reconnect backoff. Credentials and TLS come from the first
 * URL. The app owns it: `close()` quits it after `auth()` is closed.
 */
function connectCluster(nodes: string[], logger: Logger | Console): Cluster {
  const urls = nodes.map((node) => new URL(node));
  const first = urls[0]!;
  const cluster = new Cluster(
    urls.map((url) => ({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 6379 : Number(url.port) })),
    {
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** times, 2000),
      redisOptions: {
        ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
        ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
        ...(first.protocol === 'rediss:' ? { tls: {} } : {}),
        connectTimeout: 2000,
        commandTimeout: 2000,
        maxRetriesPerRequest: 1,
      },
    },
  );
  let lastLoggedAt = -Infinity;
  cluster.on('error', (err: unknown) => {
    if (Date.now() - lastLoggedAt < CLUSTER_ERROR_LOG_INTERVAL_MS) return;
    lastLoggedAt = Date.now();
    // The name only: an ioredis message may quote a URL with a password.
    logger.warn('redis cluster connection error; reconnecting', { error: err instanceof Error ? err.name : typeof err });
  });
  return cluster;
}

/**
 * Builds the example app (without listening). Starts the embedded development IdP first when
 * `config.issuerBaseURL` is unset, and registers the app there as its client.
 *
 * @example
 * ```ts
 * const { app, close } = await createApp(loadConfig());
 * app.listen(3000);
 * ```
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<ExampleApp> {
  let idp: DevIdp | undefined;
  if (config.issuerBaseURL === undefined) {
    idp = await startDevIdp({
      host: config.host,
      port: config.idpPort,
      baseURL: config.baseURL,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      audience: config.audience,
      extraRedirectUris: config.devIdpRedirectUris,
      ...(options.idpAccessTokenTtlSeconds !== undefined ? { accessTokenTtlSeconds: options.idpAccessTokenTtlSeconds } : {}),
    });
  }
  const issuerBaseURL = config.issuerBaseURL ?? (idp as DevIdp).issuer;
  // The embedded IdP speaks plain http; off loopback that needs the library's explicit opt-in.
  const allowInsecureHttp = idp !== undefined && !isLoopback(new URL(issuerBaseURL).hostname);

  const cluster = config.redisClusterNodes !== undefined ? connectCluster(config.redisClusterNodes, options.logger ?? console) : undefined;
  try {
    const app = express();
    app.disable('x-powered-by');

    // The API first: no session, no cookie, keeps working when the session store is down.
    const bearer = requireBearer({
      issuerBaseURL,
      audience: config.audience,
      allowFormBody: true,
      allowInsecureHttp,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const api = express.Router();
    api.use(express.urlencoded({ extended: false, limit: '16kb' }), bearer);
    api.get('/me', (req, res) => {
      res.set('Cache-Control', 'no-store').json(req.auth?.payload);
    });
    api.post('/me', (req, res) => {
      res.set('Cache-Control', 'no-store').json(req.auth?.payload);
    });
    api.get('/admin', requiredScopes('admin'), (req, res) => {
      res.set('Cache-Control', 'no-store').json({ admin: true, sub: req.auth?.payload.sub ?? null });
    });
    api.use((_req, res) => {
      res.status(404).set('Cache-Control', 'no-store').json({ error: 'not_found', error_description: 'No such API route.' });
    });
    app.use('/api', api);

    const signIn = auth({
      issuerBaseURL,
      baseURL: config.baseURL,
      clientID: config.clientID,
      clientSecret: config.clientSecret,
      secret: config.sessionSecret,
      authRequired: false,
      authorizationParams: {
        scope: config.scope,
        // RFC 8707 resource indicator and the `audience` some issuers (Auth0) use instead: the
        // access token is then a JWT for this app's API (AUDIENCE_PARAMS picks them).
        ...Object.fromEntries(config.audienceParams.map((param) => [param, config.audience])),
      },
      ...(config.idTokenSigningAlgs !== undefined ? { idTokenSigningAlgs: config.idTokenSigningAlgs } : {}),
      session: {
        ...(cluster !== undefined
          ? { redis: cluster }
          : config.redisURL !== undefined
            ? { redis: config.redisURL }
            : { allowMemoryStore: true }),
        ...(options.sessionPrefix !== undefined ? { prefix: options.sessionPrefix } : {}),
      },
      allowInsecureHttp,
      ...(options.logger ? { logger: options.logger } : {}),
      errorHandler: (err, req, res) => errorPage(req, res, err as AuthError),
      renderLogoutConfirm: (req, res, form) => sendPage(res, 200, logoutConfirmPage(req, form.action)),
    });

    app.get('/healthz', async (_req, res) => {
      const ok = await signIn.health().catch(() => false);
      res
        .status(ok ? 200 : 503)
        .set('Cache-Control', 'no-store')
        .json({ status: ok ? 'ok' : 'unavailable' });
    });

    app.use(signIn);

    app.get('/', (req, res) => sendPage(res, 200, homePage(req)));

    // `accessToken: true`: refresh first when expired; when the issuer refuses the refresh
    // (invalid_grant) the session is signed out and the browser is sent to sign in again.
    app.get('/profile', requiresAuth({ accessToken: true }), async (req: Request, res: Response, next: NextFunction) => {
      let token: string;
      try {
        token = await req.oidc.getAccessToken();
      } catch (err) {
        // The token expired again in between and the refresh was refused: same answer.
        if (err instanceof LoginRequiredError) {
          res.set('Cache-Control', 'no-store').redirect(302, req.oidc.loginUrl('/profile'));
          return;
        }
        next(err);
        return;
      }
      try {
        sendPage(res, 200, profilePage(req, await callApi(req, token)));
      } catch (err) {
        next(err);
      }
    });

    app.use((req, res) => sendPage(res, 404, messagePage(req, 'Not found', 'There is no page at this address.')));

    // Last resort: the app's error pages for the library's errors, a plain 500 page otherwise.
    app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
      if (err instanceof AuthError) {
        errorPage(req, res, err);
        return;
      }
      (options.logger ?? console).error('unexpected error in the example app', {
        error: err instanceof Error ? err.name : typeof err,
      });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendPage(res, 500, messagePage(req, 'Something went wrong', 'The app could not complete this request.'));
    });

    return {
      app,
      issuer: issuerBaseURL,
      idp,
      health: () => signIn.health(),
      async close() {
        await signIn.close();
        await cluster?.quit().catch(() => cluster.disconnect());
        await idp?.close();
      },
    };
  } catch (err) {
    cluster?.disconnect();
    await idp?.close();
    throw err;
  }
}
