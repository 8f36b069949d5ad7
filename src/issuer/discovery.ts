import { ServiceUnavailableError, IssuerResponseError } from '../errors/index.js';
import { HttpError, fetchJson, type Transport } from './http.js';
import { isPlainObject } from '../config/assert.js';
import { ISSUER_DEFAULTS } from '../config/defaults.js';
import { defaultLogger, describeCause, type Logger } from '../util/logger.js';

/**
 * Authorization server metadata (OpenID Connect Discovery 1.0 §3, RFC 8414 §2). Only the members
 * this package reads are typed; the rest stay available by index.
 */
export interface IssuerMetadata {
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  jwks_uri?: string;
  userinfo_endpoint?: string;
  end_session_endpoint?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  pushed_authorization_request_endpoint?: string;
  require_pushed_authorization_requests?: boolean;
  authorization_response_iss_parameter_supported?: boolean;
  code_challenge_methods_supported?: string[];
  response_modes_supported?: string[];
  id_token_signing_alg_values_supported?: string[];
  token_endpoint_auth_methods_supported?: string[];
  token_endpoint_auth_signing_alg_values_supported?: string[];
  backchannel_logout_supported?: boolean;
  backchannel_logout_session_supported?: boolean;
  [member: string]: unknown;
}

export interface DiscoveryOptions {
  /** Per-request timeout in ms. Default 5000. */
  timeoutMs?: number;
  /** How long fetched metadata is used before it is fetched again, in ms. Default 1 hour. */
  cacheMaxAgeMs?: number;
  /** First delay after a failed discovery before the next try, in ms. Default 500. */
  retryMinDelayMs?: number;
  /** Longest delay between tries, in ms. Default 30000. */
  retryMaxDelayMs?: number;
  logger?: Logger;
  /** How the requests travel (the app's `fetch`, or a proxy). Default: Node's fetch, direct. */
  transport?: Transport | undefined;
}

/** The two well-known locations for an issuer, OpenID Connect's first (RFC 8414 §3.1, OIDC Discovery §4). */
export function discoveryUrls(issuer: string): URL[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  return [
    new URL(`${url.origin}${path}/.well-known/openid-configuration`),
    new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`),
  ];
}

/**
 * True when the metadata's `issuer` is the configured one. The comparison is exact (OIDC
 * Discovery §4.3, RFC 8414 §3.3), with one allowance: a configured issuer with no path matches a
 * document that spells the same origin with its root slash (`https://a.example` and
 * `https://a.example/` are the same URL), as Auth0 tenants do.
 */
export function issuerMatches(configured: string, documented: string): boolean {
  if (documented === configured) return true;
  const url = new URL(configured);
  return (url.pathname === '/' || url.pathname === '') && !configured.endsWith('/') && documented === `${configured}/`;
}

function validateMetadata(body: unknown, configured: string): IssuerMetadata {
  if (!isPlainObject(body) || typeof body.issuer !== 'string') {
    throw new IssuerResponseError('The issuer metadata is not a valid document.');
  }
  if (!issuerMatches(configured, body.issuer)) {
    throw new IssuerResponseError('The issuer metadata names another issuer.');
  }
  for (const key of [
    'authorization_endpoint',
    'token_endpoint',
    'jwks_uri',
    'end_session_endpoint',
    'revocation_endpoint',
    'introspection_endpoint',
    'userinfo_endpoint',
    'pushed_authorization_request_endpoint',
  ]) {
    const value = body[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !/^https?:\/\//.test(value)) {
      throw new IssuerResponseError('The issuer metadata has an invalid endpoint.');
    }
  }
  return body as IssuerMetadata;
}

/**
 * Fetches and validates an issuer's metadata once: OpenID Connect discovery first, RFC 8414 when
 * that location answers anything but a valid document. Network failures and timeouts are
 * `ServiceUnavailableError` (503); a wrong document is `IssuerResponseError` (502).
 */
export async function discover(issuer: string, timeoutMs = 5000, transport?: Transport): Promise<IssuerMetadata> {
  let lastError: unknown;
  for (const url of discoveryUrls(issuer)) {
    let res;
    try {
      res = await fetchJson(url, { timeoutMs, transport });
    } catch (err) {
      if (err instanceof HttpError && (err.kind === 'timeout' || err.kind === 'network')) {
        throw new ServiceUnavailableError('The authorization server cannot be reached.', { cause: err });
      }
      lastError = err;
      continue;
    }
    if (res.status !== 200) {
      lastError = new IssuerResponseError(`The issuer metadata answered HTTP ${res.status}.`);
      continue;
    }
    try {
      return validateMetadata(res.body, issuer);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError instanceof IssuerResponseError
    ? lastError
    : new IssuerResponseError('The issuer metadata could not be read.', { cause: lastError });
}

/**
 * Cached discovery for one issuer, shared by every request. A failure is remembered and retried
 * with exponential backoff: requests in between fail fast (503) instead of piling up on a
 * dead issuer, and the first request after the delay tries again, so the app recovers by itself.
 * Metadata older than `cacheMaxAgeMs` is refreshed; if that refresh fails, the old metadata stays.
 */
export class IssuerDiscovery {
  readonly issuer: string;
  private readonly timeoutMs: number;
  private readonly cacheMaxAgeMs: number;
  private readonly retryMinDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly logger: Logger;
  private readonly transport: Transport | undefined;
  private cached: { metadata: IssuerMetadata; at: number } | undefined;
  private inFlight: Promise<IssuerMetadata> | undefined;
  private failure: { error: unknown; retryAt: number; delay: number } | undefined;
  /** How many discovery fetches were started (for tests and metrics). */
  fetchCount = 0;

  constructor(issuer: string, options: DiscoveryOptions = {}) {
    this.issuer = issuer;
    this.timeoutMs = options.timeoutMs ?? ISSUER_DEFAULTS.httpTimeoutMs;
    this.cacheMaxAgeMs = options.cacheMaxAgeMs ?? ISSUER_DEFAULTS.discoveryCacheMaxAgeMs;
    this.retryMinDelayMs = options.retryMinDelayMs ?? ISSUER_DEFAULTS.discoveryRetryMinDelayMs;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? ISSUER_DEFAULTS.discoveryRetryMaxDelayMs;
    this.logger = options.logger ?? defaultLogger;
    this.transport = options.transport;
  }

  /** The issuer's metadata, fetched on first use and cached. */
  async metadata(): Promise<IssuerMetadata> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.cacheMaxAgeMs) return this.cached.metadata;
    if (this.cached) {
      // Stale: refresh in the background, keep answering with what we have.
      void this.load().catch(() => undefined);
      return this.cached.metadata;
    }
    if (this.failure && now < this.failure.retryAt) {
      throw this.failure.error instanceof Error
        ? this.failure.error
        : new ServiceUnavailableError('The authorization server cannot be reached.');
    }
    return this.load();
  }

  /** The metadata if it was fetched already, without any I/O. */
  peek(): IssuerMetadata | undefined {
    return this.cached?.metadata;
  }

  private load(): Promise<IssuerMetadata> {
    if (this.inFlight) return this.inFlight;
    this.fetchCount += 1;
    this.inFlight = discover(this.issuer, this.timeoutMs, this.transport)
      .then((metadata) => {
        this.cached = { metadata, at: Date.now() };
        this.failure = undefined;
        return metadata;
      })
      .catch((err: unknown) => {
        const delay = this.failure ? Math.min(this.failure.delay * 2, this.retryMaxDelayMs) : this.retryMinDelayMs;
        this.failure = { error: err, retryAt: Date.now() + delay, delay };
        this.logger.warn('issuer discovery failed; will retry', { issuer: this.issuer, retryInMs: delay, ...describeCause(err) });
        throw err;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
