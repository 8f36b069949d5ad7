import type { IssuerMetadata } from '../issuer/discovery.js';
import type { ClientAuth } from './client-auth.js';
import type { ReceivedDpopNonces } from './dpop.js';
import { toTokenSet } from './callback.js';
import { validateIdToken, type IdTokenChecks } from './id-token.js';
import type { TokenSet } from './session-data.js';
import { tokenRequest } from './token-endpoint.js';

/**
 * The refresh margin for one token set: `refreshMargin`, capped at half of the token's own
 * lifetime (`expires_in`) less half a second. Without the cap a token that lives less than the
 * margin (an IdP issuing 2-30 s access tokens) is due at once and every call refreshes. The half
 * second covers `expires_at` being whole seconds rounded down: a 2-second token issued late in
 * a second is then still used for at least half a second before it is due.
 */
export function effectiveRefreshMargin(tokens: Pick<TokenSet, 'expires_in'>, marginSeconds: number): number {
  if (tokens.expires_in === undefined) return marginSeconds;
  return Math.min(marginSeconds, Math.max(0, (tokens.expires_in - 1) / 2));
}

/**
 * True when the access token expired or expires within its margin (`effectiveRefreshMargin`);
 * unknown expiry: false.
 */
export function needsRefresh(tokens: Pick<TokenSet, 'expires_at' | 'expires_in'>, marginSeconds: number, now = Date.now()): boolean {
  if (tokens.expires_at === undefined) return false;
  return (tokens.expires_at - effectiveRefreshMargin(tokens, marginSeconds)) * 1000 <= now;
}

/** What a refresh grant needs (RFC 6749 §6). */
export interface RefreshGrantInput {
  metadata: IssuerMetadata;
  client: ClientAuth;
  current: TokenSet & { refresh_token: string };
  /** The session's `sub`: a new ID token must name the same user (OIDC Core §12.2). */
  sub: string;
  timeoutMs: number;
  idToken: Omit<IdTokenChecks, 'nonce' | 'accessToken' | 'maxAge' | 'expectedSub'>;
  /** `tokenEndpointParams`. */
  params?: Record<string, string>;
  /** The DPoP nonces seen so far (used when the token set has a DPoP key). */
  dpopNonces?: ReceivedDpopNonces;
}

/**
 * Refreshes the token set (RFC 6749 §6) with the same client authentication as the code
 * exchange. With rotation (RFC 9700 §4.14.2) the new refresh token replaces the old one, which is
 * never sent again; without, the old one is kept. A DPoP-bound session proves possession of
 * its key again (RFC 9449 §5). A new ID token is validated like the first
 * (OIDC Core §12.2: same `iss`, `sub`, `aud`; no nonce required).
 *
 * @throws InvalidGrantError (400 `invalid_grant`) when the issuer refuses the refresh token.
 */
export async function refreshGrant(input: RefreshGrantInput): Promise<TokenSet> {
  const response = await tokenRequest(
    input.metadata,
    input.client,
    { grant_type: 'refresh_token', refresh_token: input.current.refresh_token },
    input.timeoutMs,
    {
      ...(input.params ? { params: input.params } : {}),
      ...(input.current.dpop_key && input.dpopNonces ? { dpop: { key: input.current.dpop_key, nonces: input.dpopNonces } } : {}),
    },
  );
  let idToken = input.current.id_token;
  if (response.id_token !== undefined) {
    await validateIdToken(response.id_token, { ...input.idToken, expectedSub: input.sub, accessToken: response.access_token });
    idToken = response.id_token;
  }
  const next = toTokenSet({ ...response, refresh_token: response.refresh_token ?? input.current.refresh_token }, idToken);
  if (input.current.dpop_key && response.token_type === 'DPoP') next.dpop_key = input.current.dpop_key;
  return next;
}
