import { InvalidTokenError, IssuerResponseError, ServiceUnavailableError } from '../errors/index.js';
import { HttpError, fetchJson, type Transport } from '../issuer/http.js';
import { applyClientSecret } from '../issuer/client-secret.js';
import { isPlainObject } from '../config/assert.js';
import { BEARER_DEFAULTS } from '../config/defaults.js';
import { scopesOf } from './scopes.js';
import type { VerifiedTokenCache } from './cache.js';
import type { BearerAuth, BearerPayload } from './types.js';

/** Everything one introspection needs, resolved (endpoint known). */
export type IntrospectionConfig = IntrospectionSettings &
  (
    | {
        /** This resource server's client id at the authorization server. */
        clientID: string;
      }
    | {
        /** @deprecated The older spelling of `clientID`. */
        clientId: string;
      }
  );

/** Everything of `IntrospectionConfig` but the client id. */
export interface IntrospectionSettings {
  endpoint: string;
  clientSecret: string;
  authMethod: 'client_secret_basic' | 'client_secret_post';
  timeoutMs: number;
  /** How the request travels (the `fetch` option, or the environment's proxy). */
  transport?: Transport | undefined;
  /** The issuer this resource server trusts; a differing `iss` in the answer is refused. */
  issuer: string;
  /** Any one of these must be in `aud`, when the answer has an `aud`. */
  audience: readonly string[];
  clockTolerance: number;
  now?: () => number;
}

function audienceMatches(aud: unknown, audience: readonly string[]): boolean {
  if (typeof aud === 'string') return audience.includes(aud);
  if (Array.isArray(aud)) return aud.some((a) => typeof a === 'string' && audience.includes(a));
  return false;
}

/**
 * Asks the authorization server about an opaque access token (RFC 7662 §2.1): POST `token` and
 * `token_type_hint=access_token`, authenticated as the configured client, with a bounded
 * timeout. Accepts the token only when the answer (§2.2) says `active: true`, its `exp` and
 * `nbf` (when present) hold, its `aud` (when present) names the configured audience, its `iss`
 * (when present) is the configured issuer, its `token_type` (when present) is `Bearer`, and it
 * is not sender-constrained (`cnf`).
 *
 * Does not detect a refresh token presented as an access token when the server's answer lacks
 * `token_type`.
 *
 * @throws InvalidTokenError (401) for an inactive or wrongly addressed token;
 *   ServiceUnavailableError (503) when the endpoint does not answer in time or answers 5xx;
 *   IssuerResponseError (502) for any other unusable answer (e.g. 401 for wrong client credentials).
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export async function introspectAccessToken(token: string, config: IntrospectionConfig): Promise<BearerAuth> {
  const form: Record<string, string> = { token, token_type_hint: 'access_token' };
  const headers: Record<string, string> = {};
  const clientID = 'clientID' in config ? config.clientID : config.clientId;
  applyClientSecret(config.authMethod, clientID, config.clientSecret, form, headers);
  let res;
  try {
    res = await fetchJson(config.endpoint, {
      method: 'POST',
      form,
      headers,
      timeoutMs: config.timeoutMs,
      maxBytes: BEARER_DEFAULTS.introspectionResponseMaxBytes,
      transport: config.transport,
    });
  } catch (err) {
    if (err instanceof HttpError && (err.kind === 'timeout' || err.kind === 'network')) {
      throw new ServiceUnavailableError('The token introspection endpoint cannot be reached.', { cause: err });
    }
    throw new IssuerResponseError('The token introspection endpoint gave an invalid answer.', { cause: err });
  }
  if (res.status >= 500) {
    throw new ServiceUnavailableError('The token introspection endpoint is unavailable.', { cause: new Error(`HTTP ${res.status}`) });
  }
  if (res.status !== 200 || !isPlainObject(res.body) || typeof res.body.active !== 'boolean') {
    throw new IssuerResponseError('The token introspection endpoint gave an invalid answer.', { cause: new Error(`HTTP ${res.status}`) });
  }
  const answer = res.body;
  if (answer.active !== true) throw new InvalidTokenError('token is not active');
  const nowS = (config.now ?? Date.now)() / 1000;
  const { exp, nbf, aud, iss, token_type: tokenType, cnf } = answer;
  if (exp !== undefined && (typeof exp !== 'number' || exp <= nowS - config.clockTolerance)) {
    throw new InvalidTokenError('token expired');
  }
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > nowS + config.clockTolerance)) {
    throw new InvalidTokenError('token not yet valid');
  }
  if (aud !== undefined && !audienceMatches(aud, config.audience)) throw new InvalidTokenError('unexpected audience');
  if (iss !== undefined && iss !== config.issuer) throw new InvalidTokenError('unexpected issuer');
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw new InvalidTokenError('token is not a Bearer token');
  }
  if (cnf !== undefined) throw new InvalidTokenError('token is sender-constrained');
  const payload = { ...answer } as BearerPayload;
  delete (payload as Record<string, unknown>).active;
  return { payload, header: undefined, token, scopes: scopesOf(payload), issuer: config.issuer, kind: 'introspection' };
}

/** An opaque token introspected, then cached no longer than `cacheMaxTtlSeconds` nor its `exp`. */
export async function introspectAndRemember(
  config: IntrospectionConfig & { cacheMaxTtlSeconds: number },
  token: string,
  cache: VerifiedTokenCache | undefined,
  now: number,
  key: string | undefined,
): Promise<BearerAuth> {
  const auth = await introspectAccessToken(token, config);
  const { exp } = auth.payload;
  const limit = now + config.cacheMaxTtlSeconds * 1000;
  cache?.set(auth, typeof exp === 'number' ? Math.min(exp * 1000, limit) : limit, now, key);
  return auth;
}
