/**
 * A real authorization server for tests: oidc-provider 9 on 127.0.0.1 (free port), with a
 * confidential client, refresh tokens, RP-initiated logout, back-channel logout and RFC 9207
 * `iss`. `signIn()` completes the dev interactions over HTTP like a browser would.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import type { Browser, Hop } from '../support/browser.js';

export interface TestProviderOptions {
  clientId?: string;
  clientSecret?: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt' | 'tls_client_auth' | 'none';
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
  const signingJwk = { ...(await exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
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
    redirect_uris: options.redirectUris,
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
  const viaAdapter = options.clientJwks !== undefined;
  const provider = new Provider(issuer, {
    clients: viaAdapter ? [] : [clientMetadata as never],
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
    await (provider as unknown as { Client: { adapter: { upsert(id: string, payload: unknown): Promise<void> } } }).Client.adapter.upsert(clientId, clientMetadata);
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

/**
 * Follows an authorization request through oidc-provider's dev interactions (login as
 * `account`, then consent) and returns the hop that redirects back to the app (its `location` is
 * the callback URL). Stops at the first redirect to `appOrigin`.
 */
/** The action and fields of an HTML form (oidc-provider's form_post page, our re-post page). */
export function parseForm(html: string): { action: string; fields: Record<string, string> } {
  const decode = (v: string) => v.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&#x([0-9a-f]+);/gi, (_m, n: string) => String.fromCharCode(parseInt(n, 16))).replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  const action = /<form[^>]*action="([^"]*)"/.exec(html)?.[1];
  if (action === undefined) throw new Error('no form on the page');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) fields[match[1]!] = decode(match[2]!);
  return { action: decode(action), fields };
}

export async function signInAtProvider(browser: Browser, authorizeUrl: string, appOrigin: string, account = 'alice'): Promise<Hop> {
  let hop = await browser.get(authorizeUrl);
  for (let i = 0; i < 12; i++) {
    const next = hop.location;
    if (!next && hop.status === 200 && /<form method="post" action="/.test(hop.text)) return hop; // form_post
    if (!next) throw new Error(`provider stopped at HTTP ${hop.status}: ${hop.text.replace(/<style[\s\S]*<\/style>/, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').slice(0, 300)}`);
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
