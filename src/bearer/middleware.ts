import type { RequestHandler } from 'express';
import { resolveBearerOptions } from './config.js';
import { createGuardRuntime } from './guard-runtime.js';
import { guardHandler } from './handler.js';
import type { BearerOptions } from './types.js';
import type { BearerVerifier } from './verifier.js';

export { requiredScopes, scopeIncludesAny, claimEquals, claimIncludes, claimCheck } from './claim-guards.js';

/** The middleware `requireBearer()` returns; `verifier` exposes its token checker (cache, JWKS fetch count). */
export type BearerMiddleware = RequestHandler & { readonly verifier: BearerVerifier };

/**
 * Protects routes with OAuth 2.0 Bearer tokens (RFC 6750): finds the token (header, or a form
 * body with `allowFormBody`; never the query), verifies it (a JWT against the issuer's JWKS per
 * RFC 9068, an opaque token by RFC 7662 introspection), and puts the result on `req.auth`.
 * Refused requests get the RFC 6750 §3 answer (see the options `passErrors` and `errorHandler`).
 *
 * Sender-constrained tokens: a token with `cnf.jkt` needs `Authorization: DPoP <token>` and a
 * valid `DPoP` proof of that key (RFC 9449 §7.1; option `dpop`), a token with `cnf["x5t#S256"]`
 * the TLS client certificate of that thumbprint (RFC 8705 §3; option `mtls`).
 *
 * Without options, reads `ISSUER_BASE_URL` and `AUDIENCE`. Options are checked here, once:
 * a bad one throws a TypeError naming it.
 *
 * @example
 * ```ts
 * app.use('/api', requireBearer({ issuerBaseURL: 'https://issuer.example', audience: 'https://api.example' }));
 * app.get('/api/me', (req, res) => res.json(req.auth?.payload));
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750
 * @see https://www.rfc-editor.org/rfc/rfc9068
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-3
 */
export function requireBearer(options?: BearerOptions): BearerMiddleware {
  // The composition root: options resolved and checked once, the runtime its requests share
  // (verifier, cache, keys, DPoP nonces and replay record), and the middleware over it.
  const runtime = createGuardRuntime(resolveBearerOptions(options));
  return Object.assign(guardHandler(runtime), { verifier: runtime.verifier });
}
