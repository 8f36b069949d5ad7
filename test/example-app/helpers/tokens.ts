/**
 * Real tokens from the embedded IdP, obtained the way a client does: an authorization code flow
 * with PKCE driven over HTTP (login and consent forms submitted), then the code exchange.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CookieJar, authorizeAtIdp, type IdpAnswers } from './browserless.js';

export interface ClientCredentials {
  issuer: string;
  clientID: string;
  clientSecret: string;
  redirectUri: string;
}

export interface TokenResponse {
  access_token: string;
  id_token: string;
  refresh_token?: string;
  token_type: string;
  expires_in: number;
  scope?: string;
}

/** The issuer's OpenID Provider metadata. */
export async function metadataOf(
  issuer: string,
): Promise<Record<string, unknown> & { authorization_endpoint: string; token_endpoint: string }> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (res.status !== 200) throw new Error(`discovery answered ${res.status}`);
  return (await res.json()) as Record<string, unknown> & { authorization_endpoint: string; token_endpoint: string };
}

/** Builds an authorization request (PKCE S256) and returns it with its verifier. */
export async function authorizationRequest(
  client: ClientCredentials,
  extra: Record<string, string> = {},
): Promise<{ url: URL; verifier: string; state: string }> {
  const metadata = await metadataOf(client.issuer);
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(metadata.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: client.clientID,
    redirect_uri: client.redirectUri,
    scope: 'openid profile email offline_access',
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url, verifier, state };
}

/** POSTs to the token endpoint with client_secret_basic. */
export async function tokenRequest(
  client: ClientCredentials,
  form: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const metadata = await metadataOf(client.issuer);
  const basic = Buffer.from(`${encodeURIComponent(client.clientID)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
  const res = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Runs the whole code flow against the IdP (stopping before the client's redirect URI) and exchanges the code. */
export async function tokensFromIdp(client: ClientCredentials, answers: IdpAnswers = {}, jar = new CookieJar()): Promise<TokenResponse> {
  const { url, verifier, state } = await authorizationRequest(client);
  const back = await authorizeAtIdp(jar, url, client.redirectUri, answers);
  if (back.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code: ${back.searchParams.get('error') ?? 'unknown error'}`);
  const { status, body } = await tokenRequest(client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: client.redirectUri,
    code_verifier: verifier,
  });
  if (status !== 200) throw new Error(`token endpoint answered ${status}: ${String(body.error)}`);
  return body as unknown as TokenResponse;
}
