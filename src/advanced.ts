/**
 * The building blocks under `auth()` and `requireBearer()`, for apps that compose their own: a
 * verifier without Express, the DPoP (RFC 9449) and mTLS (RFC 8705) steps, the verified-token
 * cache, issuer discovery and keys, the `WWW-Authenticate` builder. What an app mounts is in
 * {@link express-oidc-guard | the main entry}.
 *
 * ```ts
 * import { createBearerVerifier, buildChallenge } from 'express-oidc-guard/advanced';
 * ```
 *
 * @module express-oidc-guard/advanced
 */
// Re-exports only.
import './augment.js';

// Sign-in
export { safeReturnTo, LOGIN_DEFAULTS } from './login/index.js';
export type { PendingLoginRecord, SignedInRecord } from './login/session-data.js';
export type { DpopPrivateJwk } from './login/dpop.js';

// API guard: verification without Express
export {
  createBearerVerifier,
  verifyAccessToken,
  introspectAccessToken,
  extractBearerToken,
  extractAccessToken,
  scopesOf,
} from './bearer/index.js';
export type {
  BearerRequestParts,
  BearerVerifier,
  ExtractOptions,
  IntrospectionConfig,
  JwtVerifyConfig,
  PresentedToken,
  ResolvedBearerConfig,
} from './bearer/index.js';
export type { ResolvedDpopConfig, ResolvedIssuer, ResolvedMtlsConfig } from './bearer/config.js';
export type { IntrospectionSettings } from './bearer/introspect.js';
export type { ResultConstructor } from './bearer/cache.js';
export { VerifiedTokenCache, type VerifiedTokenCacheOptions } from './bearer/index.js';

// API guard: sender-constrained tokens (DPoP, RFC 9449; mTLS, RFC 8705)
export { verifyDpopProof, checkDpopBinding, recordDpopProof, dpopProofOf, dpopAccessTokenHash, normaliseHtu } from './bearer/dpop.js';
export { DpopNonces, MemoryDpopReplayStore, redisDpopReplayStore } from './bearer/dpop.js';
export type { DpopProofExpectations, DpopReplayStore, VerifiedDpopProof } from './bearer/dpop.js';
export { certificateThumbprint, certificateFromHeader, checkCertificateBinding } from './bearer/mtls.js';
export { confirmationOf, type Confirmation } from './bearer/confirmation.js';

// Issuer metadata and keys, shared by both halves
export { IssuerDiscovery, discover, type IssuerMetadata, type DiscoveryOptions } from './issuer/discovery.js';
export { RemoteKeySet, type RemoteKeySetOptions } from './issuer/jwks.js';
export type { Transport } from './issuer/http.js';
export type { ProxySettings } from './issuer/proxy.js';

// Error answers
export { buildChallenge, type ChallengeOptions } from './errors/www-authenticate.js';
export { wantsJson } from './errors/render.js';
