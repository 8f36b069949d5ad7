/**
 * Every default of `auth()`, in one documented place. Times are in the unit their name says.
 * Options left unset take these values; explicit options always win (merged with `??`).
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
  jwksCooldownMs: 30_000,
  /** Lifetime of the Redis lock that makes one refresh per session, in ms. */
  refreshLockTtlMs: 10_000,
  /** How long a request waits for another one's refresh, in ms. */
  refreshWaitMs: 8000,
  /**
   * Oldest accepted logout token, by its `iat`, in seconds (plus `clockTolerance`). Back-Channel
   * Logout 1.0 §2.4 recommends an `exp` of two minutes or less; five minutes leaves room for an
   * issuer that retries a failed delivery. The `jti` is remembered until `exp` regardless.
   */
  logoutTokenMaxAgeSeconds: 5 * 60,
  /** Largest accepted form body on `/callback` (form_post) and the back-channel logout route. */
  formBodyLimit: '64kb',
} as const;
