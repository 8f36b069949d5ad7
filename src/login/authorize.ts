import { IssuerResponseError } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import { codeChallengeS256, generateCodeVerifier } from '../crypto/pkce.js';
import { randomToken } from '../crypto/random.js';
import type { PendingLogin } from './session-data.js';

export interface AuthorizationRequestInput {
  clientID: string;
  redirectUri: string;
  scope: string;
  responseMode: 'query' | 'form_post';
  /** Other parameters (resource, audience, prompt, ...), already checked at start-up. */
  extra: Record<string, string>;
  maxAge?: number;
  returnTo: string;
}

/**
 * Starts an authorization code flow (RFC 6749 §4.1.1, OIDC Core §3.1.2.1) with PKCE S256
 * (RFC 7636 §4.3): fresh `state`, `nonce` and code verifier, each 256 random bits.
 *
 * Returns the URL to redirect to, and the pending sign-in the callback will need (to be sealed
 * into the session before the redirect is sent).
 *
 * Does not check that the issuer supports S256: PKCE is always sent (RFC 9700 §2.1.1).
 */
export function authorizationRequest(metadata: IssuerMetadata, input: AuthorizationRequestInput): { url: URL; pending: PendingLogin } {
  if (!metadata.authorization_endpoint) {
    throw new IssuerResponseError('The authorization server has no authorization endpoint.');
  }
  const pending: PendingLogin = {
    state: randomToken(),
    nonce: randomToken(),
    codeVerifier: generateCodeVerifier(),
    returnTo: input.returnTo,
    ...(input.maxAge !== undefined ? { maxAge: input.maxAge } : {}),
  };
  const url = new URL(metadata.authorization_endpoint);
  const set = (name: string, value: string) => url.searchParams.set(name, value);
  for (const [name, value] of Object.entries(input.extra)) {
    if (name === 'resource') {
      url.searchParams.delete('resource');
      for (const resource of JSON.parse(value) as string[]) url.searchParams.append('resource', resource);
    } else {
      set(name, value);
    }
  }
  set('response_type', 'code');
  set('client_id', input.clientID);
  set('redirect_uri', input.redirectUri);
  set('scope', input.scope);
  set('state', pending.state);
  set('nonce', pending.nonce);
  set('code_challenge', codeChallengeS256(pending.codeVerifier));
  set('code_challenge_method', 'S256');
  if (input.responseMode === 'form_post') set('response_mode', 'form_post');
  return { url, pending };
}
