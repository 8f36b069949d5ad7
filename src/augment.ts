/**
 * The request and session types this package adds. Importing the package brings them in:
 * `req.oidc` (set by `auth()`), `req.auth` (set by `requireBearer()`), and the session member
 * `oidc` that holds the sign-in state.
 */
import type { OidcContext } from './login/context.js';
import type { BearerAuth } from './bearer/types.js';
import type { OidcSessionData } from './login/session-data.js';
import type {} from 'express-session';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The sign-in context, set by `auth()`. */
      oidc: OidcContext;
      /** The verified access token, set by `requireBearer()`. */
      auth?: BearerAuth;
    }
  }
}

declare module 'express-session' {
  interface SessionData {
    /** Sign-in state of this package; tokens inside are sealed (encrypted at rest). */
    oidc?: OidcSessionData;
  }
}

export {};
