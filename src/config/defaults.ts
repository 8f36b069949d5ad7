/**
 * Every default of the package, in one documented place: the sign-in half (`auth()`,
 * `LOGIN_DEFAULTS`), the API guard (`requireBearer()`, `BEARER_DEFAULTS`) and the discovery and
 * key set both use (`ISSUER_DEFAULTS`). The README's option
 * tables quote these (test/docs/readme-options.test.ts checks them against what the factories
 * resolve).
 *
 * One style for both: one `as const` object per half, one documented member per default, the unit
 * in the name of every time (`...Seconds`, `...Ms`) and size (`...Bytes`). Options left unset take
 * these values; explicit options always win (merged with `??`, so `0` stays `0`).
 */

// ---------------------------------------------------------------------------------------------
// Shared by both halves: discovery and the JWKS (src/issuer/)

/**
 * Defaults of issuer discovery (`IssuerDiscovery`) and of the issuer's key set (`RemoteKeySet`),
 * which both halves use: `auth()`'s `discovery.*` options and `requireBearer()`'s `jwks.*` options
 * fall back to these. Times are in the unit their name says.
 */
export const ISSUER_DEFAULTS = {
  /** Timeout of one metadata or JWKS request, in ms: long enough for a slow issuer, short enough to answer 503 before a browser gives up. */
  httpTimeoutMs: 5000,
  /** `discovery.cacheMaxAgeMs`: metadata older than this is fetched again, in ms (an hour: issuers change it rarely). */
  discoveryCacheMaxAgeMs: 60 * 60 * 1000,
  /** `discovery.retryMinDelayMs`: first wait after a failed discovery, in ms (doubles up to the maximum). */
  discoveryRetryMinDelayMs: 500,
  /** `discovery.retryMaxDelayMs`: longest wait between two discovery attempts of a dead issuer, in ms. */
  discoveryRetryMaxDelayMs: 30_000,
  /**
   * `jwks.cooldownMs` / `discovery.jwksCooldownMs`: least time between two JWKS fetches caused by
   * an unknown `kid`, in ms, so tokens with made-up `kid`s cannot make us hammer the issuer.
   */
  jwksCooldownMs: 30_000,
  /** `jwks.cacheMaxAgeMs`: keys older than this are refreshed in the background, in ms. */
  jwksCacheMaxAgeMs: 10 * 60 * 1000,
  /** Least wait after a failed JWKS fetch before the next, in ms. */
  jwksFailureBackoffMs: 1000,
  /** Least time between two prompt refetches for an unknown `kid`, in ms. */
  jwksPromptFloorMs: 1000,
  /** Largest accepted JWKS document, in bytes: generous (dozens of RSA keys take under 64 KiB), yet bounded. */
  jwksMaxBytes: 512 * 1024,
} as const;

// ---------------------------------------------------------------------------------------------
// Sign-in: auth()

/**
 * Every default of `auth()` (exported from `express-oidc-guard/advanced`). Times are in the unit
 * their name says; the option each one fills is named in its comment.
 */
export const LOGIN_DEFAULTS = {
  /** `authRequired`: every route behind `auth()` needs a signed-in user (as express-openid-connect). */
  authRequired: true,
  /** `authorizationParams.scope` (OIDC Core §3.1.2.1: `openid` is required). */
  scope: 'openid profile email',
  /** `authorizationParams.response_mode`: the code comes back in the query string (RFC 6749 §4.1.2). */
  responseMode: 'query' as const,
  /** `routes.*`: paths of the routes `auth()` serves, relative to `baseURL`. */
  routes: {
    login: '/login',
    callback: '/callback',
    logout: '/logout',
    backchannelLogout: '/backchannel-logout',
  },
  /** `clientAuthMethod` (RFC 6749 §2.3.1: HTTP Basic). */
  clientAuthMethod: 'client_secret_basic' as const,
  /** `clientAssertionSigningAlg` for `private_key_jwt` (RFC 7523 §3). */
  clientAssertionSigningAlg: 'RS256',
  /** Lifetime of a `private_key_jwt` / `client_secret_jwt` client assertion, in seconds. */
  clientAssertionLifetimeSeconds: 60,
  /** `clientAssertionSigningAlg` for `client_secret_jwt` (RFC 7523 §2.2, keyed with the client secret). */
  clientSecretJwtAlg: 'HS256',
  /** `pushedAuthorizationRequests` (RFC 9126): off unless the issuer requires it in its metadata. */
  pushedAuthorizationRequests: false,
  /** `requestObject.alg` when the key is a KeyObject or a JWK without `alg` (RFC 9101). */
  requestObjectSigningAlg: 'RS256',
  /** Lifetime of a signed request object (RFC 9101 §4: `exp`), in seconds. */
  requestObjectLifetimeSeconds: 300,
  /** `dpop` (RFC 9449): off. */
  dpop: false,
  /** `mergeUserInfo`: the user's claims are the ID token's alone (no UserInfo call at sign-in). */
  mergeUserInfo: false,
  /** Algorithm of the per-session DPoP key pair (RFC 9449 §4.2). */
  dpopAlg: 'ES256' as const,
  /** Largest JSON size of what `getLoginState` returns, in bytes (it is sealed into the session). */
  loginStateMaxBytes: 4096,
  /** `clockTolerance`: leeway for `exp`, `iat`, `nbf` of ID and logout tokens, in seconds. */
  clockToleranceSeconds: 60,
  /** `httpTimeout`: timeout of one request to the issuer (token, revocation, userinfo), in ms. */
  httpTimeoutMs: 5000,
  /**
   * `refreshMargin`: an access token this close to its expiry is refreshed first, in seconds;
   * capped per token at half its lifetime less half a second (`effectiveRefreshMargin`).
   */
  refreshMarginSeconds: 30,
  /** `session.cookieName`; prefixed `__Host-` when `baseURL` is https (RFC 6265bis §4.1.3.2). */
  cookieName: 'oidc.sid',
  /**
   * The cookie `attemptSilentLogin()` sets once it tried a silent sign-in in this browser (and
   * logout sets, and a sign-in clears): `'1'`, HttpOnly, SameSite=Lax, no expiry (it lasts the
   * browser session); prefixed `__Host-` when `baseURL` is https.
   */
  silentLoginCookieName: 'oidc.silent_tried',
  /** `session.rolling`: each response renews the session's idle lifetime. */
  rolling: true,
  /** `session.rollingDuration`: idle lifetime of a session, in seconds (one day). */
  rollingDurationSeconds: 24 * 60 * 60,
  /** `session.touchAfter`: least time between two renewals of a rolling session, in seconds. */
  touchAfterSeconds: 60,
  /** `session.absoluteDuration`: longest life of a sign-in whatever the activity, in seconds (7 days). */
  absoluteDurationSeconds: 7 * 24 * 60 * 60,
  /** `session.prefix`: prefix of every Redis key `auth()` writes. */
  redisPrefix: 'oidc:',
  /** `session.localCache.maxEntries`: most session records one process keeps in memory (about 2.5 kB each). */
  localCacheMaxEntries: 5000,
  /** `session.localCache.maxAgeSeconds`: longest time a record is served from memory, in seconds. */
  localCacheMaxAgeSeconds: 30,
  /** Longest wait for the session store during a request before answering 503, in ms. */
  sessionTimeoutMs: 4000,
  /** How many sign-ins may be in flight in one session at once (parallel tabs); the oldest goes. */
  maxPendingLogins: 10,
  /** How long a started sign-in may take before its callback is refused, in seconds. */
  pendingLoginTtlSeconds: 10 * 60,
  /**
   * How long the mark of an ended session (logout, back-channel logout, `sessions.destroy`) is
   * kept, in seconds: a request still running this long after the end cannot write the session
   * back (with the app's own or a custom session store; see `guardEndedSessions`).
   */
  endedSessionTtlSeconds: 60 * 60,
  /** `discovery.jwksCooldownMs`: least time between two JWKS fetches for an unknown `kid`, in ms. */
  jwksCooldownMs: ISSUER_DEFAULTS.jwksCooldownMs,
  /** Lifetime of the Redis lock that makes one refresh per session, in ms. */
  refreshLockTtlMs: 10_000,
  /** How long a request waits for another one's refresh, in ms. */
  refreshWaitMs: 8000,
  /**
   * Oldest accepted logout token, by its `iat`, in seconds (plus `clockTolerance`). Back-Channel
   * Logout 1.0 §2.4 recommends an `exp` of two minutes or less; five minutes leaves room for an
   * issuer that retries a failed delivery. The `jti` is remembered until `exp` regardless (until
   * `iat` plus this bound for a token without `exp`, with `backchannelLogout.allowMissingExp`).
   */
  logoutTokenMaxAgeSeconds: 5 * 60,
  /**
   * `backchannelLogout.allowMissingExp`: a logout token without `exp` is refused, as Back-Channel
   * Logout 1.0 §2.4 requires it (draft 06, which Glewlwyd 2.7 implements, had none).
   */
  backchannelLogoutAllowMissingExp: false,
  /** Largest accepted form body on `/callback` (form_post) and the back-channel logout route. */
  formBodyLimit: '64kb',
} as const;

// ---------------------------------------------------------------------------------------------
// API guard: requireBearer()

/**
 * Every default of `requireBearer()`. Times are in the unit their name says; the option each one
 * fills is named in its comment.
 */
export const BEARER_DEFAULTS = {
  /**
   * `algorithms` when none are configured: the asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037
   * §3.1). Never `none`, never HMAC: a guard that trusts a public key must not accept a token
   * MACed with that key's bytes (the algorithm-confusion attack).
   */
  asymmetricAlgorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as readonly string[],
  /** `algorithms` with a configured `secret` (RFC 7518 §3.2): HMAC only, for the same reason. */
  hmacAlgorithms: ['HS256', 'HS384', 'HS512'] as readonly string[],
  /**
   * Issuer metadata members that list algorithms the issuer itself signs with. When the issuer
   * advertises any of them, the default allow-list is narrowed to their union: an algorithm the
   * issuer never uses can only come from someone else.
   */
  issuerSigningAlgMembers: [
    'id_token_signing_alg_values_supported',
    'userinfo_signing_alg_values_supported',
    'introspection_signing_alg_values_supported',
    'authorization_signing_alg_values_supported',
    'access_token_signing_alg_values_supported',
  ] as readonly string[],
  /**
   * `clockTolerance`: accepted clock skew for `exp`, `nbf` and `iat`, in seconds. Small: an API
   * token is short-lived, and its issuer and the API usually share NTP.
   */
  clockToleranceSeconds: 5,
  /** `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
  realm: 'api',
  /**
   * `maxTokenLength`: longest accepted token, in characters. Longer is 400 invalid_request, never
   * parsed. 16 KiB is Node's own limit for all request headers together (`--max-http-header-size`),
   * so any token that reaches the app in a header fits; Keycloak or Entra ID tokens with many roles
   * or groups pass 8 KiB.
   */
  maxTokenLength: 16 * 1024,
  /** Largest `maxTokenLength` accepted (a token in a form body may be larger than a header). */
  maxTokenLengthLimit: 1024 * 1024,
  /** `cache.max`: most verified tokens kept (least recently used are dropped first). */
  cacheMax: 10_000,
  /**
   * `cache.maxTtlSeconds`: longest a verified token is kept, in seconds (never past its `exp`).
   * Bounds how long a key the issuer rotated away still answers from the cache.
   */
  cacheMaxTtlSeconds: 300,
  /** `jwks.timeoutMs`: timeout of one JWKS fetch, in ms. */
  jwksTimeoutMs: ISSUER_DEFAULTS.httpTimeoutMs,
  /** `jwks.cooldownMs`, in ms: see `ISSUER_DEFAULTS.jwksCooldownMs`. */
  jwksCooldownMs: ISSUER_DEFAULTS.jwksCooldownMs,
  /** `jwks.cacheMaxAgeMs`: keys older than this are refreshed in the background, in ms. */
  jwksCacheMaxAgeMs: ISSUER_DEFAULTS.jwksCacheMaxAgeMs,
  /** `introspection.timeoutMs`: timeout of one introspection request (RFC 7662), in ms. */
  introspectionTimeoutMs: 5000,
  /**
   * `introspection.cacheMaxTtlSeconds`: longest an active answer is reused, in seconds. Short on
   * purpose: a revoked opaque token stays accepted for at most this long.
   */
  introspectionCacheMaxTtlSeconds: 60,
  /** Largest accepted introspection answer, in bytes: an answer is a small JSON object. */
  introspectionResponseMaxBytes: 64 * 1024,
  /**
   * `dpop.mode` (RFC 9449 §7.1): with `allowed`, Bearer tokens without `cnf.jkt` pass as before
   * and DPoP tokens are verified, so turning DPoP on at the issuer breaks no client.
   */
  dpopMode: 'allowed',
  /**
   * `dpop.algorithms`: proof algorithms accepted, asymmetric only (RFC 9449 §4.2: never `none`,
   * never a MAC). The order is that of the `algs` challenge attribute.
   */
  dpopAlgorithms: [
    'ES256',
    'ES384',
    'ES512',
    'PS256',
    'PS384',
    'PS512',
    'RS256',
    'RS384',
    'RS512',
    'EdDSA',
    'Ed25519',
  ] as readonly string[],
  /**
   * `dpop.maxProofAge`: largest accepted proof age (now - `iat`), in seconds (RFC 9449 §11.1),
   * plus `clockTolerance`. A proof is made for one request, so a minute is plenty.
   */
  dpopMaxProofAgeSeconds: 60,
  /** Longest accepted `DPoP` header (one proof JWT), in bytes. Longer is refused unparsed. */
  dpopProofMaxBytes: 8 * 1024,
  /** `dpop.redisKeyPrefix`: prefix of the Redis keys that record used proof `jti`s (RFC 9449 §11.1). */
  dpopRedisKeyPrefix: 'oidc:jti:dpop:',
  /**
   * Most proof `jti`s the in-memory replay store keeps (single-instance only). When it is full of
   * unexpired entries, new proofs are refused with 503 rather than forgetting a `jti` (which
   * would let a proof be replayed).
   */
  dpopMemoryReplayMax: 100_000,
  /**
   * `dpop.nonce.windowSeconds`: a server nonce (RFC 9449 §8, §9) is valid for one to two of these
   * windows, in seconds: long enough that a client rarely retries, short enough to bound a
   * proof made ahead of time.
   */
  dpopNonceWindowSeconds: 300,
} as const;
