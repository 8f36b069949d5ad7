// Re-exports only. See README.md for the two middlewares: auth() and requireBearer().
import './augment.js';

export * from './login/index.js';
export * from './bearer/index.js';
export * from './errors/index.js';
export { buildChallenge, type ChallengeOptions } from './errors/www-authenticate.js';
export { renderError, wantsJson } from './errors/render.js';
export { IssuerDiscovery, discover, type IssuerMetadata, type DiscoveryOptions } from './issuer/discovery.js';
export { RemoteKeySet, type RemoteKeySetOptions } from './issuer/jwks.js';
export type { Logger } from './util/logger.js';
export { VERSION } from './version.js';
