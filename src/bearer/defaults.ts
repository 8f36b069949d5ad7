/**
 * Every default of the Bearer guard, in one place. The README's option headings quote these.
 */

/** Algorithms accepted when none are configured: the asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1). Never `none`, never HMAC. */
export const DEFAULT_ASYMMETRIC_ALGORITHMS: readonly string[] = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
];

/** Algorithms accepted with a configured `secret` (RFC 7518 §3.2): HMAC only. */
export const HMAC_ALGORITHMS: readonly string[] = ['HS256', 'HS384', 'HS512'];

/**
 * Issuer metadata members that list algorithms the issuer itself signs with. When the issuer
 * advertises any of them, the default allow-list is narrowed to their union.
 */
export const ISSUER_SIGNING_ALG_MEMBERS: readonly string[] = [
  'id_token_signing_alg_values_supported',
  'userinfo_signing_alg_values_supported',
  'introspection_signing_alg_values_supported',
  'authorization_signing_alg_values_supported',
  'access_token_signing_alg_values_supported',
];

/** Accepted clock skew for `exp`, `nbf` and `iat`, in seconds. */
export const DEFAULT_CLOCK_TOLERANCE_S = 5;

/** The `realm` of the `WWW-Authenticate` challenge (RFC 6750 §3). */
export const DEFAULT_REALM = 'api';

/**
 * Longest accepted token, in characters (`maxTokenLength`). Longer is 400 invalid_request, never
 * parsed. 16 KiB is Node's own limit for all request headers together (`--max-http-header-size`),
 * so any token that reaches the app in a header fits; Keycloak or Entra ID tokens with many roles
 * or groups pass 8 KiB.
 */
export const DEFAULT_MAX_TOKEN_LENGTH = 16 * 1024;

/** Largest `maxTokenLength` accepted (a token in a form body may be larger than a header). */
export const MAX_MAX_TOKEN_LENGTH = 1024 * 1024;

/** Verified-token cache: most entries kept (least recently used are dropped first). */
export const DEFAULT_CACHE_MAX = 10_000;

/** Verified-token cache: longest an entry is kept, in seconds (never past the token's `exp`). */
export const DEFAULT_CACHE_MAX_TTL_S = 300;

/** JWKS: timeout of one fetch, in ms. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5000;

/** JWKS: least time between two fetches caused by an unknown `kid`, in ms. */
export const DEFAULT_JWKS_COOLDOWN_MS = 30_000;

/** JWKS: keys older than this are refreshed in the background, in ms. */
export const DEFAULT_JWKS_CACHE_MAX_AGE_MS = 10 * 60 * 1000;

/** Introspection (RFC 7662): timeout of one request, in ms. */
export const DEFAULT_INTROSPECTION_TIMEOUT_MS = 5000;

/**
 * Introspection: longest an active answer is reused, in seconds. Short on purpose: a revoked
 * opaque token stays accepted for at most this long.
 */
export const DEFAULT_INTROSPECTION_CACHE_MAX_TTL_S = 60;

/** Introspection: largest accepted answer, in bytes. */
export const MAX_INTROSPECTION_RESPONSE_BYTES = 64 * 1024;

/**
 * DPoP (RFC 9449 §7.1): how DPoP-bound tokens are handled when `dpop.mode` is not given. With
 * `allowed`, Bearer tokens without `cnf.jkt` pass as before and DPoP tokens are verified.
 */
export const DEFAULT_DPOP_MODE = 'allowed';

/**
 * DPoP proof algorithms accepted when `dpop.algorithms` is not given: asymmetric only (RFC 9449
 * §4.2: never `none`, never a MAC). The order is that of the `algs` challenge attribute.
 */
export const DEFAULT_DPOP_ALGORITHMS: readonly string[] = [
  'ES256', 'ES384', 'ES512',
  'PS256', 'PS384', 'PS512',
  'RS256', 'RS384', 'RS512',
  'EdDSA', 'Ed25519',
];

/** DPoP: largest accepted proof age (now - `iat`), in seconds (RFC 9449 §11.1), plus `clockTolerance`. */
export const DEFAULT_DPOP_MAX_PROOF_AGE_S = 60;

/** DPoP: longest accepted `DPoP` header (one proof JWT), in bytes. Longer is refused unparsed. */
export const MAX_DPOP_PROOF_BYTES = 8 * 1024;

/** DPoP: prefix of the Redis keys that record used proof `jti`s (RFC 9449 §11.1). */
export const DEFAULT_DPOP_REDIS_KEY_PREFIX = 'oidc:jti:dpop:';

/**
 * DPoP: most proof `jti`s the in-memory replay store keeps (single-instance only). When it is
 * full of unexpired entries, new proofs are refused with 503 rather than forgetting a `jti`.
 */
export const DEFAULT_DPOP_MEMORY_REPLAY_MAX = 100_000;

/** DPoP server nonces (RFC 9449 §8, §9): a nonce is valid for one to two of these windows, in seconds. */
export const DEFAULT_DPOP_NONCE_WINDOW_S = 300;
