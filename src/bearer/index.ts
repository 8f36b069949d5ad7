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
export { extractBearerToken, type BearerRequestParts, type ExtractOptions } from './extract.js';
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
} from './types.js';
