/**
 * The example app's configuration: the ONLY place in example-app/ that reads environment
 * variables. Every other module takes the resolved {@link AppConfig}. Names and defaults are the
 * ones docs/CONTRACT.md fixes.
 */
import { randomBytes } from 'node:crypto';

/** The resolved configuration of the example app. */
export interface AppConfig {
  /** `PORT` (default 3000). `0` picks a free port; `BASE_URL` then follows the port picked. */
  port: number;
  /** `HOST`: the address to bind (default `127.0.0.1`). */
  host: string;
  /** `BASE_URL` (default `http://localhost:$PORT`), without a trailing slash. */
  baseURL: string;
  /** `ISSUER_BASE_URL`; `undefined` starts the embedded development IdP. */
  issuerBaseURL: string | undefined;
  /** `CLIENT_ID` (default `example-app`). */
  clientID: string;
  /** `CLIENT_SECRET`; with the embedded IdP a random per-process secret when unset. */
  clientSecret: string;
  /** `SCOPE` (default `openid profile email offline_access`). */
  scope: string;
  /** `AUDIENCE` (default `$BASE_URL/api`): the `aud` that `/api/*` demands. */
  audience: string;
  /** `SESSION_SECRET` (or `SECRET`); a random per-process secret in development when unset. */
  sessionSecret: string;
  /** `REDIS_URL`; `undefined` (and no cluster) means the in-memory session store (development only). */
  redisURL: string | undefined;
  /**
   * `REDIS_CLUSTER_NODES`: a Redis Cluster instead of `REDIS_URL`, as a comma-separated list of
   * `redis://` or `rediss://` URLs of some of its nodes (the rest are discovered). Credentials and
   * TLS come from the first URL.
   */
  redisClusterNodes: string[] | undefined;
  /** `NODE_ENV === 'production'`. */
  production: boolean;
  /** `IDP_PORT`: port of the embedded IdP (default 0: a free port). */
  idpPort: number;
  /**
   * `DEV_IDP_REDIRECT_URIS`: more redirect URIs (comma-separated http(s) URLs) the embedded IdP
   * accepts for this client, so another app of yours can sign in there with the same `CLIENT_ID`
   * and `CLIENT_SECRET`; each URI's origin is also a post-logout redirect URI. Default none.
   */
  devIdpRedirectUris: string[];
  /**
   * `ID_TOKEN_SIGNING_ALGS`: the ID token algorithms accepted (comma-separated, e.g. `HS256` for an
   * issuer that signs with the client secret); `undefined`: the issuer's asymmetric ones.
   */
  idTokenSigningAlgs: string[] | undefined;
  /**
   * `AUDIENCE_PARAMS`: the authorization parameters that carry `AUDIENCE` at login, among
   * `resource` (RFC 8707) and `audience` (Auth0); default both, `none` for neither (Entra ID
   * refuses `resource` on its v2.0 endpoint).
   */
  audienceParams: AudienceParam[];
  /** Start-up warnings (memory store, generated secret, ...), printed by the server. */
  warnings: string[];
}

/** An authorization parameter that can carry the API audience at login. */
export type AudienceParam = 'resource' | 'audience';

/** A configuration the app refuses to start with; the message is one line naming the cause. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Default of `CLIENT_ID`. */
export const DEFAULT_CLIENT_ID = 'example-app';
/** Default of `SCOPE`. */
export const DEFAULT_SCOPE = 'openid profile email offline_access';
/** Default of `PORT`. */
export const DEFAULT_PORT = 3000;
/** Default of `HOST`. */
export const DEFAULT_HOST = '127.0.0.1';

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function readPort(env: Env, name: string, fallback: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be a port number between 0 and 65535, got "${raw}"`);
  }
  return port;
}

function readURL(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function readRedisURL(env: Env): string | undefined {
  const raw = read(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  return raw;
}

/** The URL, or undefined when `value` is not one. */
function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function readRedisClusterNodes(env: Env): string[] | undefined {
  const raw = read(env, 'REDIS_CLUSTER_NODES');
  if (raw === undefined) return undefined;
  const nodes = raw
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  for (const node of nodes) {
    const url = parseUrl(node);
    if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
      throw new ConfigError('REDIS_CLUSTER_NODES must be a comma-separated list of redis:// or rediss:// URLs');
    }
  }
  if (nodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES must be a comma-separated list of redis:// or rediss:// URLs');
  return nodes;
}

/** A comma-separated list (`undefined` when unset or empty). */
function readList(env: Env, name: string): string[] | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length > 0 ? items : undefined;
}

function readDevIdpRedirectUris(env: Env): string[] {
  const uris = readList(env, 'DEV_IDP_REDIRECT_URIS') ?? [];
  for (const uri of uris) {
    const url = parseUrl(uri);
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hash !== '') {
      throw new ConfigError(
        'DEV_IDP_REDIRECT_URIS must be a comma-separated list of http(s) URLs without a fragment, e.g. http://localhost:4000/callback',
      );
    }
  }
  return uris;
}

function readIdTokenAlgs(env: Env): string[] | undefined {
  const algs = readList(env, 'ID_TOKEN_SIGNING_ALGS');
  for (const alg of algs ?? []) {
    if (!/^(RS|PS|ES|HS)(256|384|512)$|^EdDSA$|^ES256K$/.test(alg)) {
      throw new ConfigError(
        `ID_TOKEN_SIGNING_ALGS must list JWS algorithms such as RS256 or HS256 (never none), got "${alg.slice(0, 20)}"`,
      );
    }
  }
  return algs;
}

function readAudienceParams(env: Env): AudienceParam[] {
  const items = readList(env, 'AUDIENCE_PARAMS');
  if (items === undefined) return ['resource', 'audience'];
  if (items.length === 1 && items[0] === 'none') return [];
  for (const item of items) {
    if (item !== 'resource' && item !== 'audience') {
      throw new ConfigError(`AUDIENCE_PARAMS must be "resource", "audience", both (comma-separated) or "none", got "${item.slice(0, 20)}"`);
    }
  }
  return [...new Set(items as AudienceParam[])];
}

/**
 * The base URL for a port: `BASE_URL` when set, else `http://localhost:<port>`. The server calls
 * this again once it knows the port when `PORT=0`.
 */
export function baseURLFor(env: Env, port: number): string {
  return readURL(env, 'BASE_URL') ?? `http://localhost:${port}`;
}

/**
 * Reads the configuration from the environment.
 *
 * With `NODE_ENV=production`, `REDIS_URL` (or `REDIS_CLUSTER_NODES`) and `SESSION_SECRET` (or
 * `SECRET`) are required and a {@link ConfigError} names the missing ones. In development a missing secret becomes a random
 * per-process one and a missing `REDIS_URL` the in-memory store, each with a warning.
 *
 * @param env the environment (default `process.env`)
 * @param port the port actually bound, when `PORT=0` was resolved by listening first
 * @throws ConfigError for a missing or malformed setting
 * @example
 * ```ts
 * const config = loadConfig({ PORT: '3000' });
 * ```
 */
export function loadConfig(env: Env = process.env, port?: number): AppConfig {
  const production = read(env, 'NODE_ENV') === 'production';
  const redisURL = readRedisURL(env);
  const redisClusterNodes = readRedisClusterNodes(env);
  if (redisURL !== undefined && redisClusterNodes !== undefined) {
    throw new ConfigError('set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  }
  const configuredSecret = read(env, 'SESSION_SECRET') ?? read(env, 'SECRET');
  if (production) {
    const missing: string[] = [];
    if (redisURL === undefined && redisClusterNodes === undefined) missing.push('REDIS_URL');
    if (configuredSecret === undefined) missing.push('SESSION_SECRET (or SECRET)');
    if (missing.length > 0) {
      throw new ConfigError(
        `refusing to start: NODE_ENV=production requires ${missing.join(' and ')} ` +
          `(sessions must survive restarts and be signed with a stable secret; REDIS_CLUSTER_NODES may stand for REDIS_URL)`,
      );
    }
  }

  const configuredPort = readPort(env, 'PORT', DEFAULT_PORT);
  const actualPort = port ?? configuredPort;
  const host = read(env, 'HOST') ?? DEFAULT_HOST;
  const baseURL = baseURLFor(env, actualPort);
  const issuerBaseURL = readURL(env, 'ISSUER_BASE_URL');
  const clientID = read(env, 'CLIENT_ID') ?? DEFAULT_CLIENT_ID;
  const configuredClientSecret = read(env, 'CLIENT_SECRET');
  if (issuerBaseURL !== undefined && configuredClientSecret === undefined) {
    throw new ConfigError('CLIENT_SECRET is required with ISSUER_BASE_URL (the app is a confidential client)');
  }

  const warnings: string[] = [];
  if (redisURL === undefined && redisClusterNodes === undefined) {
    warnings.push('REDIS_URL is not set: sessions live in memory (lost on restart, one process only). Do not use in production.');
  }
  if (configuredSecret === undefined) {
    warnings.push('SESSION_SECRET is not set: using a random secret for this process; sessions end on restart.');
  }
  if (production && issuerBaseURL === undefined) {
    warnings.push('ISSUER_BASE_URL is not set: the embedded development IdP is running, with a demo user. Do not use in production.');
  }

  return {
    port: actualPort,
    host,
    baseURL,
    issuerBaseURL,
    clientID,
    clientSecret: configuredClientSecret ?? randomBytes(32).toString('base64url'),
    scope: read(env, 'SCOPE') ?? DEFAULT_SCOPE,
    audience: read(env, 'AUDIENCE') ?? `${baseURL}/api`,
    sessionSecret: configuredSecret ?? randomBytes(32).toString('base64url'),
    redisURL,
    redisClusterNodes,
    production,
    idpPort: readPort(env, 'IDP_PORT', 0),
    devIdpRedirectUris: readDevIdpRedirectUris(env),
    idTokenSigningAlgs: readIdTokenAlgs(env),
    audienceParams: readAudienceParams(env),
    warnings,
  };
}
