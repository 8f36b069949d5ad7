import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Store } from 'express-session';
import type { Cluster, Redis } from 'ioredis';
import type { JWK } from 'jose';
import {
  assertObject,
  isPlainObject,
  optionError,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalString,
  optionalStringList,
  requiredString,
  requiredUrl,
} from '../config/assert.js';
import { loginEnv } from '../config/from-env.js';
import { LOGIN_DEFAULTS } from '../config/login-defaults.js';
import { defaultLogger, type Logger } from '../util/logger.js';
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
  /** Default `'/login'`. */
  login?: string;
  /** Default `'/callback'`; the redirect URI is `baseURL + callback`. */
  callback?: string;
  /** Default `'/logout'` (GET and POST). */
  logout?: string;
  /** Where the issuer sends the browser after logout: a path or absolute URL. Default `baseURL`. */
  postLogoutRedirect?: string;
  /** OIDC Back-Channel Logout receiver (POST), or `false` for none. Default `'/backchannel-logout'`. */
  backchannelLogout?: string | false;
}

/** Where sessions live. */
export interface SessionOptions {
  /** A Redis URL, or an ioredis client or cluster (yours to close). */
  redis?: string | Redis | Cluster;
  /** Any express-session store instead of Redis (no cross-process refresh lock or back-channel logout then). */
  store?: Store;
  /** Development only: express-session's memory store, with a start-up warning. */
  allowMemoryStore?: boolean;
  /** Cookie name. Default `'oidc.sid'`, `'__Host-oidc.sid'` when `baseURL` is https. */
  cookieName?: string;
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

/** Client authentication methods at the token, PAR and revocation endpoints (OIDC Core §9). */
export type ClientAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'client_secret_jwt'
  | 'private_key_jwt'
  | 'tls_client_auth'
  | 'self_signed_tls_client_auth';

/** Methods that authenticate without the client secret. */
const SECRETLESS: ReadonlySet<ClientAuthMethod> = new Set(['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);

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
  /** Leeway for token times, in seconds. Default 60. */
  clockTolerance?: number;
  /** Timeout of one request to the issuer, in ms. Default 5000. */
  httpTimeout?: number;
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
  routes: { login: string; callback: string; logout: string; backchannelLogout: string | false };
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
  clockTolerance: number;
  httpTimeout: number;
  refreshMargin: number;
  session: {
    redis: string | Redis | Cluster | undefined;
    store: Store | undefined;
    allowMemoryStore: boolean;
    cookieName: string;
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
  discovery: { retryMinDelayMs?: number; retryMaxDelayMs?: number; cacheMaxAgeMs?: number; jwksCooldownMs: number };
}

const RESERVED_PARAMS = new Set([
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'request',
  'request_uri',
  'dpop_jkt',
]);

/** Token request parameters `tokenEndpointParams` may not set: the grant and client authentication own them. */
const RESERVED_TOKEN_PARAMS = new Set([
  'grant_type',
  'code',
  'redirect_uri',
  'code_verifier',
  'refresh_token',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
]);

/** Authorization parameters after their checks: what `authorizationRequest` takes. */
export interface CheckedAuthorizationParams {
  scope: string | undefined;
  responseMode: 'query' | 'form_post' | undefined;
  maxAge: number | undefined;
  /** Every other parameter as a string (`resource` as a JSON array of strings). */
  extra: Record<string, string>;
}

/**
 * Checks authorization parameters (OIDC Core §3.1.2.1, RFC 8707 `resource`): the global
 * `authorizationParams` at start-up, and those given to `res.oidc.login()` per call.
 *
 * @throws TypeError naming `path.<param>` for a reserved parameter (one `auth()` sets itself),
 *   a scope without `openid`, an unknown `response_mode`, or a value that is not a string or number.
 */
export function checkAuthorizationParams(path: string, input: unknown): CheckedAuthorizationParams {
  assertObject(path, input);
  const params = input as AuthorizationParams;
  const scope = optionalString(`${path}.scope`, params.scope);
  if (scope !== undefined && !scope.split(' ').includes('openid')) throw optionError(`${path}.scope`, 'a space-separated list that contains "openid"');
  const responseMode = params.response_mode;
  if (responseMode !== undefined && responseMode !== 'query' && responseMode !== 'form_post') {
    throw optionError(`${path}.response_mode`, '"query" or "form_post"');
  }
  const maxAge = optionalNumber(`${path}.max_age`, params.max_age, 0, 10 * 365 * 86_400, 'seconds');
  const extra: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'scope' || name === 'response_mode' || name === 'max_age' || value === undefined) continue;
    if (RESERVED_PARAMS.has(name)) {
      throw optionError(`${path}.${name}`, 'left unset', 'auth() sets it itself for every sign-in');
    }
    if (name === 'resource') {
      optionalStringList(`${path}.resource`, value);
      extra.resource = JSON.stringify(Array.isArray(value) ? value : [value]);
      continue;
    }
    if (typeof value === 'number' && Number.isFinite(value)) {
      extra[name] = String(value);
    } else if (typeof value === 'string') {
      extra[name] = value;
    } else {
      throw optionError(`${path}.${name}`, 'a string or a number');
    }
  }
  return { scope, responseMode, maxAge, extra };
}

function routePath(path: string, value: unknown, fallback: string): string {
  const route = optionalString(path, value) ?? fallback;
  // Plain characters only: Express would read `:`, `*`, `(`... as route patterns.
  if (!route.startsWith('/') || route.startsWith('//') || !/^[A-Za-z0-9/_.~-]+$/.test(route)) {
    throw optionError(path, 'a path starting with a single "/" made of letters, digits and "/_.~-"');
  }
  return route;
}

function isPem(value: unknown): value is string | Buffer {
  return (typeof value === 'string' && value.length > 0) || (Buffer.isBuffer(value) && value.length > 0);
}

/** Checks `mtls` (RFC 8705): a PEM private key, a PEM certificate that goes with it, optional PEM CAs. */
function checkTlsIdentity(input: unknown): TlsIdentity | undefined {
  if (input === undefined) return undefined;
  assertObject('mtls', input);
  const { key, cert, ca } = input;
  let privateKey: KeyObject;
  try {
    if (!isPem(key)) throw new Error('not PEM');
    privateKey = createPrivateKey(key);
  } catch {
    throw optionError('mtls.key', 'a PEM private key (string or Buffer)');
  }
  let certificate: X509Certificate;
  try {
    if (!isPem(cert)) throw new Error('not PEM');
    certificate = new X509Certificate(cert);
  } catch {
    throw optionError('mtls.cert', 'a PEM certificate (string or Buffer)');
  }
  if (!certificate.checkPrivateKey(privateKey)) throw optionError('mtls.cert', 'the certificate of "mtls.key"');
  if (ca !== undefined) {
    const list = Array.isArray(ca) ? ca : [ca];
    list.forEach((item: unknown, i) => {
      if (!isPem(item) || !String(item).includes('-----BEGIN CERTIFICATE-----')) {
        throw optionError(Array.isArray(ca) ? `mtls.ca[${i}]` : 'mtls.ca', 'PEM CA certificate(s) (string or Buffer)');
      }
    });
  }
  return { key, cert, ...(ca !== undefined ? { ca: ca as NonNullable<TlsIdentity['ca']> } : {}) } as TlsIdentity;
}

function isPrivateKey(key: unknown): key is JWK | KeyObject {
  if (isPlainObject(key)) return typeof key.kty === 'string' && typeof key.d === 'string';
  return typeof key === 'object' && key !== null && (key as KeyObject).type === 'private' && typeof (key as KeyObject).export === 'function';
}

function jwkAlg(key: JWK | KeyObject): string | undefined {
  return isPlainObject(key) && typeof key.alg === 'string' ? key.alg : undefined;
}

/** `session.localCache`: off (`false`), or on with its bounds. */
function localCacheOption(value: unknown): false | { maxEntries: number; maxAgeSeconds: number } {
  const defaults = { maxEntries: LOGIN_DEFAULTS.localCacheMaxEntries, maxAgeSeconds: LOGIN_DEFAULTS.localCacheMaxAgeSeconds };
  if (value === undefined || value === true) return defaults;
  if (value === false) return false;
  if (!isPlainObject(value)) throw optionError('session.localCache', 'true, false or { maxEntries, maxAgeSeconds }');
  const maxEntries = optionalNumber('session.localCache.maxEntries', value.maxEntries, 1, 10_000_000, 'records');
  if (maxEntries !== undefined && !Number.isInteger(maxEntries)) throw optionError('session.localCache.maxEntries', 'a whole number of records');
  return {
    maxEntries: maxEntries ?? defaults.maxEntries,
    maxAgeSeconds: seconds('session.localCache.maxAgeSeconds', value.maxAgeSeconds, defaults.maxAgeSeconds, 1, 3600),
  };
}

function seconds(path: string, value: unknown, fallback: number, min: number, max: number): number {
  return optionalNumber(path, value, min, max, 'seconds') ?? fallback;
}

/**
 * Checks `auth()` options once, at start-up, and completes them from the environment
 * (`loginEnv()`) and `LOGIN_DEFAULTS`.
 *
 * @throws TypeError naming the option and what it must be.
 */
export function resolveLoginConfig(input: AuthOptions | undefined): LoginConfig {
  const raw: unknown = input ?? {};
  assertObject('options', raw);
  const options = raw as AuthOptions;
  const env = loginEnv();
  const allowInsecureHttp = optionalBoolean('allowInsecureHttp', options.allowInsecureHttp) ?? false;
  const logger = options.logger ?? defaultLogger;
  for (const method of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[method] !== 'function') throw optionError('logger', 'an object with debug, info, warn and error functions');
  }

  const issuerUrl = requiredUrl('issuerBaseURL', options.issuerBaseURL ?? env.issuerBaseURL, allowInsecureHttp, 'Set it, or the ISSUER_BASE_URL environment variable');
  const baseUrl = requiredUrl('baseURL', options.baseURL ?? env.baseURL, allowInsecureHttp, 'Set it, or the BASE_URL environment variable');
  if (baseUrl.search) throw optionError('baseURL', 'a URL without a query string');
  const baseURL = (options.baseURL ?? env.baseURL ?? '').replace(/\/+$/, '');
  const clientID = requiredString('clientID', options.clientID ?? env.clientID, 'Set it, or the CLIENT_ID environment variable');

  const clientAuthMethod = options.clientAuthMethod ?? LOGIN_DEFAULTS.clientAuthMethod;
  if (!['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'].includes(clientAuthMethod)) {
    throw optionError(
      'clientAuthMethod',
      '"client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "tls_client_auth" or "self_signed_tls_client_auth"',
    );
  }
  const clientSecret = optionalString('clientSecret', options.clientSecret ?? env.clientSecret);
  const mtls = checkTlsIdentity(options.mtls);
  if ((clientAuthMethod === 'tls_client_auth' || clientAuthMethod === 'self_signed_tls_client_auth') && mtls === undefined) {
    throw optionError('mtls', 'set', `"${clientAuthMethod}" authenticates with the TLS client certificate (RFC 8705 §2)`);
  }
  if (!SECRETLESS.has(clientAuthMethod) && clientSecret === undefined) {
    throw optionError('clientSecret', 'set', `"${clientAuthMethod}" authenticates with it; set it or the CLIENT_SECRET environment variable`);
  }
  let clientAssertionSigningKey: JWK | KeyObject | undefined;
  let clientAssertionSigningAlg: string;
  if (clientAuthMethod === 'private_key_jwt') {
    const input = options.clientAssertionSigningKey;
    const list: unknown[] = Array.isArray(input) ? [...(input as unknown[])] : [input];
    const expected = 'a private JWK or a private KeyObject';
    if (list.length === 0) throw optionError('clientAssertionSigningKey', `${expected}, or a non-empty list of them`);
    list.forEach((key, i) => {
      if (!isPrivateKey(key)) {
        throw optionError(Array.isArray(input) ? `clientAssertionSigningKey[${i}]` : 'clientAssertionSigningKey', expected, '"private_key_jwt" signs its client assertion with it');
      }
    });
    clientAssertionSigningKey = list[0] as JWK | KeyObject;
    clientAssertionSigningAlg =
      optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ?? jwkAlg(clientAssertionSigningKey) ?? LOGIN_DEFAULTS.clientAssertionSigningAlg;
    if (/^(none|HS\d+)$/i.test(clientAssertionSigningAlg)) {
      throw optionError('clientAssertionSigningAlg', 'an asymmetric JWS algorithm such as "RS256", "PS256", "ES256" or "EdDSA"');
    }
  } else if (clientAuthMethod === 'client_secret_jwt') {
    clientAssertionSigningAlg = optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ?? LOGIN_DEFAULTS.clientSecretJwtAlg;
    if (!/^HS(256|384|512)$/.test(clientAssertionSigningAlg)) {
      throw optionError('clientAssertionSigningAlg', '"HS256", "HS384" or "HS512"', '"client_secret_jwt" signs with the client secret (RFC 7523 §2.2)');
    }
  } else {
    clientAssertionSigningAlg = optionalString('clientAssertionSigningAlg', options.clientAssertionSigningAlg) ?? LOGIN_DEFAULTS.clientAssertionSigningAlg;
  }

  const secretInput = options.secret ?? env.secret;
  const secrets = optionalStringList('secret', secretInput);
  if (secrets === undefined) throw optionError('secret', 'set', 'Set it (at least 32 random characters), or the SECRET environment variable');
  secrets.forEach((s, i) => {
    if (s.length < 32) throw optionError(Array.isArray(secretInput) ? `secret[${i}]` : 'secret', 'a string of at least 32 characters', 'Use e.g. the output of "openssl rand -base64 48"');
  });

  // Authorization parameters.
  const checkedParams = checkAuthorizationParams('authorizationParams', options.authorizationParams ?? {});
  const scope = checkedParams.scope ?? LOGIN_DEFAULTS.scope;
  const responseMode = checkedParams.responseMode ?? LOGIN_DEFAULTS.responseMode;
  const maxAge = checkedParams.maxAge;
  const extraAuthorizationParams = checkedParams.extra;

  // Routes.
  const routesRaw: unknown = options.routes ?? {};
  assertObject('routes', routesRaw);
  const routesIn = routesRaw as RouteOptions;
  const routes = {
    login: routePath('routes.login', routesIn.login, LOGIN_DEFAULTS.routes.login),
    callback: routePath('routes.callback', routesIn.callback, LOGIN_DEFAULTS.routes.callback),
    logout: routePath('routes.logout', routesIn.logout, LOGIN_DEFAULTS.routes.logout),
    backchannelLogout:
      routesIn.backchannelLogout === false
        ? (false as const)
        : routePath('routes.backchannelLogout', routesIn.backchannelLogout, LOGIN_DEFAULTS.routes.backchannelLogout),
  };
  let postLogoutRedirectUri = baseURL;
  let localPostLogoutPath = `${baseUrl.pathname.replace(/\/+$/, '')}/`;
  const postLogout = optionalString('routes.postLogoutRedirect', routesIn.postLogoutRedirect);
  if (postLogout !== undefined) {
    if (postLogout.startsWith('/') && !postLogout.startsWith('//') && !postLogout.includes('\\')) {
      postLogoutRedirectUri = `${baseURL}${postLogout}`;
      localPostLogoutPath = new URL(postLogoutRedirectUri).pathname;
    } else {
      const url = requiredUrl('routes.postLogoutRedirect', postLogout, allowInsecureHttp);
      postLogoutRedirectUri = url.href;
      localPostLogoutPath = url.origin === baseUrl.origin ? `${url.pathname}${url.search}` : localPostLogoutPath;
    }
  }

  // Session.
  const sessionRaw: unknown = options.session ?? {};
  assertObject('session', sessionRaw);
  const sessionIn = sessionRaw as SessionOptions;
  const useExistingSession = optionalBoolean('useExistingSession', options.useExistingSession) ?? false;
  const redis = sessionIn.redis;
  if (redis !== undefined && typeof redis !== 'string' && (typeof redis !== 'object' || redis === null || typeof (redis as Redis).get !== 'function')) {
    throw optionError('session.redis', 'a Redis URL such as "redis://127.0.0.1:6379" or an ioredis client');
  }
  const store = sessionIn.store;
  if (store !== undefined && (typeof store !== 'object' || store === null || typeof store.get !== 'function' || typeof store.set !== 'function' || typeof store.destroy !== 'function')) {
    throw optionError('session.store', 'an express-session Store');
  }
  const allowMemoryStore = optionalBoolean('session.allowMemoryStore', sessionIn.allowMemoryStore) ?? false;
  if (!useExistingSession && redis === undefined && store === undefined && !allowMemoryStore) {
    throw optionError('session.redis', 'set', 'Give a Redis URL or ioredis client, or "session.store", or "useExistingSession: true"; for development only, "session.allowMemoryStore: true"');
  }
  const https = baseUrl.protocol === 'https:';
  const rollingDuration = seconds('session.rollingDuration', sessionIn.rollingDuration, LOGIN_DEFAULTS.rollingDurationSeconds, 60, 365 * 86_400);
  const touchAfter = seconds('session.touchAfter', sessionIn.touchAfter, Math.min(LOGIN_DEFAULTS.touchAfterSeconds, rollingDuration / 10), 0, 3600);
  if (touchAfter >= rollingDuration) throw optionError('session.touchAfter', `fewer seconds than session.rollingDuration (${rollingDuration})`);
  const absoluteDuration = seconds('session.absoluteDuration', sessionIn.absoluteDuration, LOGIN_DEFAULTS.absoluteDurationSeconds, 60, 10 * 365 * 86_400);
  const cookieName = optionalString('session.cookieName', sessionIn.cookieName) ?? `${https ? '__Host-' : ''}${LOGIN_DEFAULTS.cookieName}`;
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) throw optionError('session.cookieName', 'a cookie name (RFC 6265 token characters)');
  if (cookieName.startsWith('__Host-') && !https) throw optionError('session.cookieName', 'a name without "__Host-"', 'That prefix needs an https baseURL');

  const idTokenSigningAlgs = optionalStringList('idTokenSigningAlgs', options.idTokenSigningAlgs);
  if (idTokenSigningAlgs?.some((alg) => alg.toLowerCase() === 'none')) throw optionError('idTokenSigningAlgs', 'a list of JWS algorithms without "none"');
  if (idTokenSigningAlgs?.some((alg) => /^HS/i.test(alg)) && clientSecret === undefined) {
    throw optionError('clientSecret', 'set', 'HS* ID token algorithms are keyed with the client secret');
  }

  const discoveryRaw: unknown = options.discovery ?? {};
  assertObject('discovery', discoveryRaw);
  const discoveryIn = discoveryRaw as NonNullable<AuthOptions['discovery']>;
  const discovery = {
    retryMinDelayMs: optionalNumber('discovery.retryMinDelayMs', discoveryIn.retryMinDelayMs, 0, 600_000, 'milliseconds'),
    retryMaxDelayMs: optionalNumber('discovery.retryMaxDelayMs', discoveryIn.retryMaxDelayMs, 0, 3_600_000, 'milliseconds'),
    cacheMaxAgeMs: optionalNumber('discovery.cacheMaxAgeMs', discoveryIn.cacheMaxAgeMs, 0, 7 * 86_400_000, 'milliseconds'),
    jwksCooldownMs: optionalNumber('discovery.jwksCooldownMs', discoveryIn.jwksCooldownMs, 0, 3_600_000, 'milliseconds') ?? LOGIN_DEFAULTS.jwksCooldownMs,
  };

  const tokenParamsIn: unknown = options.tokenEndpointParams ?? {};
  assertObject('tokenEndpointParams', tokenParamsIn);
  const tokenEndpointParams: Record<string, string> = {};
  for (const [name, value] of Object.entries(tokenParamsIn)) {
    if (value === undefined) continue;
    if (RESERVED_TOKEN_PARAMS.has(name)) throw optionError(`tokenEndpointParams.${name}`, 'left unset', 'the grant and client authentication set it');
    if (typeof value !== 'string') throw optionError(`tokenEndpointParams.${name}`, 'a string');
    tokenEndpointParams[name] = value;
  }

  let requestObject: LoginConfig['requestObject'];
  if (options.requestObject !== undefined) {
    assertObject('requestObject', options.requestObject);
    const key: unknown = options.requestObject.signingKey;
    if (!isPrivateKey(key)) throw optionError('requestObject.signingKey', 'a private JWK or a private KeyObject');
    const alg = optionalString('requestObject.alg', options.requestObject.alg) ?? jwkAlg(key) ?? LOGIN_DEFAULTS.requestObjectSigningAlg;
    if (/^(none|HS\d+)$/i.test(alg)) throw optionError('requestObject.alg', 'an asymmetric JWS algorithm such as "RS256", "PS256", "ES256" or "EdDSA"');
    requestObject = { signingKey: key, alg };
  }

  return {
    issuerBaseURL: options.issuerBaseURL ?? env.issuerBaseURL ?? issuerUrl.href,
    baseURL,
    postLogoutRedirectUri,
    redirectUri: `${baseURL}${routes.callback}`,
    https,
    clientID,
    clientSecret,
    secrets,
    authRequired: optionalBoolean('authRequired', options.authRequired) ?? LOGIN_DEFAULTS.authRequired,
    scope,
    responseMode,
    extraAuthorizationParams,
    maxAge,
    routes,
    localPostLogoutPath,
    idpLogout: optionalBoolean('idpLogout', options.idpLogout),
    revokeOnLogout: optionalBoolean('revokeOnLogout', options.revokeOnLogout),
    clientAuthMethod,
    clientAssertionSigningKey,
    clientAssertionSigningAlg,
    afterCallback: optionalFunction<AfterCallback>('afterCallback', options.afterCallback),
    getLoginState: optionalFunction<NonNullable<AuthOptions['getLoginState']>>('getLoginState', options.getLoginState),
    tokenEndpointParams,
    pushedAuthorizationRequests: optionalBoolean('pushedAuthorizationRequests', options.pushedAuthorizationRequests) ?? LOGIN_DEFAULTS.pushedAuthorizationRequests,
    requestObject,
    dpop: optionalBoolean('dpop', options.dpop) ?? LOGIN_DEFAULTS.dpop,
    mtls,
    idTokenSigningAlgs,
    clockTolerance: seconds('clockTolerance', options.clockTolerance, LOGIN_DEFAULTS.clockToleranceSeconds, 0, 600),
    httpTimeout: optionalNumber('httpTimeout', options.httpTimeout, 100, 120_000, 'milliseconds') ?? LOGIN_DEFAULTS.httpTimeoutMs,
    refreshMargin: seconds('refreshMargin', options.refreshMargin, LOGIN_DEFAULTS.refreshMarginSeconds, 0, 3600),
    session: {
      redis,
      store,
      allowMemoryStore,
      cookieName,
      rolling: optionalBoolean('session.rolling', sessionIn.rolling) ?? LOGIN_DEFAULTS.rolling,
      rollingDuration,
      touchAfter,
      absoluteDuration,
      prefix: sessionIn.prefix === '' ? '' : optionalString('session.prefix', sessionIn.prefix) ?? LOGIN_DEFAULTS.redisPrefix,
      localCache: localCacheOption(sessionIn.localCache),
    },
    useExistingSession,
    allowInsecureHttp,
    logger,
    errorHandler: optionalFunction('errorHandler', options.errorHandler),
    discovery,
  };
}
