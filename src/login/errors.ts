import { AuthError, type AuthErrorOptions } from '../errors/index.js';

/**
 * 401 `login_required` (OIDC Core §3.1.2.6): the request needs a signed-in user and has none, or
 * the sign-in ended (its refresh token was refused). `requiresAuth()` answers it with a redirect
 * to the login route (browsers) or a 401 (API-style callers).
 */
export class LoginRequiredError extends AuthError {
  override readonly name = 'LoginRequiredError';
  constructor(description = 'Sign-in required.', options?: AuthErrorOptions) {
    super('login_required', 401, description, options);
  }
}
