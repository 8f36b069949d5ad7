import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AuthError, InvalidRequestError, InvalidTokenError, UnauthorizedError } from '../errors/index.js';
import { noStore } from '../util/no-store.js';
import { buildChallenge } from '../errors/www-authenticate.js';
import { describeCause, type Logger } from '../util/logger.js';
import { resolveBearerOptions, type ResolvedDpopConfig } from './config.js';
import { confirmationOf } from './confirmation.js';
import { DEFAULT_REALM } from './defaults.js';
import {
  checkDpopBinding,
  dpopProofOf,
  DpopNonces,
  MemoryDpopReplayStore,
  recordDpopProof,
  redisDpopReplayStore,
  verifyDpopProof,
  type DpopReplayStore,
  type VerifiedDpopProof,
} from './dpop.js';
import { checkTokenCharacters, extractForGuard, type PresentedToken } from './extract.js';
import { certificateFromHeader, checkCertificateBinding } from './mtls.js';
import {
  checkAllScopes,
  checkAnyScope,
  checkClaimEquals,
  checkClaimIncludes,
  checkClaims,
  normaliseScopes,
  type ClaimValue,
} from './scopes.js';
import type { BearerAuth, BearerErrorHandler, BearerOptions, BearerPayload } from './types.js';
import { verifierFor, type BearerVerifier } from './verifier.js';

type Scheme = 'Bearer' | 'DPoP';

/** How refused requests are answered; `requireBearer()` leaves its choice for the scope and claim checks. */
interface Responder {
  realm: string;
  errorHandler?: BearerErrorHandler;
  passErrors: boolean;
  logger?: Logger;
  /** The DPoP `algs` challenge attribute (RFC 9449 §7.1). */
  dpopAlgorithms?: readonly string[];
}

/** The responder of a request, and the schemes its challenges name. */
interface RequestState {
  responder: Responder;
  schemes: readonly Scheme[];
}

const requestStates = new WeakMap<Request, RequestState>();
const DEFAULT_STATE: RequestState = { responder: { realm: DEFAULT_REALM, passErrors: false }, schemes: ['Bearer'] };
/**
 * Where a result from a guard's verified-token cache carries that guard's state: on its
 * prototype (see `VerifiedTokenCacheOptions.resultPrototype`), so a cache hit, the hot path,
 * stores nothing per request. Not an own member, so it is not seen in `req.auth`.
 */
const ACCEPTED_STATE = Symbol('requireBearer state');

/** The state the scope and claim checks answer with: the guard's that set `req.auth`, else the last guard's record for this request. */
function stateOf(req: Request): RequestState {
  const auth = req.auth as { [ACCEPTED_STATE]?: RequestState } | undefined;
  return auth?.[ACCEPTED_STATE] ?? requestStates.get(req) ?? DEFAULT_STATE;
}

/**
 * Answers a refused request per RFC 6750 §3 and RFC 9449 §7.1: the status, one
 * `WWW-Authenticate` value per scheme (realm only when no credentials were sent; `error`,
 * `error_description` and, for `insufficient_scope`, `scope` otherwise; `algs` for DPoP; none on
 * a 5xx, which is no challenge), `Cache-Control: no-store` and the JSON body
 * `{ error, error_description }`. `err.headers['WWW-Authenticate']` holds the challenges joined
 * by `, ` (RFC 9110 §11.6.1). With `passErrors` the error goes to `next(err)` instead, and with
 * `errorHandler` to that.
 */
function refuse(err: AuthError, req: Request, res: Response, next: NextFunction, state: RequestState): void {
  const { responder } = state;
  let challenges: string[] = [];
  if (err.status < 500) {
    challenges = state.schemes.map((scheme) =>
      buildChallenge(err, {
        realm: responder.realm,
        scheme,
        ...(scheme === 'DPoP' && responder.dpopAlgorithms ? { algs: responder.dpopAlgorithms } : {}),
      }),
    );
    err.headers['WWW-Authenticate'] = challenges.join(', ');
  }
  if (responder.logger) {
    const log = err.status >= 500 ? responder.logger.warn : responder.logger.debug;
    log.call(responder.logger, 'bearer request refused', { code: err.code, status: err.status, reason: err.description, ...describeCause(err.cause) });
  }
  if (responder.passErrors) {
    next(err);
    return;
  }
  if (responder.errorHandler) {
    responder.errorHandler(err, req, res, next);
    return;
  }
  if (res.headersSent) {
    next(err);
    return;
  }
  res.statusCode = err.status;
  for (const [name, value] of Object.entries(err.headers)) {
    res.setHeader(name, name === 'WWW-Authenticate' && challenges.length > 1 ? challenges : value);
  }
  noStore(res);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(err.toJSON()));
}

/**
 * The request's external URL without query, for the DPoP `htu` (RFC 9449 §4.3): `dpop.baseURL`
 * and the path; else, only when Express' `trust proxy` is set, `req.protocol` and the host
 * (`X-Forwarded-Host` when the proxy is trusted, else `Host`), as Express itself derives them.
 */
function externalUrl(req: Request, dpop: ResolvedDpopConfig): string {
  const raw = req.originalUrl ?? req.url ?? '/';
  const path = raw.split(/[?#]/, 1)[0] ?? '';
  const absolutePath = path.startsWith('/') ? path : `/${path}`;
  if (dpop.baseURL !== undefined) return `${dpop.baseURL}${absolutePath}`;
  const app = req.app as { get?: (name: string) => unknown } | undefined;
  if (typeof app?.get !== 'function' || !app.get('trust proxy')) {
    throw new AuthError('server_error', 500, 'the server cannot check DPoP proofs: its external URL is not configured');
  }
  const trust = app.get('trust proxy fn');
  let host = req.get('x-forwarded-host');
  if (host === undefined || typeof trust !== 'function' || !(trust as (addr: string | undefined, i: number) => boolean)(req.socket.remoteAddress, 0)) {
    host = req.get('host');
  } else {
    host = host.split(',', 1)[0]?.trim();
  }
  // Unchecked, a Host of `localhost/intendedPath?` would make the URL `.../intendedPath?/other`,
  // whose htu (query dropped) is that of a proof made for another path.
  if (host === undefined || !BARE_HOST.test(host)) {
    throw new InvalidRequestError('the Host of the request is not a host name with an optional port');
  }
  return `${req.protocol}://${host}${absolutePath}`;
}

/** A bare `host[:port]` (RFC 9110 §7.2): a registered name, an IPv4 address or a bracketed IPv6 one; nothing else. */
const BARE_HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/** The DER client certificate: from the trusted proxy's header when configured, else the TLS socket. */
function clientCertificate(req: Request, header: string | undefined): Uint8Array | undefined {
  if (header !== undefined) return certificateFromHeader(req.headers[header]);
  const socket = req.socket as Partial<TLSSocket> | undefined;
  if (socket?.encrypted !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const raw = socket.getPeerCertificate().raw as Buffer | undefined;
  return raw !== undefined && raw.length > 0 ? new Uint8Array(raw) : undefined;
}

function rawQuery(req: Request): string {
  const url = req.originalUrl ?? req.url ?? '';
  const at = url.indexOf('?');
  return at === -1 ? '' : url.slice(at + 1);
}

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
  const config = resolveBearerOptions(options);
  const { dpop } = config;
  const responder: Responder = {
    realm: config.realm,
    passErrors: config.passErrors,
    logger: config.logger,
    ...(config.errorHandler ? { errorHandler: config.errorHandler } : {}),
    ...(dpop.mode !== 'disabled' ? { dpopAlgorithms: dpop.algorithms } : {}),
  };
  // A request without credentials is challenged with the one scheme every client knows: Bearer,
  // or DPoP when only DPoP is accepted. In 'allowed' mode a DPoP-capable client needs no separate
  // DPoP challenge to use it (RFC 9449 §7.1 lets a server send either), and RFC 6750 clients and
  // tests that read `WWW-Authenticate: Bearer realm="..."` see exactly that.
  const noCredentials: RequestState = {
    responder,
    schemes: dpop.mode === 'required' ? ['DPoP'] : ['Bearer'],
  };
  const noCredentialsText = dpop.mode === 'allowed' ? 'no access token in the request' : `no ${noCredentials.schemes[0]} access token in the request`;
  const nonces = dpop.nonce ? new DpopNonces(dpop.nonce.secret, dpop.nonce.windowSeconds) : undefined;
  let replay: DpopReplayStore | undefined = dpop.redis ? redisDpopReplayStore(dpop.redis) : undefined;
  // A proof is accepted from `iat - clockTolerance` to `iat + maxProofAge + clockTolerance`.
  const replayTtlMs = (dpop.maxProofAge + 2 * config.clockTolerance + 1) * 1000;

  function replayStore(): DpopReplayStore {
    if (replay === undefined) {
      config.logger.warn('requireBearer: DPoP proof jti are remembered in memory; correct for a single instance only (set dpop.redis)');
      replay = new MemoryDpopReplayStore();
    }
    return replay;
  }

  const extractOptions = { allowFormBody: config.allowFormBody, dpop: dpop.mode !== 'disabled', maxTokenLength: config.maxTokenLength };

  // The two states a request with credentials can end in; shared, so no request allocates one.
  const bearerState: RequestState = { responder, schemes: ['Bearer'] };
  const dpopState: RequestState = { responder, schemes: ['DPoP'] };
  // A cache hit is only ever accepted as a Bearer request (see handler()).
  const verifier = verifierFor(config, Object.create(Object.prototype, { [ACCEPTED_STATE]: { value: bearerState } }) as object);

  /**
   * The asynchronous part: the DPoP proof, the token check on a cache miss, the bindings and the
   * replay record. `hit` is the cache's answer when the caller already looked (Bearer scheme),
   * `key` the token's cache key it looked under (`undefined` without a cache).
   */
  async function verifyAndBind(
    req: Request,
    res: Response,
    next: NextFunction,
    presented: PresentedToken,
    initial: RequestState,
    looked: boolean,
    hit: BearerAuth | undefined,
    key: string | undefined,
  ): Promise<void> {
    let state = initial;
    try {
      let proof: VerifiedDpopProof | undefined;
      if (presented.scheme === 'DPoP') {
        proof = await verifyDpopProof(dpopProofOf({ dpop: req.headersDistinct?.dpop ?? req.headers.dpop }), {
          method: req.method,
          url: externalUrl(req, dpop),
          accessToken: presented.token,
          algorithms: dpop.algorithms,
          maxProofAge: dpop.maxProofAge,
          clockTolerance: config.clockTolerance,
          ...(nonces ? { nonces } : {}),
        });
      }
      const auth = hit ?? (looked ? await verifier.verifyUncached(presented.token, key) : await verifier.verify(presented.token));
      // A Bearer token without `cnf` has no binding to check (confirmationOf() is `{}`, and the
      // three checks below pass), as on the cache-hit path in handler().
      if (presented.scheme === 'DPoP' || auth.payload.cnf !== undefined) {
        // A DPoP-bound token sent as Bearer: tell the client to use DPoP, when this guard accepts it.
        if (presented.scheme === 'Bearer' && dpop.mode !== 'disabled' && confirmationOf(auth.payload).jkt !== undefined) state = dpopState;
        checkDpopBinding(auth.payload, presented.scheme, proof);
        checkCertificateBinding(auth.payload, () => clientCertificate(req, config.mtls.certificateHeader));
      }
      if (proof) {
        await recordDpopProof(replayStore(), dpop.redisKeyPrefix, proof, replayTtlMs);
        if (proof.nonceStale && nonces) res.setHeader('DPoP-Nonce', nonces.current());
      }
      // `auth` is this request's own object (a fresh result, or the cache's copy), so it is
      // completed in place rather than spread into another one.
      auth.scheme = presented.scheme;
      req.auth = auth;
    } catch (err) {
      requestStates.set(req, state);
      if (!(err instanceof AuthError)) throw err;
      refuse(err, req, res, next, state);
      return;
    }
    requestStates.set(req, state);
    next();
  }

  // Not asyncHandler: a repeated Bearer token is answered from the verified-token cache here,
  // synchronously, without the promise hops of an async middleware, which under HTTP load cost
  // more than the lookup itself. Everything else goes on in verifyAndBind(), whose rejections
  // reach next(err) as asyncHandler's would (Express 4 and 5 alike).
  function handler(req: Request, res: Response, next: NextFunction): void {
    let state = noCredentials;
    let presented: PresentedToken | undefined;
    let looked = false;
    let hit: BearerAuth | undefined;
    let key: string | undefined;
    let headers: Request['headers'] | undefined;
    let extracted = false;
    try {
      // `req.headers` is a getter (Node builds the object on first use), read once; `req.body`
      // and `req.method` only when a form-body token is accepted (nothing else reads them):
      // without a body parser `req.body` is a lookup through the whole prototype chain of `req`.
      headers = req.headers;
      const form = config.allowFormBody;
      // The header token's characters are checked below, unless the token is found in the cache.
      presented = extractForGuard(
        { headers, body: form ? (req.body as unknown) : undefined, query: rawQuery(req), method: form ? req.method : undefined },
        extractOptions,
      );
      extracted = true;
      if (presented === undefined) {
        state = noCredentials;
        if (config.credentialsRequired) throw new UnauthorizedError(noCredentialsText);
        delete req.auth;
      } else {
        state = presented.scheme === 'DPoP' || dpop.mode === 'required' ? dpopState : bearerState;
        if (presented.scheme === 'Bearer' && dpop.mode !== 'required') {
          looked = true;
          // Hashed once: on a miss the same key inserts the verified token.
          key = verifier.cacheKey(presented.token);
          hit = key === undefined ? undefined : verifier.cached(presented.token, key);
          // Fast path: a cached token without `cnf` has no DPoP or certificate binding to check
          // (confirmationOf() is `{}`), so it is accepted as is. `hit` is the cache's own copy.
          if (hit !== undefined && hit.payload.cnf === undefined) {
            hit.scheme = 'Bearer';
            req.auth = hit;
            presented = undefined;
          }
        }
        if (presented !== undefined) {
          // Any token not accepted from the cache: its characters are checked before anything
          // else refuses it, so a malformed one gets the same 400 as from extractAccessToken().
          // (A cached token passed this check when it was verified: its SHA-256 matched.)
          checkTokenCharacters(presented.token, config.maxTokenLength);
          if (presented.scheme === 'Bearer' && dpop.mode === 'required') throw new InvalidTokenError('the Bearer scheme is not accepted; use DPoP');
        }
      }
    } catch (err) {
      if (!extracted && headers !== undefined) {
        // A malformed request is answered in the scheme it tried (Bearer unless it said DPoP);
        // worked out here, as no other request needs it.
        const said = /^\s*dpop(\s|$)/i.test(String(headers.authorization ?? '')) && dpop.mode !== 'disabled';
        state = said || dpop.mode === 'required' ? dpopState : bearerState;
      }
      requestStates.set(req, state);
      if (!(err instanceof AuthError)) {
        next(err);
        return;
      }
      refuse(err, req, res, next, state);
      return;
    }
    // No credentials (and none required), or accepted from the cache above (`hit`, whose result
    // carries the state: see stateOf()).
    if (presented === undefined) {
      if (hit === undefined) requestStates.set(req, state);
      next();
      return;
    }
    verifyAndBind(req, res, next, presented, state, looked, hit, key).catch(next);
  }
  Object.defineProperty(handler, 'name', { value: 'requireBearer' });
  return Object.assign(handler, { verifier });
}

/** Wraps a synchronous check of `req.auth` into a named middleware that answers like `requireBearer()`. */
function authCheck(name: string, check: (payload: BearerPayload, scopes: string[]) => void): RequestHandler {
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    const state = stateOf(req);
    const auth = req.auth;
    try {
      if (!auth) throw new UnauthorizedError('no Bearer access token in the request');
      check(auth.payload, auth.scopes);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      refuse(err, req, res, next, state);
      return;
    }
    next();
  };
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}

/**
 * Requires every one of the scopes (`requiredScopes('read', 'write')`, `requiredScopes('read write')`
 * or `requiredScopes(['read', 'write'])`). Use after `requireBearer()`. Missing: 403
 * `insufficient_scope` with `scope="read write"` in the challenge; no `req.auth`: 401.
 *
 * @example
 * ```ts
 * app.get('/api/admin', requireBearer(), requiredScopes('admin'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function requiredScopes(...scopes: Array<string | readonly string[]>): RequestHandler {
  const required = normaliseScopes('requiredScopes()', scopes);
  return authCheck('requiredScopes', (_payload, granted) => checkAllScopes(granted, required));
}

/**
 * Requires at least one of the scopes. Missing: 403 `insufficient_scope`, the challenge lists them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function scopeIncludesAny(...scopes: Array<string | readonly string[]>): RequestHandler {
  const accepted = normaliseScopes('scopeIncludesAny()', scopes);
  return authCheck('scopeIncludesAny', (_payload, granted) => checkAnyScope(granted, accepted));
}

function claimName(fn: string, claim: unknown): string {
  if (typeof claim !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(claim)) {
    throw new TypeError(`${fn}: "claim" must be a non-empty claim name of printable characters.`);
  }
  return claim;
}

function claimValue(fn: string, value: unknown): ClaimValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return value;
  }
  throw new TypeError(`${fn}: each value must be a string, a finite number, a boolean or null.`);
}

/**
 * Requires `payload[claim] === value`. Otherwise 401 `invalid_token` ("unexpected 'claim' claim value").
 *
 * @example
 * ```ts
 * app.get('/api/org', requireBearer(), claimEquals('org_id', 'acme'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimEquals(claim: string, value: ClaimValue): RequestHandler {
  const name = claimName('claimEquals()', claim);
  const expected = claimValue('claimEquals()', value);
  return authCheck('claimEquals', (payload) => checkClaimEquals(payload, name, expected));
}

/**
 * Requires the claim (an array, or a space-separated string) to include every one of `values`.
 * Otherwise 401 `invalid_token`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimIncludes(claim: string, ...values: ClaimValue[]): RequestHandler {
  const name = claimName('claimIncludes()', claim);
  if (values.length === 0) throw new TypeError('claimIncludes(): give at least one value.');
  const expected = values.map((v) => claimValue('claimIncludes()', v));
  return authCheck('claimIncludes', (payload) => checkClaimIncludes(payload, name, expected));
}

/**
 * Requires `check(payload)` to return true (a check that throws counts as false). Otherwise 401
 * `invalid_token` with `description` (a fixed text; default "token claims check failed").
 *
 * @example
 * ```ts
 * app.get('/api/beta', requireBearer(), claimCheck((p) => p.beta === true, 'beta access required'), handler);
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3.1
 */
export function claimCheck(check: (payload: BearerPayload) => boolean, description = 'token claims check failed'): RequestHandler {
  if (typeof check !== 'function') throw new TypeError('claimCheck(): "check" must be a function.');
  if (typeof description !== 'string' || description === '') throw new TypeError('claimCheck(): "description" must be a non-empty string.');
  return authCheck('claimCheck', (payload) => checkClaims(payload, check, description));
}
