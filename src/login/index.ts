// Public exports of the sign-in half (auth, requiresAuth, ...). Filled in by the login work.
export type { OidcContext } from './context.js';
