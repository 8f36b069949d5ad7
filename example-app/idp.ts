/**
 * An embedded development identity provider: panva's `oidc-provider` (a certified OpenID
 * Provider) on its own port, with one confidential client registered for the example app, one
 * demo user, and small login and consent pages of our own. For development and tests only: the
 * user store is a constant, state lives in memory and keys are made up at each start.
 *
 * What it speaks (so the app exercises the real protocol):
 * - authorization code flow with PKCE S256 required (RFC 7636), `iss` in the authorization
 *   response (RFC 9207), client_secret_basic at the token endpoint (RFC 6749 §2.3.1);
 * - refresh tokens for clients allowed the `refresh_token` grant (RFC 6749 §6);
 * - JWT access tokens (RFC 9068) for the API's audience through resource indicators (RFC 8707),
 *   the default resource being the API, kept on refresh;
 * - RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and back-channel logout
 *   (OpenID Connect Back-Channel Logout 1.0), revocation (RFC 7009), introspection (RFC 7662).
 */
import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, {
  errors as oidcErrors,
  type Adapter,
  type AdapterPayload,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import { Html, PAGE_HEADERS, html, page } from './html.js';

/** The demo user of the development IdP. Its password is printed at start; never use in production. */
export const DEMO_USER = {
  login: 'demo',
  password: 'demo',
  sub: 'demo-user-0001',
  name: 'Demo User',
  email: 'demo@example.com',
} as const;

/** What the API resource server accepts; the access token carries the granted subset. */
export const API_SCOPES = 'openid profile email admin api';

/** Options of {@link startDevIdp}. */
export interface DevIdpOptions {
  /** Address to bind (the app's `HOST`). */
  host: string;
  /** Port to bind; 0 picks a free one (the app's `IDP_PORT`). */
  port: number;
  /**
   * Host name in the issuer URL. Default: `host`, or the host name of `baseURL` when `host` is a
   * wildcard address (`0.0.0.0`, `::`).
   */
  publicHost?: string;
  /** The app's base URL: the client's redirect, post-logout and back-channel URIs derive from it. */
  baseURL: string;
  /** Client ID registered for the app. */
  clientID: string;
  /** Client secret registered for the app (client_secret_basic). */
  clientSecret: string;
  /** The API's audience and resource indicator (RFC 8707): access tokens are JWTs for it. */
  audience: string;
  /** Access token lifetime in seconds (default 600). */
  accessTokenTtlSeconds?: number;
  /** More redirect URIs for the client (`DEV_IDP_REDIRECT_URIS`); their origins may be post-logout targets. */
  extraRedirectUris?: string[];
}

/** A running development IdP. */
export interface DevIdp {
  /** The issuer identifier, e.g. `http://127.0.0.1:43123`. */
  issuer: string;
  /** The provider, for tests that need to inspect or revoke grants. */
  provider: Provider;
  /** Stops accepting connections and closes open ones. */
  close(): Promise<void>;
}

const BRAND = 'Development IdP';

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Sign you in (your user ID)',
  profile: 'Your name',
  email: 'Your email address',
  offline_access: 'Stay signed in to the app (refresh tokens)',
  api: 'Call the example API on your behalf',
  admin: 'Administer the example API',
};

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function send(res: Response, status: number, body: string): void {
  res.status(status).set(PAGE_HEADERS).set('Cache-Control', 'no-store').send(body);
}

function loginPage(uid: string, clientID: string, error?: string, login?: string): string {
  return page({
    title: `Sign in - ${BRAND}`,
    brand: BRAND,
    body: html`<div class="card narrow">
<h1>Sign in</h1>
<p class="muted">to continue to <strong>${clientID}</strong></p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<label for="login">Username</label>
<input id="login" name="login" type="text" value="${login ?? ''}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<div class="actions"><button type="submit">Sign in</button></div>
</form>
<form method="post" action="/interaction/${uid}/abort"><div class="actions"><button class="secondary" type="submit">Cancel</button></div></form>
<p class="muted">Development only: user <code>${DEMO_USER.login}</code>, password <code>${DEMO_USER.password}</code>.</p>
</div>`,
  });
}

function consentPage(uid: string, clientID: string, scopes: string[], resources: string[]): string {
  return page({
    title: `Allow access - ${BRAND}`,
    brand: BRAND,
    body: html`<div class="card narrow">
<h1>Allow access?</h1>
<p><strong>${clientID}</strong> asks to:</p>
<ul class="scopes">${scopes.map((s) => html`<li>${SCOPE_TEXT[s] ?? s} <span class="muted">(${s})</span></li>`)}</ul>
${resources.length > 0 ? html`<p class="muted">Access tokens for: ${resources.map((r, i) => html`${i > 0 ? ', ' : ''}<code>${r}</code>`)}</p>` : ''}
<div class="actions">
<form class="inline" method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>
<form class="inline" method="post" action="/interaction/${uid}/abort"><button class="secondary" type="submit">Deny</button></form>
</div>
</div>`,
  });
}

function messagePage(title: string, message: string): string {
  return page({
    title: `${title} - ${BRAND}`,
    brand: BRAND,
    body: html`<div class="card narrow"><h1>${title}</h1><p>${message}</p></div>`,
  });
}

/**
 * In-memory storage for the provider's artifacts (codes, tokens, sessions, grants), one per IdP
 * instance, with expiry. Lost at restart, which is what a development IdP wants.
 */
function memoryAdapter(): new (name: string) => Adapter {
  const records = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const live = (key: string): AdapterPayload | undefined => {
    const record = records.get(key);
    if (record === undefined) return undefined;
    if (record.expiresAt <= Date.now()) {
      records.delete(key);
      return undefined;
    }
    return record.payload;
  };
  return class MemoryAdapter implements Adapter {
    constructor(private readonly name: string) {}
    private key(id: string): string {
      return `${this.name}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn > 0 ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      records.set(this.key(id), { payload: structuredClone(payload), expiresAt });
    }
    async find(id: string): Promise<AdapterPayload | undefined> {
      return live(this.key(id));
    }
    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      for (const [key] of records) {
        const payload = key.startsWith(`${this.name}:`) ? live(key) : undefined;
        if (payload?.uid === uid) return payload;
      }
      return undefined;
    }
    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      for (const [key] of records) {
        const payload = key.startsWith(`${this.name}:`) ? live(key) : undefined;
        if (payload?.userCode === userCode) return payload;
      }
      return undefined;
    }
    async consume(id: string): Promise<void> {
      const payload = live(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string): Promise<void> {
      records.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, record] of records) {
        if (record.payload.grantId === grantId) records.delete(key);
      }
    }
  };
}

function koaHtml(ctx: KoaContextWithOIDC, body: string): void {
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', PAGE_HEADERS['Content-Security-Policy'] ?? "default-src 'none'");
  ctx.body = body;
}

/**
 * Starts the development IdP on `host:port` and registers the app as a confidential client.
 *
 * @example
 * ```ts
 * const idp = await startDevIdp({ host: '127.0.0.1', port: 0, baseURL: 'http://localhost:3000',
 *   clientID: 'example-app', clientSecret: 's3cret', audience: 'http://localhost:3000/api' });
 * console.log(idp.issuer);
 * await idp.close();
 * ```
 */
export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const wildcard = options.host === '0.0.0.0' || options.host === '::';
  const publicHost = options.publicHost ?? (wildcard ? new URL(options.baseURL).hostname.replace(/^\[|\]$/g, '') : options.host);
  const issuer = `http://${formatHost(publicHost)}:${port}`;

  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
  const accounts = new Map<string, typeof DEMO_USER>([[DEMO_USER.sub, DEMO_USER]]);
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 600;

  const configuration: Configuration = {
    adapter: memoryAdapter(),
    clients: [
      {
        client_id: options.clientID,
        client_secret: options.clientSecret,
        client_name: 'Example app',
        redirect_uris: [`${options.baseURL}/callback`, ...(options.extraRedirectUris ?? [])],
        post_logout_redirect_uris: [...new Set([options.baseURL, ...(options.extraRedirectUris ?? []).map((uri) => new URL(uri).origin)])],
        backchannel_logout_uri: `${options.baseURL}/backchannel-logout`,
        backchannel_logout_session_required: true,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signingKey as unknown as NonNullable<Configuration['jwks']>['keys'][number]] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'api', 'admin'],
    pkce: { required: () => true },
    async findAccount(_ctx, sub) {
      const user = accounts.get(sub);
      if (user === undefined) return undefined;
      return {
        accountId: user.sub,
        async claims() {
          return { sub: user.sub, name: user.name, email: user.email, email_verified: true };
        },
      };
    },
    // oidc-provider drops `offline_access` unless the request has `prompt=consent` (OIDC Core
    // §11); issue refresh tokens whenever the client may use the grant instead.
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    rotateRefreshToken: true,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      // A client may revoke and introspect only its own tokens (its only caller is the app).
      revocation: {
        enabled: true,
        async allowedPolicy(_ctx, client, token) {
          if (token.clientId !== client.clientId)
            throw new oidcErrors.InvalidRequest('client is not authorized to revoke the presented token');
          return true;
        },
      },
      introspection: {
        enabled: true,
        async allowedPolicy(_ctx, client, token) {
          return token.clientId === client.clientId;
        },
      },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          koaHtml(
            ctx,
            page({
              title: `Sign out - ${BRAND}`,
              brand: BRAND,
              body: html`<div class="card narrow">
<h1>Sign out of the IdP?</h1>
<p>You signed out of the app. Do you also want to end your session at the identity provider?</p>
${new Html(form)}
<div class="actions">
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>
</div>
</div>`,
            }),
          );
        },
        async postLogoutSuccessSource(ctx) {
          koaHtml(ctx, messagePage('Signed out', 'You are signed out.'));
        },
      },
      resourceIndicators: {
        enabled: true,
        async defaultResource() {
          return options.audience;
        },
        async useGrantedResource() {
          return true;
        },
        async getResourceServerInfo(_ctx, resourceIndicator) {
          if (resourceIndicator !== options.audience) {
            throw new oidcErrors.InvalidTarget();
          }
          return {
            scope: API_SCOPES,
            audience: options.audience,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 60 * 60,
      Interaction: 60 * 60,
      Session: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
    },
    async renderError(ctx, out) {
      // `out` holds the OAuth error code and description (no stack); show them as text.
      koaHtml(ctx, messagePage('Sign-in error', `${String(out.error)}: ${String(out.error_description ?? '')}`));
    },
  };

  const provider = new Provider(issuer, configuration);
  const app = express();
  app.disable('x-powered-by');
  const form = express.urlencoded({ extended: false, limit: '8kb' });

  app.get('/interaction/:uid', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const clientID = String(details.params.client_id ?? '');
      if (details.prompt.name === 'login') {
        send(res, 200, loginPage(details.uid, clientID));
        return;
      }
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const scopes = new Set<string>(missing.missingOIDCScope ?? []);
      for (const list of Object.values(missing.missingResourceScopes ?? {})) list.forEach((s) => scopes.add(s));
      send(res, 200, consentPage(details.uid, clientID, [...scopes], Object.keys(missing.missingResourceScopes ?? {})));
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/login', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name !== 'login') {
        send(res, 400, messagePage('Unexpected step', 'This sign-in is not waiting for a login.'));
        return;
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const login = typeof body.login === 'string' ? body.login : '';
      const password = typeof body.password === 'string' ? body.password : '';
      // Both comparisons always run, in constant time.
      const loginOk = sameSecret(login, DEMO_USER.login);
      const passwordOk = sameSecret(password, DEMO_USER.password);
      if (!(loginOk && passwordOk)) {
        send(res, 401, loginPage(details.uid, String(details.params.client_id ?? ''), 'Wrong username or password.', login));
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: DEMO_USER.sub } }, { mergeWithLastSubmission: false });
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/confirm', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const { prompt, params, session } = details;
      if (prompt.name !== 'consent' || session === undefined) {
        send(res, 400, messagePage('Unexpected step', 'This sign-in is not waiting for consent.'));
        return;
      }
      const grant = details.grantId
        ? ((await provider.Grant.find(details.grantId)) ??
          new provider.Grant({ accountId: session.accountId, clientId: String(params.client_id) }))
        : new provider.Grant({ accountId: session.accountId, clientId: String(params.client_id) });
      const missing = prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    } catch (err) {
      next(err);
    }
  });

  app.post('/interaction/:uid/abort', form, async (req: Request, res: Response, next: NextFunction) => {
    try {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      next(err);
    }
  });

  // Interaction errors (expired or unknown interaction, missing cookie): a short page, no stack.
  app.use('/interaction', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    void err;
    send(res, 400, messagePage('Sign-in expired', 'This sign-in request is no longer valid. Go back to the app and start again.'));
  });

  app.use(provider.callback());
  server.on('request', app);

  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  return {
    issuer,
    provider,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
