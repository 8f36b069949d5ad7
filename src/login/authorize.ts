import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { IssuerResponseError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { codeChallengeS256, generateCodeVerifier } from '../crypto/pkce.js';
import { randomToken } from '../crypto/random.js';
import type { ClientAuth } from './client-auth.js';
import { pushedAuthorizationRequest } from './par.js';
import { signRequestObject } from './request-object.js';
import type { PendingLogin } from './session-data.js';

/** The parameters of one sign-in (OIDC Core §3.1.2.1), checked. */
export interface AuthorizationRequestInput {
  clientID: string;
  redirectUri: string;
  scope: string;
  responseMode: 'query' | 'form_post';
  /** Other parameters (resource, audience, prompt, ...), already checked. */
  extra: Record<string, string>;
  maxAge?: number;
  returnTo: string;
  /** Application state to carry through the sign-in (sealed with the pending sign-in). */
  appState?: Record<string, unknown>;
  /** DPoP (RFC 9449 §10): the key made for this sign-in and its thumbprint, sent as `dpop_jkt`. */
  dpop?: { key: NonNullable<PendingLogin['dpopKey']>; jkt: string };
  /**
   * A silent sign-in: `prompt=none` (OIDC Core §3.1.2.1) replaces any `prompt` of `extra`, and
   * the pending sign-in is marked so the callback can end an interaction-required answer quietly.
   */
  silent?: boolean;
}

/**
 * Starts an authorization code flow (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) with PKCE S256
 * (RFC 7636 §4.3): fresh `state`, `nonce` and code verifier, each 256 random bits.
 *
 * Returns the authorization parameters (in order; `resource` may repeat), the plain front-channel
 * URL carrying them, and the pending sign-in the callback will need (to be sealed into the session
 * before the redirect is sent). `authorizationRedirect` turns the parameters into a pushed or
 * signed request when configured.
 *
 * With `silent`, the request carries `prompt=none` (OIDC Core §3.1.2.1): the issuer must answer
 * without showing the user anything, with a code or with an error such as `login_required`.
 *
 * Does not check that the issuer supports S256: PKCE is always sent (RFC 9700 §2.1.1).
 */
export function authorizationRequest(
  metadata: IssuerMetadata,
  input: AuthorizationRequestInput,
): { url: URL; params: Array<[string, string]>; pending: PendingLogin } {
  if (!metadata.authorization_endpoint) {
    throw new IssuerResponseError('The authorization server has no authorization endpoint.');
  }
  const pending: PendingLogin = {
    state: randomToken(),
    nonce: randomToken(),
    codeVerifier: generateCodeVerifier(),
    returnTo: input.returnTo,
    ...(input.maxAge !== undefined ? { maxAge: input.maxAge } : {}),
    ...(input.appState !== undefined ? { appState: input.appState } : {}),
    ...(input.dpop !== undefined ? { dpopKey: input.dpop.key } : {}),
    ...(input.silent === true ? { silent: true as const } : {}),
  };
  const params = new Map<string, string[]>();
  const set = (name: string, value: string) => params.set(name, [value]);
  for (const [name, value] of Object.entries(input.extra)) {
    if (name === 'resource') params.set('resource', JSON.parse(value) as string[]);
    else set(name, value);
  }
  if (input.silent === true) set('prompt', 'none');
  set('response_type', 'code');
  set('client_id', input.clientID);
  set('redirect_uri', input.redirectUri);
  set('scope', input.scope);
  set('state', pending.state);
  set('nonce', pending.nonce);
  set('code_challenge', codeChallengeS256(pending.codeVerifier));
  set('code_challenge_method', 'S256');
  if (input.maxAge !== undefined) set('max_age', String(input.maxAge));
  if (input.responseMode === 'form_post') set('response_mode', 'form_post');
  if (input.dpop !== undefined) set('dpop_jkt', input.dpop.jkt);
  const list: Array<[string, string]> = [];
  for (const [name, values] of params) for (const value of values) list.push([name, value]);
  const url = new URL(metadata.authorization_endpoint);
  for (const [name, value] of list) url.searchParams.append(name, value);
  return { url, params: list, pending };
}

/** How `authorizationRedirect` sends the parameters: pushed (RFC 9126), signed (RFC 9101), or plain. */
export interface AuthorizationRedirectOptions {
  clientID: string;
  client: ClientAuth;
  /** Push the parameters first (RFC 9126); also when the issuer requires it. */
  pushed: boolean;
  /** Sign the parameters into a request object (RFC 9101). */
  requestObject?: { signingKey: JWK | KeyObject; alg: string; lifetimeSeconds: number };
  timeoutMs: number;
}

/**
 * The URL to send the browser to for the parameters of `authorizationRequest`:
 * - PAR (RFC 9126 §4), when `pushed` or the issuer's metadata says
 *   `require_pushed_authorization_requests`: the parameters (or the request object) are pushed and
 *   the URL carries only `client_id` and `request_uri`;
 * - JAR (RFC 9101 §5.1) without PAR: `client_id` and `request` (the signed request object);
 * - otherwise the plain URL, every parameter in the query.
 *
 * @throws AuthorizationResponseError (400) when the issuer refuses the pushed request;
 *   IssuerResponseError (502) for a broken PAR endpoint or none when PAR is needed.
 */
export async function authorizationRedirect(
  metadata: IssuerMetadata,
  request: { url: URL; params: Array<[string, string]> },
  options: AuthorizationRedirectOptions,
): Promise<URL> {
  const pushed = options.pushed || metadata.require_pushed_authorization_requests === true;
  if (!pushed && !options.requestObject) return request.url;
  const endpoint = new URL(metadata.authorization_endpoint!);
  const front = (name: 'request' | 'request_uri', value: string): URL => {
    endpoint.searchParams.set('client_id', options.clientID);
    endpoint.searchParams.set(name, value);
    return endpoint;
  };
  let requestObject: string | undefined;
  if (options.requestObject) {
    requestObject = await signRequestObject(request.params, {
      clientID: options.clientID,
      issuer: metadata.issuer,
      key: options.requestObject.signingKey,
      alg: options.requestObject.alg,
      lifetimeSeconds: options.requestObject.lifetimeSeconds,
    });
  }
  if (!pushed) return front('request', requestObject!);
  let form: Record<string, string>;
  if (requestObject !== undefined) {
    form = { request: requestObject };
  } else {
    form = {};
    for (const [name, value] of request.params) {
      if (name === 'client_id') continue;
      if (form[name] !== undefined) {
        throw new TypeError('Several "resource" values need "requestObject" when pushed authorization requests are used');
      }
      form[name] = value;
    }
  }
  const { requestUri } = await pushedAuthorizationRequest(metadata, options.client, form, options.timeoutMs);
  return front('request_uri', requestUri);
}
