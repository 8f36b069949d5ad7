// Public exports of the API guard half (requireBearer, requiredScopes, ...). Filled in by the bearer work.
export type { BearerAuth } from './types.js';
