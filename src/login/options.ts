import type { KeyObject } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Store } from 'express-session';
import type { Cluster, Redis } from 'ioredis';
import type { JWK } from 'jose';
import type { FetchFunction, Transport } from '../issuer/http.js';
import type { Logger } from '../util/logger.js';
import type { LogoutTokenClaims } from './backchannel-logout.js';
import type { LogoutConfirmForm } from './logout-confirm.js';
import type { TlsIdentity } from './mtls.js';
import type { TokenSet } from './session-data.js';

/** Parameters of the authorization request (OIDC Core §3.1.2.1, RFC 8707, ...). */
export interface AuthorizationParams {
  /** Space-separated scopes; must contain `openid`. Default `'openid profile email'`. */
  scope?: string;
  /** `query` (default) or `form_post` (OAuth 2.0 Form Post Response Mode). */
  response_mode?: 'query' | 'form_post';
  /** RFC 8707 resource indicator(s). */
  resource?: string | string[];
  /** Audience of the access token (Auth0 and others). */
  audience?: string;
  /** OIDC Core §3.1.2.1 `prompt`. */
  prompt?: string;
  /** OIDC Core §3.1.2.1 `max_age`, in seconds: `auth_time` is then required and checked. */
  max_age?: number;
  /** Any other parameter, sent as given. */
  [param: string]: string | string[] | number | undefined;
}

/** Paths of the routes `auth()` serves. */
export interface RouteOptions {
  /**
   * Default `'/login'`. `false` mounts no login route (express-openid-connect's): the app's own
   * route calls `res.oidc.login()`, and `requiresAuth()` starts the sign-in itself on the
   * protected URL (its `returnTo`) instead of redirecting to a login route.
   */
  login?: string | false;
  /** Default `'/callback'`; the redirect URI is `baseURL + callback`. */
  callback?: string;
  /** Default `'/logout'` (GET and POST). */
  logout?: string;
  /** Where the issuer sends the browser after logout: a path or absolute URL. Default `baseURL`. */
  postLogoutRedirect?: string;
  /** OIDC Back-Channel Logout receiver (POST), or `false` for none. Default `'/backchannel-logout'`. */
  backchannelLogout?: string | false;
}

/** Choices of the back-channel logout receiver (served at `routes.backchannelLogout`). */
export interface BackchannelLogoutOptions {
  /**
   * Accept a logout token without `exp`, as issuers implementing draft 06 of Back-Channel Logout
   * send them (Glewlwyd 2.7). Back-Channel Logout 1.0 §2.4 requires `exp`, so this is an unsafe
   * choice, said once at start-up. Such a token is accepted only while its `iat` is within five
   * minutes (plus `clockTolerance`), and its `jti` is remembered for that window against replay.
   * A token that has an `exp` is checked as usual. Default `false`.
   */
  allowMissingExp?: boolean;
}

/** Where sessions live. */
export interface SessionOptions {
  /** A Redis URL, or an ioredis client or cluster (yours to close). */
  redis?: string | Redis | Cluster;
  /** Any express-session store instead of Redis (no cross-process refresh lock or back-channel logout then). */
  store?: Store;
  /** Development only: express-session's memory store, with a start-up warning. */
  allowMemoryStore?: boolean;
  /**
   * Cookie name. Default `'oidc.sid'`, `'__Host-oidc.sid'` when `baseURL` is https
   * (`'__Secure-oidc.sid'` with `cookie.domain`).
   */
  cookieName?: string;
  /** Another name for `cookieName` (express-openid-connect's); give one of them. */
  name?: string;
  /** The session cookie's attributes that may be chosen (express-openid-connect's names). */
  cookie?: SessionCookieOptions;
  /** Renew the idle lifetime on each response. Default true. */
  rolling?: boolean;
  /** Idle lifetime in seconds. Default 86400 (one day). */
  rollingDuration?: number;
  /**
   * Least time between two renewals of a rolling session's idle lifetime (a new cookie expiry and
   * a Redis `EXPIRE`), in seconds; 0 renews on every response as express-session does. A session
   * written for another reason is renewed at once. Default 60 (a tenth of `rollingDuration` when
   * that is shorter).
   */
  touchAfter?: number;
  /** Longest life of a sign-in in seconds. Default 604800 (7 days). */
  absoluteDuration?: number;
  /** Prefix of every Redis key. Default `'oidc:'`. */
  prefix?: string;
  /**
   * Serve records of recently seen sessions from process memory, kept correct by Redis
   * (server-assisted client-side caching, `CLIENT TRACKING`, Redis 6+): a page view of a cached
   * session sends no command to Redis. Another process's change to a session (a logout, a
   * refresh) reaches this one with Redis's invalidation message; when that connection is lost or
   * silent for a heartbeat (500 ms) the cache turns off until it is back. `false` reads Redis on
   * every request. Only with `session.redis` (single node, Sentinel, or a Cluster: one connection
   * per master).
   * Default `true` (5000 records, each served for at most 30 s).
   */
  localCache?: boolean | { maxEntries?: number; maxAgeSeconds?: number };
}

/** `session.cookie`: the attributes of the session cookie an app may choose. */
export interface SessionCookieOptions {
  /**
   * Share the cookie with subdomains (RFC 6265 §5.2.3), e.g. `'example.com'`. The default name is
   * then `__Secure-oidc.sid` on https, since `__Host-` forbids a domain. Default: host-only.
   */
  domain?: string;
  /** No expiry: the cookie ends with the browser session (the server-side record still expires). Default false. */
  transient?: boolean;
  /**
   * `'Lax'` (default), `'Strict'` or `'None'` (https only). With `'Strict'` the issuer's redirect
   * back arrives without the cookie; the callback then re-sends itself once from this origin.
   */
  sameSite?: 'Lax' | 'Strict' | 'None' | 'lax' | 'strict' | 'none';
}

/** Client authentication methods at the token, PAR and revocation endpoints (OIDC Core §9). */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth'
  /** A public client (RFC 6749 §2.1): only `client_id` is sent; PKCE binds the code to the browser. */
  | 'none';

/** Per-sign-in options: `res.oidc.login(options)`, and what `getLoginState` receives. */
export interface LoginOptions {
  /** Where to go after sign-in: a same-origin path (others fall back to `baseURL`). */
  returnTo?: string;
  /** Authorization parameters for this sign-in, over the global `authorizationParams`. */
  authorizationParams?: AuthorizationParams;
}

/** What `afterCallback` receives and returns. */
export interface AfterCallbackSession {
  /** The validated ID token's claims (protocol members removed); what `req.oidc.user` will be. */
  claims: Record<string, unknown>;
  /** The token set (read-only: changes to it are ignored). */
  readonly tokenSet: Readonly<TokenSet>;
}

/** `afterCallback`: reshape (return a session) or refuse (throw) a sign-in. */
export type AfterCallback = (
  req: Request,
  res: Response,
  session: AfterCallbackSession,
  state: Record<string, unknown>,
) => AfterCallbackSession | Promise<AfterCallbackSession>;

/** Options of `auth()`. Unset members fall back to environment variables, then to defaults. */
export interface AuthOptions {
  /** The issuer identifier; env `ISSUER_BASE_URL`. */
  issuerBaseURL?: string;
  /** The app's public origin (and path); env `BASE_URL`. */
  baseURL?: string;
  /** env `CLIENT_ID`. */
  clientID?: string;
  /** env `CLIENT_SECRET`; required for `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  /** Signs the session cookie and derives the sealing keys; the first seals, all open. env `SECRET`. */
  secret?: string | string[];
  /** Every route behind `auth()` requires a signed-in user. Default true. */
  authRequired?: boolean;
  authorizationParams?: AuthorizationParams;
  routes?: RouteOptions;
  /** Log out at the issuer too (RP-Initiated Logout 1.0). Default: when it has an `end_session_endpoint`. */
  idpLogout?: boolean;
  /** RFC 7009 revocation of the refresh token at logout. Default: when it has a `revocation_endpoint`. */
  revokeOnLogout?: boolean;
  /** Token endpoint client authentication (OIDC Core §9). Default `'client_secret_basic'`. */
  clientAuthMethod?: ClientAuthMethod;
  /**
   * Private key(s) for `private_key_jwt` (RFC 7523): a private JWK or KeyObject, or a list of
   * them to rotate keys: the first signs (its JWK `kid` goes in the header), the others are
   * ignored until they move to the front.
   */
  clientAssertionSigningKey?: JWK | KeyObject | ReadonlyArray<JWK | KeyObject>;
  /**
   * Algorithm of the client assertion. Default for `private_key_jwt`: the first JWK's `alg`, else
   * `'RS256'`; for `client_secret_jwt`: `'HS256'` (HS256, HS384 or HS512).
   */
  clientAssertionSigningAlg?: string;
  /**
   * Called once the code was exchanged and the ID token validated, before the session is
   * written: return the session to keep (e.g. with claims added), or throw to refuse the
   * sign-in (no session; an `AuthError` thrown is answered as it is, anything else as 403
   * `access_denied`). `state` is what `getLoginState` returned at login.
   */
  afterCallback?: AfterCallback;
  /**
   * Application state carried through the sign-in (sealed in the login transaction, never sent
   * to the issuer) and handed to `afterCallback`. Must return a JSON object of at most 4 KB. A
   * safe same-origin `returnTo` member in it replaces the sign-in's `returnTo`.
   * Default: none (`{}`).
   */
  getLoginState?: (req: Request, options: LoginOptions) => Record<string, unknown>;
  /** Extra parameters for every token request (code exchange and refresh), e.g. `{ audience }`. */
  tokenEndpointParams?: Record<string, string>;
  /**
   * Pushed Authorization Requests (RFC 9126): send the authorization parameters to the issuer's
   * PAR endpoint first and redirect with only `client_id` and `request_uri`. Default false; PAR
   * is used anyway when the issuer's metadata says `require_pushed_authorization_requests`.
   */
  pushedAuthorizationRequests?: boolean;
  /**
   * Signed authorization requests (JAR, RFC 9101): the parameters travel in a request object
   * signed with this private key (sent by value, or pushed when PAR is on). Default: off.
   */
  requestObject?: {
    /** A private JWK (its `kid` goes in the header) or a private KeyObject. */
    signingKey: JWK | KeyObject;
    /** JWS algorithm. Default: the JWK's `alg`, else `'RS256'`. */
    alg?: string;
  };
  /**
   * DPoP (RFC 9449): each session gets its own ES256 key pair (private key sealed with its
   * tokens); code exchange and refresh send DPoP proofs, the authorization request carries
   * `dpop_jkt`, and `req.oidc.dpopProof(method, url)` makes proofs for API calls. Default false.
   */
  dpop?: boolean;
  /**
   * Mutual TLS (RFC 8705): the client certificate presented on every back-channel request (token,
   * PAR, revocation, UserInfo), to the issuer's `mtls_endpoint_aliases` when it has them (§5). Needed
   * for `tls_client_auth` / `self_signed_tls_client_auth` (§2); with any method it lets the issuer
   * bind access tokens to the certificate (§3). Default: off.
   */
  mtls?: TlsIdentity;
  /**
   * Accepted ID token algorithms. Default: the issuer's `id_token_signing_alg_values_supported`
   * (or `RS256`) without `none` and the `HS*` family. `HS*` (keyed with the client secret) only when listed here.
   */
  idTokenSigningAlgs?: string[];
  /**
   * Call the UserInfo endpoint (OIDC Core §5.3) once at sign-in and add the claims the ID token
   * lacks to the user's (`req.oidc.user`); the ID token's own claims win. For issuers that put no
   * `name` or `email` in the ID token. `sub` must match. Default false.
   */
  mergeUserInfo?: boolean;
  /** Leeway for token times, in seconds. Default 60. */
  clockTolerance?: number;
  /** Timeout of one request to the issuer, in ms. Default 5000. */
  httpTimeout?: number;
  /**
   * The `fetch` that every request to the issuer goes through (discovery, JWKS, token, UserInfo,
   * PAR, revocation): a function with the WHATWG `fetch` signature, for example undici's `fetch`
   * with a `ProxyAgent` for a corporate proxy, or an instrumented one. `httpTimeout`, the size caps
   * and the refusal of redirects still apply around it. Requests that present the `mtls`
   * certificate go through `node:https` instead (a `fetch` cannot present one).
   *
   * Default: Node's `fetch`, through the proxy of `HTTPS_PROXY` / `HTTP_PROXY` (with `NO_PROXY`,
   * lower-case names first) when one is set.
   *
   * @example
   * ```ts
   * import { fetch, ProxyAgent } from 'undici';
   * const dispatcher = new ProxyAgent('http://proxy.corp:3128');
   * auth({ fetch: (url, init) => fetch(url, { ...init, dispatcher }) });
   * ```
   */
  fetch?: FetchFunction;
  /**
   * Refresh an access token this many seconds before it expires. Default 30. Capped per token at
   * half its lifetime (`expires_in`) less half a second, so a short-lived token is not refreshed on
   * every call.
   */
  refreshMargin?: number;
  session?: SessionOptions;
  /** The app mounted express-session itself: use `req.session`, mount none. */
  useExistingSession?: boolean;
  /** Accept plain-http issuer and base URLs off localhost. Unsafe; prints a warning. */
  allowInsecureHttp?: boolean;
  logger?: Logger;
  /** Handles errors of the routes of `auth()` and of `requiresAuth()`. Default: `renderError`. */
  errorHandler?: (err: unknown, req: Request, res: Response, next: NextFunction) => void;
  /**
   * Renders, in the app's own layout, the page that asks the user to confirm a logout another
   * site started (`Sec-Fetch-Site: cross-site`, or a foreign `Origin`): it must hold a form with
   * `method="post"` and `action` = `form.action`, and answer the request. The page is sent with
   * `Cache-Control: no-store` and `X-Frame-Options: DENY` already set. Default: a short built-in page.
   */
  renderLogoutConfirm?: (req: Request, res: Response, form: LogoutConfirmForm) => void | Promise<void>;
  /**
   * More parameters of the end-session request (RP-Initiated Logout 1.0 §2), e.g. `ui_locales`
   * or a vendor's own. `id_token_hint`, `post_logout_redirect_uri` and `client_id` are set by the
   * logout itself and refused here. Default none.
   */
  logoutParams?: Record<string, string>;
  /**
   * Called for each valid, unused logout token at `routes.backchannelLogout` (Back-Channel Logout
   * 1.0 §2.6), after the sessions the package knows were ended: for apps that keep sessions or
   * caches elsewhere. A throw answers the issuer 400. Default none.
   */
  onLogoutToken?: (claims: LogoutTokenClaims, req: Request) => void | Promise<void>;
  /**
   * Choices of the back-channel logout receiver: `{ allowMissingExp: true }` accepts the logout
   * tokens of draft-06 issuers, which carry no `exp`. `true` (express-openid-connect's) is the
   * default; the receiver is turned off with `routes.backchannelLogout: false`.
   */
  backchannelLogout?: BackchannelLogoutOptions | true;
  discovery?: {
    /** First retry delay after a failed discovery, in ms. Default 500. */
    retryMinDelayMs?: number;
    /** Longest retry delay, in ms. Default 30000. */
    retryMaxDelayMs?: number;
    /** Metadata cache lifetime, in ms. Default one hour. */
    cacheMaxAgeMs?: number;
    /** Least time between JWKS fetches for an unknown `kid`, in ms. Default 30000. */
    jwksCooldownMs?: number;
  };
}

/** `AuthOptions` checked and completed: what every module of the sign-in half reads. */
export interface LoginConfig {
  issuerBaseURL: string;
  /** `baseURL` without a trailing slash. */
  baseURL: string;
  /** The exact `post_logout_redirect_uri`. */
  postLogoutRedirectUri: string;
  redirectUri: string;
  https: boolean;
  clientID: string;
  clientSecret: string | undefined;
  secrets: string[];
  authRequired: boolean;
  scope: string;
  responseMode: 'query' | 'form_post';
  extraAuthorizationParams: Record<string, string>;
  maxAge: number | undefined;
  backchannelLogout: { allowMissingExp: boolean };
  routes: { login: string | false; callback: string; logout: string; backchannelLogout: string | false };
  /** Local path for `redirect` after a logout with no issuer logout. */
  localPostLogoutPath: string;
  idpLogout: boolean | undefined;
  revokeOnLogout: boolean | undefined;
  clientAuthMethod: ClientAuthMethod;
  /** The key that signs `private_key_jwt` assertions (the first of the list given). */
  clientAssertionSigningKey: JWK | KeyObject | undefined;
  clientAssertionSigningAlg: string;
  afterCallback: AfterCallback | undefined;
  getLoginState: AuthOptions['getLoginState'];
  tokenEndpointParams: Record<string, string>;
  pushedAuthorizationRequests: boolean;
  requestObject: { signingKey: JWK | KeyObject; alg: string } | undefined;
  dpop: boolean;
  mtls: TlsIdentity | undefined;
  idTokenSigningAlgs: string[] | undefined;
  mergeUserInfo: boolean;
  clockTolerance: number;
  httpTimeout: number;
  /** How issuer calls travel: the `fetch` option, or the environment's proxy. */
  transport: Transport;
  refreshMargin: number;
  session: {
    redis: string | Redis | Cluster | undefined;
    store: Store | undefined;
    allowMemoryStore: boolean;
    cookieName: string;
    cookie: { domain: string | undefined; transient: boolean; sameSite: 'lax' | 'strict' | 'none' };
    rolling: boolean;
    rollingDuration: number;
    touchAfter: number;
    absoluteDuration: number;
    prefix: string;
    localCache: false | { maxEntries: number; maxAgeSeconds: number };
  };
  useExistingSession: boolean;
  allowInsecureHttp: boolean;
  logger: Logger;
  errorHandler: AuthOptions['errorHandler'];
  renderLogoutConfirm: AuthOptions['renderLogoutConfirm'];
  logoutParams: Record<string, string>;
  onLogoutToken: AuthOptions['onLogoutToken'];
  discovery: { retryMinDelayMs?: number; retryMaxDelayMs?: number; cacheMaxAgeMs?: number; jwksCooldownMs: number };
}

export { checkAuthorizationParams, type CheckedAuthorizationParams } from './config/params.js';
export { resolveLoginConfig } from './config/index.js';
