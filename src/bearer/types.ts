import type { JWSHeaderParameters, JWTPayload } from 'jose';
import type { Cluster, Redis } from 'ioredis';
import type { NextFunction, Request, Response } from 'express';
import type { AuthError } from '../errors/index.js';
import type { FetchFunction } from '../issuer/http.js';
import type { Logger } from '../util/logger.js';

/**
 * The claims of a verified access token (RFC 9068 §2.2), or the members of an active
 * introspection answer (RFC 7662 §2.2).
 */
export type BearerPayload = JWTPayload & {
  /** Space-separated scopes (RFC 9068 §2.2.3, RFC 7662 §2.2). */
  scope?: string;
  /** Scopes as an array (Azure AD and others). */
  scp?: string[];
  /** Permissions as an array (Auth0 RBAC). */
  permissions?: string[];
  client_id?: string;
  /**
   * The confirmation claim of a sender-constrained token (RFC 7800 §3.1): `jkt`, the RFC 7638
   * thumbprint of the DPoP key (RFC 9449 §6.1), or `x5t#S256`, the SHA-256 thumbprint of the
   * client certificate (RFC 8705 §3.1).
   */
  cnf?: { jkt?: string; 'x5t#S256'?: string; [member: string]: unknown };
  [claim: string]: unknown;
};

/**
 * What `requireBearer()` puts on `req.auth` once a token is accepted.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2
 */
export interface BearerAuth {
  /** The verified claims (JWT) or the introspection answer (opaque token). */
  payload: BearerPayload;
  /** The JWS protected header; `undefined` for an introspected token. */
  header: JWSHeaderParameters | undefined;
  /** The access token as received. Do not log it. */
  token: string;
  /** The token's scopes, from `scope` (space-separated) or the `scp` / `permissions` arrays. */
  scopes: string[];
  /** The issuer the token was accepted for. */
  issuer: string;
  /** How the token was checked. */
  kind: 'jwt' | 'introspection';
  /**
   * The `Authorization` scheme the token came with, set by `requireBearer()`: `DPoP` for a
   * DPoP-bound token whose proof was verified (RFC 9449 §7.1), `Bearer` otherwise (also for a form-body token).
   */
  scheme?: 'Bearer' | 'DPoP';
}

/**
 * DPoP-bound access tokens (RFC 9449 §7): how the `DPoP` scheme and proofs are handled.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 */
export interface DpopOptions {
  /**
   * `allowed` (default): Bearer tokens without `cnf.jkt` pass as before, DPoP tokens are verified;
   * `required`: only the DPoP scheme is accepted; `disabled`: the DPoP scheme counts as no
   * credentials. A token with `cnf.jkt` sent with the Bearer scheme is refused in every mode.
   */
  mode?: 'allowed' | 'required' | 'disabled';
  /** Accepted proof algorithms (asymmetric only). Default ES256 ... EdDSA, see `BEARER_DEFAULTS.dpopAlgorithms`. */
  algorithms?: string[];
  /** Largest accepted proof age (now - `iat`), in seconds, plus `clockTolerance`. Default 60. */
  maxProofAge?: number;
  /**
   * The external URL of this app (origin, and the path prefix a proxy strips, if any), against
   * which the proof's `htu` is compared: `https://api.example.com`. Without it the URL is derived
   * from `req.protocol` and the host only when Express' `trust proxy` is set; otherwise DPoP
   * requests are answered 500 (the server cannot know its own URL).
   */
  baseURL?: string;
  /**
   * An ioredis client (Redis or Cluster) recording used proof `jti`s across instances
   * (RFC 9449 §11.1). Without it, an in-memory store is used: correct for a single instance only.
   */
  redis?: Redis | Cluster;
  /** Prefix of the `jti` keys in Redis. Default `oidc:jti:dpop:`. */
  redisKeyPrefix?: string;
  /**
   * Server nonces (RFC 9449 §9): a proof without a current nonce is answered 401 `use_dpop_nonce`
   * with a `DPoP-Nonce` header. `true` uses a random per-process secret (single instance); give
   * `{ secret }` (32+ bytes) shared by all instances otherwise. Default false.
   */
  nonce?: boolean | { secret?: string | Uint8Array; windowSeconds?: number };
}

/**
 * Certificate-bound access tokens (RFC 8705 §3). The check itself is always on: a token with
 * `cnf["x5t#S256"]` needs a matching TLS client certificate.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export interface MtlsOptions {
  /**
   * Read the client certificate from this request header (URL-encoded PEM, as nginx
   * `$ssl_client_escaped_cert` sends) instead of the TLS socket. Only for a header your trusted
   * TLS-terminating proxy sets and strips from client requests. Default: off (the socket).
   */
  certificateHeader?: string;
  /**
   * Returns the request's client certificate: PEM, DER bytes, or `undefined` for none (as
   * express-oauth2-jwt-bearer's `getCertificate`), for set-ups the other options do not cover.
   * Not together with `certificateHeader`. Default: off.
   */
  getCertificate?: (req: Request) => string | Uint8Array | undefined | null;
}

/**
 * RFC 7662 token introspection for opaque (non-JWT) access tokens.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export interface IntrospectionOptions {
  /** The introspection endpoint. Default: the issuer metadata's `introspection_endpoint`. */
  endpoint?: string;
  /**
   * This resource server's client id at the authorization server (required). Spelt as `auth()`'s
   * `clientID`.
   */
  clientID?: string;
  /** @deprecated The older spelling of `clientID`, still accepted: give one of the two. */
  clientId?: string;
  /** Its client secret. */
  clientSecret: string;
  /** How the client authenticates (RFC 6749 §2.3.1). Default `client_secret_basic`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
  /** Timeout of one introspection request, in ms. Default 5000. */
  timeoutMs?: number;
  /** Longest an active answer is reused, in seconds (never past the token's `exp`). Default 60. */
  cacheMaxTtlSeconds?: number;
}

/** One issuer whose tokens are trusted. */
export interface TrustedIssuerOptions {
  /** The issuer's base URL: its metadata (and `jwks_uri`) is discovered (RFC 8414, OIDC Discovery). */
  issuerBaseURL?: string;
  /** The exact `iss` value, when the keys are given by `jwksUri` (or `secret`) instead of discovery. */
  issuer?: string;
  /** The JWKS location, with `issuer`. */
  jwksUri?: string;
  /**
   * A shared secret for HMAC-signed tokens (HS256/384/512), with `issuer`. Symmetric keys let
   * every holder mint tokens: set it only on purpose.
   */
  secret?: string | Uint8Array;
  /** Overrides the top-level `audience` for this issuer. */
  audience?: string | string[];
  /** Overrides the top-level `algorithms` for this issuer. */
  algorithms?: string[];
  /** Opaque tokens of this issuer are checked at its introspection endpoint. */
  introspection?: IntrospectionOptions;
}

/** Options of `requireBearer()`. Defaults are in `src/config/defaults.ts` (`BEARER_DEFAULTS`). */
export interface BearerOptions extends TrustedIssuerOptions {
  /** Several trusted issuers, picked by the token's (unverified) `iss`. Excludes the single-issuer options. */
  issuers?: TrustedIssuerOptions[];
  /** The audience (or audiences, any of which may match) the token's `aud` must name. Default: `AUDIENCE`. */
  audience?: string | string[];
  /** Allowed JWS algorithms. Default: the asymmetric ones the issuer advertises. */
  algorithms?: string[];
  /** Accepted clock skew in seconds. Default 5. */
  clockTolerance?: number;
  /** Largest accepted token age (now - `iat`) in seconds; makes `iat` required. */
  maxTokenAge?: number;
  /** Claims that must be present. */
  requiredClaims?: string[];
  /**
   * Custom claim validators (express-oauth2-jwt-bearer's `validators`), by claim name (`typ`: the
   * header's): a string the value must equal, `false` for no check, or a function of
   * `(value, claims, header)` returning (or resolving to) `true`. One for `iss`, `aud`, `typ`,
   * `iat`, `sub`, `client_id` or `jti` replaces the built-in check of that claim; `alg` and `exp`
   * cannot be replaced. JWTs only (not introspection answers).
   */
  validators?: Record<string, ClaimValidator>;
  /** RFC 9068 mode: `typ` must be `at+jwt`; `client_id`, `iat`, `jti`, `sub` required. Default false. */
  strict?: boolean;
  /** The `realm` of the challenge. Default `"api"`. */
  realm?: string;
  /** Accept `access_token` in an `application/x-www-form-urlencoded` body (RFC 6750 §2.2). Default false. */
  allowFormBody?: boolean;
  /**
   * Longest accepted access token, in characters; longer is 400 `invalid_request`, never parsed.
   * Default 16384 (16 KiB, Node's own limit for all request headers together).
   */
  maxTokenLength?: number;
  /** A missing token passes (without `req.auth`); a present bad token is still refused. Default true. */
  credentialsRequired?: boolean;
  /** The verified-token cache, or `false` for none. Default `{ max: 10000, maxTtlSeconds: 300 }`. */
  cache?: { max?: number; maxTtlSeconds?: number } | false;
  /** JWKS fetching. */
  jwks?: { timeoutMs?: number; cooldownMs?: number; cacheMaxAgeMs?: number };
  /**
   * The `fetch` that every request to the issuers goes through (discovery, JWKS, introspection):
   * a function with the WHATWG `fetch` signature, for example undici's `fetch` with a `ProxyAgent`
   * for a corporate proxy, or an instrumented one. The timeouts, the size caps and the refusal of
   * redirects still apply around it.
   *
   * Default: Node's `fetch`, through the proxy of `HTTPS_PROXY` / `HTTP_PROXY` (with `NO_PROXY`,
   * lower-case names first) when one is set.
   *
   * @example
   * ```ts
   * import { fetch, ProxyAgent } from 'undici';
   * const dispatcher = new ProxyAgent('http://proxy.corp:3128');
   * requireBearer({ issuerBaseURL, audience, fetch: (url, init) => fetch(url, { ...init, dispatcher }) });
   * ```
   */
  fetch?: FetchFunction;
  /** Accept plain-http issuer URLs for non-loopback hosts. Tokens and keys travel in the clear. Default false. */
  allowInsecureHttp?: boolean;
  logger?: Logger;
  /** Writes error answers instead of the built-in RFC 6750 JSON answer. */
  errorHandler?: BearerErrorHandler;
  /** Call `next(err)` with the typed error instead of answering. Default false. */
  passErrors?: boolean;
  /** DPoP-bound tokens (RFC 9449). Default `{ mode: 'allowed' }`. */
  dpop?: DpopOptions;
  /** Certificate-bound tokens (RFC 8705 §3): where the client certificate is read. */
  mtls?: MtlsOptions;
}

/** One custom claim validator (see `BearerOptions.validators`). */
export type ClaimValidator =
  string | false | ((value: unknown, claims: BearerPayload, header: JWSHeaderParameters) => boolean | Promise<boolean>);

/** A custom writer for refused requests; `err.headers` already holds the challenge. */
export type BearerErrorHandler = (err: AuthError, req: Request, res: Response, next: NextFunction) => void;
