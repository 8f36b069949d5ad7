// Public exports of the API guard half. Re-exports only.
export {
  requireBearer,
  requiredScopes,
  scopeIncludesAny,
  claimEquals,
  claimIncludes,
  claimCheck,
  type BearerMiddleware,
} from './middleware.js';
export { createBearerVerifier, type BearerVerifier } from './verifier.js';
export type { ResolvedBearerConfig } from './config.js';
export { extractBearerToken, extractAccessToken, type BearerRequestParts, type ExtractOptions, type PresentedToken } from './extract.js';
export {
  verifyDpopProof,
  checkDpopBinding,
  recordDpopProof,
  dpopProofOf,
  dpopAccessTokenHash,
  normaliseHtu,
  DpopNonces,
  MemoryDpopReplayStore,
  redisDpopReplayStore,
  type DpopProofExpectations,
  type VerifiedDpopProof,
  type DpopReplayStore,
} from './dpop.js';
export { certificateThumbprint, certificateFromHeader, checkCertificateBinding } from './mtls.js';
export { confirmationOf, type Confirmation } from './confirmation.js';
export { verifyAccessToken, type JwtVerifyConfig } from './verify.js';
export { introspectAccessToken, type IntrospectionConfig } from './introspect.js';
export { VerifiedTokenCache, type VerifiedTokenCacheOptions } from './cache.js';
export { scopesOf, type ClaimValue } from './scopes.js';
export type {
  BearerAuth,
  BearerPayload,
  BearerOptions,
  TrustedIssuerOptions,
  IntrospectionOptions,
  BearerErrorHandler,
  DpopOptions,
  MtlsOptions,
} from './types.js';
