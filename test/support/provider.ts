/**
 * The one oidc-provider wrapper of the tests: oidc-provider 9 on 127.0.0.1 (free port), with a
 * confidential client, refresh tokens, RP-initiated logout, back-channel logout and RFC 9207
 * `iss`. `signInAtProvider()` completes the dev interactions over HTTP like a browser would.
 * `startIntrospectionProvider()` configures it for the introspection tests (several clients,
 * client credentials, resource indicators, RFC 7662 introspection).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { Browser, Hop } from './browser.js';

export interface TestProviderOptions {
  clientId?: string;
  clientSecret?: string;
  /** Redirect URIs of the default client (required unless `defaultClient` is false). */
  redirectUris?: string[];
  /** Register the default sign-in client. Default true. */
  defaultClient?: boolean;
  /** More static clients, registered as given. */
  clients?: Record<string, unknown>[];
  /** The provider's scopes (oidc-provider's `scopes`). */
  scopes?: string[];
  /** The `kid` of the provider's signing key. Default `test-key-1`. */
  signingKid?: string;
  postLogoutRedirectUris?: string[];
  tokenEndpointAuthMethod?:
    'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'tls_client_auth' | 'none';
  /** Public JWKS of the client, for private_key_jwt (and signed request objects). */
  clientJwks?: { keys: Record<string, unknown>[] };
  /** More client metadata (e.g. `require_pushed_authorization_requests`, `request_object_signing_alg`). */
  clientMetadata?: Record<string, unknown>;
  /** Merged into oidc-provider's `features` (e.g. `pushedAuthorizationRequests`, `requestObjects`, `dPoP`). */
  features?: Record<string, unknown>;
  /** Merged into oidc-provider's configuration at the top level (e.g. `discovery`). */
  providerConfig?: Record<string, unknown>;
  /** More claims of every account, in the ID token (e.g. `session_expiry`); computed at each sign-in. */
  extraClaims?: () => Record<string, unknown>;
  /** Access token lifetime, in seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Where oidc-provider posts logout tokens (with `sid` required in ID tokens). */
  backchannelLogoutUri?: string;
  /** Rotate refresh tokens on use (oidc-provider then detects reuse). Default true. */
  rotateRefreshToken?: boolean;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Grants the token endpoint completed, by grant type. */
  grants: { authorization_code: number; refresh_token: number };
  /** Token endpoint errors seen (error codes). */
  grantErrors: string[];
  /** Revoked token count. */
  revocations: number;
  /** Every request the provider received: method, path and headers (no bodies), oldest first. */
  requests: Array<{ method: string; path: string; headers: Record<string, string | string[] | undefined> }>;
  /** The path of an endpoint, from the provider's discovery document (e.g. `'token_endpoint'`). */
  endpointPath(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function startProvider(options: TestProviderOptions): Promise<TestProvider> {
  const { default: Provider } = await import('oidc-provider');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: options.signingKid ?? 'test-key-1', alg: 'RS256', use: 'sig' };
  // The adapter's memory store is shared by the providers of one test file: a client registered
  // through it gets a unique id.
  const clientId = options.clientId ?? (options.clientJwks ? `test-client-${randomBytes(4).toString('hex')}` : 'test-client');
  const clientSecret = options.clientSecret ?? 'test-secret: with spaces & symbols%/+=';
  const method = options.tokenEndpointAuthMethod ?? 'client_secret_basic';

  const clientMetadata = {
    client_id: clientId,
    ...(method === 'private_key_jwt' || method === 'tls_client_auth' || method === 'none' ? {} : { client_secret: clientSecret }),
    ...(options.clientJwks ? { jwks: options.clientJwks } : {}),
    token_endpoint_auth_method: method,
    ...(method === 'private_key_jwt' ? { token_endpoint_auth_signing_alg: 'RS256' } : {}),
    ...(method === 'client_secret_jwt' ? { token_endpoint_auth_signing_alg: 'HS256' } : {}),
    redirect_uris: options.redirectUris ?? [],
    post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
    grant_types: ['authorization_code', 'refresh_token'],
    ...(options.backchannelLogoutUri
      ? { backchannel_logout_uri: options.backchannelLogoutUri, backchannel_logout_session_required: true }
      : {}),
    response_types: ['code'],
    ...options.clientMetadata,
  };
  // oidc-provider structuredClone()s static clients, which under jest's VM makes their JWKS fail
  // its plain-object check: a client with a JWKS is registered through the adapter instead.
  const withDefault = options.defaultClient ?? true;
  const viaAdapter = withDefault && options.clientJwks !== undefined;
  const staticClients = [...(withDefault && !viaAdapter ? [clientMetadata] : []), ...(options.clients ?? [])];
  const provider = new Provider(issuer, {
    clients: staticClients as never,
    ...(options.scopes ? { scopes: options.scopes } : {}),
    jwks: { keys: [signingJwk as never] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    findAccount: async (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: async () => ({ sub: id, name: `User ${id}`, email: `${id}@example.test`, ...options.extraClaims?.() }),
    }),
    claims: { openid: ['sub', ...Object.keys(options.extraClaims?.() ?? {})], profile: ['name'], email: ['email'] },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      ...options.features,
    },
    responseTypes: ['code'],
    // Put the scope's claims (name, email) in the ID token too, as many issuers do.
    conformIdTokenClaims: false,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 86_400,
      Grant: 86_400,
      Interaction: 600,
      Session: 86_400,
      ClientCredentials: 600,
    } as never,
    issueRefreshToken: async () => true,
    rotateRefreshToken: options.rotateRefreshToken ?? true,
    ...options.providerConfig,
  } as never);
  // oidc-provider is chatty about its dev-only features; tests know.
  (provider as unknown as { on(event: string, fn: (...args: unknown[]) => void): void }).on('server_error', () => undefined);

  const grants = { authorization_code: 0, refresh_token: 0 };
  const grantErrors: string[] = [];
  let revocations = 0;
  const events = provider as unknown as { on(event: string, fn: (...args: never[]) => void): void };
  events.on('grant.success', ((ctx: { oidc: { params?: { grant_type?: string } } }) => {
    const type = ctx.oidc.params?.grant_type;
    if (type === 'authorization_code' || type === 'refresh_token') grants[type] += 1;
  }) as never);
  events.on('grant.error', ((_ctx: unknown, err: { error?: string }) => {
    grantErrors.push(err.error ?? 'unknown');
  }) as never);
  events.on('grant.revoked', (() => {
    revocations += 1;
  }) as never);

  if (viaAdapter) {
    await (provider as unknown as { Client: { adapter: { upsert(id: string, payload: unknown): Promise<void> } } }).Client.adapter.upsert(
      clientId,
      clientMetadata,
    );
  }
  const requests: TestProvider['requests'] = [];
  const handle = provider.callback();
  server.on('request', (req, res) => {
    requests.push({ method: req.method ?? 'GET', path: new URL(req.url ?? '/', issuer).pathname, headers: { ...req.headers } });
    void handle(req, res);
  });
  return {
    issuer,
    clientId,
    clientSecret,
    grants,
    grantErrors,
    requests,
    async endpointPath(name: string) {
      const doc = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
      return new URL(doc[name]!).pathname;
    },
    get revocations() {
      return revocations;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The action and fields of an HTML form (oidc-provider's form_post page, our re-post page). */
export function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const decode = (v: string) =>
    v
      .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
      .replace(/&#x([0-9a-f]+);/gi, (_m, n: string) => String.fromCharCode(parseInt(n, 16)))
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('no form on the page');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[match[1]!] = decode(match[2]!);
  return { action: decode(action), fields };
}

/**
 * Follows an authorization request through oidc-provider's dev interactions (login as
 * `account`, then consent) and returns the hop that redirects back to the app (its `location` is
 * the callback URL). Stops at the first redirect to `appOrigin`.
 */
export async function signInAtProvider(browser: Browser, authorizeUrl: string, appOrigin: string, account = 'alice'): Promise<Hop> {
  let hop = await browser.get(authorizeUrl);
  for (let i = 0; i < 12; i++) {
    const next = hop.location;
    if (!next && hop.status === 200 && /<form method="post" action="/.test(hop.text)) return hop; // form_post
    if (!next)
      throw new Error(
        `provider stopped at HTTP ${hop.status}: ${hop.text
          .replace(/<style[\s\S]*<\/style>/, '')
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .slice(0, 300)}`,
      );
    if (next.startsWith(appOrigin)) return hop;
    if (new URL(next).pathname.startsWith('/interaction/')) {
      const page = await browser.get(next);
      const prompt = /name="prompt" value="(\w+)"/.exec(page.text)?.[1];
      if (prompt === 'login') hop = await browser.post(next, { prompt: 'login', login: account, password: 'any' });
      else if (prompt === 'consent') hop = await browser.post(next, { prompt: 'consent' });
      else throw new Error(`unexpected interaction page: ${page.text.slice(0, 200)}`);
    } else {
      hop = await browser.get(next);
    }
  }
  throw new Error('too many redirects at the provider');
}

export const OPAQUE_API = 'https://api.example.test';
export const JWT_API = 'https://jwt-api.example.test';

export const CLIENTS = {
  machine: { id: 'machine', secret: 'machine-secret-0123456789abcdef0123456789' },
  resourceServer: { id: 'resource-server', secret: 'rs-secret-0123456789abcdef0123456789abcd' },
  resourceServerPost: { id: 'resource-server-post', secret: 'rsp-secret-0123456789abcdef0123456789ab' },
};

export interface IntrospectionProvider extends TestProvider {
  /** Requests to the introspection endpoint so far. */
  introspections(): number;
  /** An access token from the client credentials grant for `resource` (opaque or JWT). */
  clientCredentialsToken(resource: string, scope: string): Promise<string>;
}

/**
 * The provider of the introspection tests: client credentials, resource indicators (opaque
 * tokens for OPAQUE_API, JWTs for JWT_API) and RFC 7662 introspection, with the CLIENTS.
 */
export async function startIntrospectionProvider(): Promise<IntrospectionProvider> {
  const { errors } = await import('oidc-provider');
  const base = await startProvider({
    defaultClient: false,
    signingKid: 'provider-rs256',
    clients: [
      {
        client_id: CLIENTS.machine.id,
        client_secret: CLIENTS.machine.secret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'read admin',
      },
      {
        client_id: CLIENTS.resourceServer.id,
        client_secret: CLIENTS.resourceServer.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: CLIENTS.resourceServerPost.id,
        client_secret: CLIENTS.resourceServerPost.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    scopes: ['read', 'admin'],
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: async () => true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OPAQUE_API,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === OPAQUE_API)
            return { scope: 'read admin', audience: OPAQUE_API, accessTokenFormat: 'opaque', accessTokenTTL: 600 };
          if (resource === JWT_API) return { scope: 'read admin', audience: JWT_API, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
          throw new errors.InvalidTarget();
        },
      },
    },
  });
  const provider = base as IntrospectionProvider;
  provider.introspections = () => base.requests.filter((r) => r.path.startsWith('/token/introspection')).length;
  provider.clientCredentialsToken = async (resource, scope) => {
    const res = await fetch(`${base.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENTS.machine.id}:${CLIENTS.machine.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }).toString(),
    });
    const body = (await res.json()) as { access_token?: string };
    if (res.status !== 200 || typeof body.access_token !== 'string')
      throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  };
  return provider;
}
