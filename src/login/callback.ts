import type { JWTPayload } from 'jose';
import { AuthorizationResponseError, InvalidRequestError, IssuerResponseError, type AuthErrorCode } from '../errors/index.js';
import type { IssuerMetadata } from '../issuer/discovery.js';
import type { ClientAuth } from './client-auth.js';
import type { ReceivedDpopNonces } from './dpop.js';
import { validateIdToken, type IdTokenChecks } from './id-token.js';
import type { PendingLogin, TokenSet } from './session-data.js';
import { tokenRequest } from './token-endpoint.js';

/** The authorization response parameters we read (RFC 6749 §4.1.2, RFC 9207 §2). */
export interface AuthorizationResponse {
  state?: unknown;
  code?: unknown;
  iss?: unknown;
  error?: unknown;
  error_description?: unknown;
}

/** Error codes of RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 passed on as such; others read `access_denied`. */
const PASSED_ON: ReadonlySet<string> = new Set([
  'access_denied',
  'login_required',
  'invalid_request',
  'server_error',
  'temporarily_unavailable',
]);

/** A single parameter value: repeated parameters are refused (RFC 6749 §3.1). */
export function singleParam(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The `state` of a response, or an `InvalidRequestError` when there is none or it is repeated. */
export function responseState(params: AuthorizationResponse): string {
  const state = singleParam(params.state);
  if (state === undefined || state.length > 512) throw new InvalidRequestError('The sign-in response has no valid state.');
  return state;
}

/**
 * RFC 9207 §2.4: the `iss` of an authorization response, when present, must be the issuer; it
 * must be present when the issuer says `authorization_response_iss_parameter_supported`. Applies
 * to error responses too (a mix-up attacker could otherwise answer for the issuer).
 *
 * @throws InvalidRequestError (400) when `iss` is wrong or missing.
 */
export function validateResponseIssuer(params: AuthorizationResponse, metadata: IssuerMetadata): void {
  const iss = params.iss;
  if (iss !== undefined) {
    if (singleParam(iss) !== metadata.issuer) throw new InvalidRequestError('The sign-in response comes from another issuer (iss).');
  } else if (metadata.authorization_response_iss_parameter_supported === true) {
    throw new InvalidRequestError('The sign-in response has no iss parameter.');
  }
}

/**
 * The error codes of OIDC Core §3.1.2.6 with which an issuer answers `prompt=none` when the user
 * would have to interact (sign in, consent, pick an account): the quiet end of a silent sign-in.
 */
const INTERACTION_NEEDED: ReadonlySet<string> = new Set([
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
]);

/**
 * True when an authorization response is an error saying the user must interact with the issuer
 * (OIDC Core §3.1.2.6: `login_required`, `consent_required`, `interaction_required`,
 * `account_selection_required`). Does not check `iss`: call `validateResponseIssuer` as well.
 */
export function interactionRequired(params: AuthorizationResponse): boolean {
  const error = singleParam(params.error);
  return error !== undefined && params.code === undefined && INTERACTION_NEEDED.has(error);
}

/**
 * Checks an authorization response once its `state` matched a pending sign-in:
 * - RFC 9207 §2.4: `iss`, when present, must be the issuer; it must be present when the issuer
 *   says `authorization_response_iss_parameter_supported` (a mix-up attack defence);
 * - RFC 6749 §4.1.2.1: an `error` response becomes a 400 page with its code (`access_denied` to
 *   a sign-in that was not `silent` is marked `cancelled`: the user declined at the issuer);
 * - a `code` must be present.
 *
 * Returns the authorization code.
 */
export function validateAuthorizationResponse(
  params: AuthorizationResponse,
  metadata: IssuerMetadata,
  options: { silent?: boolean } = {},
): string {
  validateResponseIssuer(params, metadata);
  if (params.error !== undefined) {
    const raw = singleParam(params.error) ?? 'invalid_request';
    const shown = raw.replace(/[^\w.-]/g, '').slice(0, 64) || 'error';
    const code = (PASSED_ON.has(raw) ? raw : 'access_denied') as AuthErrorCode;
    const cancelled = raw === 'access_denied' && options.silent !== true;
    throw new AuthorizationResponseError(code, `The authorization server did not sign you in (${shown}).`, { cancelled });
  }
  const code = singleParam(params.code);
  if (code === undefined || code.length > 4096) throw new InvalidRequestError('The sign-in response has no authorization code.');
  return code;
}

/** What the code exchange needs (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export interface CodeExchangeInput {
  metadata: IssuerMetadata;
  client: ClientAuth;
  redirectUri: string;
  code: string;
  pending: PendingLogin;
  timeoutMs: number;
  idToken: Omit<IdTokenChecks, 'nonce' | 'accessToken' | 'maxAge' | 'expectedSub'>;
  /** `tokenEndpointParams`, and the DPoP nonces when the pending sign-in has a DPoP key. */
  params?: Record<string, string>;
  dpopNonces?: ReceivedDpopNonces;
}

/**
 * Exchanges the code (RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636 §4.5) and validates
 * the ID token against the pending sign-in's nonce (OIDC Core §3.1.3.7). Returns the token set
 * (with the DPoP key when the issuer bound the tokens to it, RFC 9449 §5) and the ID token's claims.
 */
export async function codeExchange(input: CodeExchangeInput): Promise<{ tokens: TokenSet; claims: JWTPayload & { sub: string } }> {
  const response = await tokenRequest(
    input.metadata,
    input.client,
    { grant_type: 'authorization_code', code: input.code, redirect_uri: input.redirectUri, code_verifier: input.pending.codeVerifier },
    input.timeoutMs,
    {
      ...(input.params ? { params: input.params } : {}),
      ...(input.pending.dpopKey && input.dpopNonces ? { dpop: { key: input.pending.dpopKey, nonces: input.dpopNonces } } : {}),
    },
  );
  if (response.id_token === undefined) throw new IssuerResponseError('The token response has no ID token.');
  const claims = await validateIdToken(response.id_token, {
    ...input.idToken,
    nonce: input.pending.nonce,
    accessToken: response.access_token,
    ...(input.pending.maxAge !== undefined ? { maxAge: input.pending.maxAge } : {}),
  });
  const tokens = toTokenSet(response, response.id_token);
  if (input.pending.dpopKey && response.token_type === 'DPoP') tokens.dpop_key = input.pending.dpopKey;
  return { tokens, claims };
}

/** The token set to seal, with `expires_in` turned into an absolute time. */
export function toTokenSet(
  response: { access_token: string; token_type: string; refresh_token?: string; expires_in?: number; scope?: string },
  idToken: string,
  now = Date.now(),
): TokenSet {
  return {
    access_token: response.access_token,
    token_type: response.token_type,
    id_token: idToken,
    ...(response.refresh_token !== undefined ? { refresh_token: response.refresh_token } : {}),
    ...(response.expires_in !== undefined
      ? { expires_at: Math.floor(now / 1000) + response.expires_in, expires_in: response.expires_in }
      : {}),
    ...(response.scope !== undefined ? { scope: response.scope } : {}),
  };
}
