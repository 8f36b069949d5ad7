/**
 * Claim types shared by both halves: the signed-in user's claims (`req.oidc.user`, OpenID Connect
 * Core §5.1 standard claims typed, any other claim reachable as `unknown`) and the values the
 * claim guards compare with.
 */

/** A claim value that `requiresClaim.equals()` and `claimEquals()` compare with `===`. */
export type ClaimValue = string | number | boolean | null;

/** The `address` claim (OpenID Connect Core §5.1.1). */
export interface AddressClaim {
  formatted?: string;
  street_address?: string;
  locality?: string;
  region?: string;
  postal_code?: string;
  country?: string;
  [member: string]: unknown;
}

/**
 * The signed-in user's claims: the ID token's (OpenID Connect Core §2) without `nonce`, `at_hash`,
 * `c_hash` and `s_hash`. The standard claims of §5.1 are typed as the specification defines them;
 * an issuer's own claims stay reachable by name, as `unknown` (narrow them before use).
 *
 * @example
 * const name: string | undefined = req.oidc.user?.name;
 * const roles = req.oidc.user?.['https://app.example/roles']; // unknown
 */
export interface UserClaims {
  /** Subject: the user's identifier at the issuer. Always present. */
  sub: string;
  iss?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  auth_time?: number;
  acr?: string;
  amr?: string[];
  azp?: string;
  /** Session ID (OpenID Connect Front-/Back-Channel Logout). */
  sid?: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  middle_name?: string;
  nickname?: string;
  preferred_username?: string;
  profile?: string;
  picture?: string;
  website?: string;
  email?: string;
  email_verified?: boolean;
  gender?: string;
  /** `YYYY`, `YYYY-MM-DD` or `0000-MM-DD` (§5.1). */
  birthdate?: string;
  zoneinfo?: string;
  locale?: string;
  phone_number?: string;
  phone_number_verified?: boolean;
  address?: AddressClaim;
  /** Seconds since the epoch (§5.1). */
  updated_at?: number;
  [claim: string]: unknown;
}

/** Whether `value` can be compared as a claim value: a string, a finite number, a boolean or null. */
export function isClaimValue(value: unknown): value is ClaimValue {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Whether the claims have `name` as an own member equal (`===`) to `expected`. */
export function hasClaimValue(claims: object, name: string, expected: ClaimValue): boolean {
  return Object.hasOwn(claims, name) && (claims as Record<string, unknown>)[name] === expected;
}

/**
 * Whether the claim `name` holds every one of `expected`: an array claim holding each value, or a
 * space-separated string claim (such as `scope`) holding each word.
 */
export function claimIncludesAll(claims: object, name: string, expected: readonly ClaimValue[]): boolean {
  const value = Object.hasOwn(claims, name) ? (claims as Record<string, unknown>)[name] : undefined;
  const held: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(' ') : [];
  return expected.every((item) => held.includes(item));
}
