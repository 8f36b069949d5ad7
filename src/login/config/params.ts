import { assertObject, optionError, optionalNumber, optionalString, optionalStringList } from '../../config/assert.js';
import type { AuthorizationParams } from '../options.js';

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
  if (scope !== undefined && !scope.split(' ').includes('openid'))
    throw optionError(`${path}.scope`, 'a space-separated list that contains "openid"');
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

/** `tokenEndpointParams`: string values, none of the parameters the grant or client authentication own. */
export function tokenEndpointParamsConfig(value: unknown): Record<string, string> {
  const input: unknown = value ?? {};
  assertObject('tokenEndpointParams', input);
  const params: Record<string, string> = {};
  for (const [name, param] of Object.entries(input)) {
    if (param === undefined) continue;
    if (RESERVED_TOKEN_PARAMS.has(name))
      throw optionError(`tokenEndpointParams.${name}`, 'left unset', 'the grant and client authentication set it');
    if (typeof param !== 'string') throw optionError(`tokenEndpointParams.${name}`, 'a string');
    params[name] = param;
  }
  return params;
}
