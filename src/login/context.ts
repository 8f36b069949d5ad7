import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { isAuthError, sessionStoreUnavailable, type AuthError } from '../errors/index.js';
import { describeCause } from '../util/logger.js';
import { LoginRequiredError } from './errors.js';
import { createDpopProof } from './dpop.js';
import type { LoginOptions } from './options.js';
import type { ResponseContext } from './response-context.js';
import { needsRefresh, refreshGrant } from './refresh.js';
import { baseIdTokenChecks, TOKENS_AAD, type LoginRuntime } from './runtime.js';
import { loginEndsAt, openSignedIn, sealSignedIn, type SignedInRecord, type TokenSet } from './session-data.js';
import type { UserClaims } from '../claims.js';

export { loginEndsAt };
import { hasSession, sessionData } from '../session/middleware.js';
import { saveSession, type SessionRequest } from './session-ops.js';
import { userInfoRequest } from './userinfo.js';

/** The access token of the session, as `req.oidc.accessToken` shows it. */
export interface AccessToken {
  access_token: string;
  /** `'Bearer'`, or `'DPoP'` when the token is bound to the session's DPoP key (RFC 9449 §5). */
  token_type: string;
  /** Seconds left (0 when expired); undefined when the issuer gave no `expires_in`. */
  expires_in: number | undefined;
  /** True when it expired (a refresh is needed before use). */
  isExpired(): boolean;
}

/**
 * `req.oidc`: the sign-in state of the request, set by `auth()` on every request behind it.
 *
 * @example
 * app.get('/profile', requiresAuth(), async (req, res) => {
 *   const token = await req.oidc.getAccessToken(); // refreshed first when (nearly) expired
 *   res.json({ sub: req.oidc.user?.sub });
 * });
 */
export interface OidcContext {
  /** True when a user is signed in (and the session's tokens can be opened). */
  isAuthenticated(): boolean;
  /** The ID token's claims (without nonce, at_hash, c_hash), or undefined when signed out. */
  readonly user: UserClaims | undefined;
  /** Same as `user` (express-openid-connect name). */
  readonly idTokenClaims: UserClaims | undefined;
  /** The raw ID token (unsealed on first read), or undefined. */
  readonly idToken: string | undefined;
  /** The access token, or undefined when signed out. It may be expired: prefer `getAccessToken()`. */
  readonly accessToken: AccessToken | undefined;
  /** False when the session store failed for this request (routes that need it answer 503). */
  readonly sessionAvailable: boolean;
  /**
   * A usable access token: refreshed first (RFC 6749 §6) when expired or within `refreshMargin`,
   * once per session across processes.
   * @throws LoginRequiredError (401) when signed out, or when the refresh token was refused
   *   (the session is then signed out); 502/503 errors when the issuer or store fail.
   */
  getAccessToken(): Promise<string>;
  /**
   * The UserInfo response (OIDC Core §5.3) for the session's access token; `sub` must match.
   * A DPoP-bound token is sent with the `DPoP` scheme and a proof (RFC 9449 §7.1, one retry on a
   * `use_dpop_nonce` challenge, §9); with `mtls` the request goes over mutual TLS (RFC 8705 §3).
   */
  fetchUserInfo(): Promise<Record<string, unknown>>;
  /**
   * The login route with a `returnTo` (a same-origin path; unsafe values are dropped at login).
   * @throws TypeError when `routes.login` is `false` (use `res.oidc.login({ returnTo })`).
   */
  loginUrl(returnTo?: string): string;
  /** Starts a sign-in: the same as `res.oidc.login(options)` (see `ResponseContext`). */
  login(res: { oidc: ResponseContext }, options?: LoginOptions): Promise<void>;
  /**
   * A DPoP proof (RFC 9449 §4.2, §7.1) for calling an API with the session's DPoP-bound access
   * token: send it as the `DPoP` header with `Authorization: DPoP <access token>`. Covers
   * `method` and `url` (query and fragment left out), `ath` of the current access token, and the
   * last `DPoP-Nonce` seen from that origin (pass `nonce` to use another one).
   * @throws LoginRequiredError (401) when signed out; TypeError when the session has no DPoP key
   *   (`dpop` is off, or the issuer answered with Bearer tokens).
   * @example
   * const token = await req.oidc.getAccessToken();
   * const proof = await req.oidc.dpopProof('GET', 'https://api.example/orders');
   * await fetch('https://api.example/orders', { headers: { authorization: `DPoP ${token}`, dpop: proof } });
   */
  dpopProof(method: string, url: string | URL, options?: { nonce?: string }): Promise<string>;
}

/** The request shape the context reads. */
export interface ContextRequest extends SessionRequest {
  originalUrl?: string;
  url?: string;
}

const INTERNAL = Symbol.for('express-oidc-guard.context');

/** A copy of the claims the app may change: members copied, objects in them (an `address`) cloned. */
function copyClaims(claims: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const name in claims) {
    const value = claims[name];
    copy[name] = typeof value === 'object' && value !== null ? structuredClone(value) : value;
  }
  return copy;
}

/** The context object behind `req.oidc`. Internal: apps use the `OidcContext` interface. */
export class RequestContext implements OidcContext {
  readonly [INTERNAL] = true;
  private opened: { record: SignedInRecord; tokens: TokenSet } | null | undefined;
  private record: SignedInRecord | null | undefined;
  private storedRecord: SignedInRecord | null | undefined;

  constructor(
    private readonly req: ContextRequest,
    readonly runtime: LoginRuntime,
    /** Why the session store failed for this request, if it did. */
    readonly sessionError: unknown,
  ) {}

  static from(value: unknown): RequestContext | undefined {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[INTERNAL] === true
      ? (value as RequestContext)
      : undefined;
  }

  get sessionAvailable(): boolean {
    return this.sessionError === undefined && hasSession(this.req);
  }

  /**
   * The session's sealed signed-in record, opened for this session id whatever its lifetime, or
   * null. One that does not open (edited in the store, copied from another session's key, or
   * sealed under a secret no longer configured) is logged once, without any of its content.
   * Reads the record without building `req.session`.
   */
  storedLogin(): SignedInRecord | null {
    if (this.storedRecord !== undefined) return this.storedRecord;
    const opened = openSignedIn(this.runtime.sealer, sessionData(this.req)?.oidc?.login, this.req.sessionID, true);
    if ('record' in opened) {
      this.storedRecord = opened.record;
      return opened.record;
    }
    // One line, with nothing of the record in it: it may hold anything an attacker wrote.
    if (opened.failure === 'untrusted') {
      this.runtime.config.logger.warn(
        'session record does not open for its session (edited or copied in the store, or sealed under a secret no longer configured); signed out',
      );
    } else if (opened.failure === 'earlier-format') {
      this.runtime.config.logger.warn(
        'session record is not sealed for its session (written by version 0.1, or edited in the store); signed out',
      );
    }
    this.storedRecord = null;
    return null;
  }

  /** The session's signed-in record when it opens and is within its lifetime; else null. */
  private signedIn(): SignedInRecord | null {
    if (this.record !== undefined) return this.record;
    const record = this.storedLogin();
    this.record = record && loginEndsAt(record, this.runtime.config.session.absoluteDuration) > Date.now() ? record : null;
    return this.record;
  }

  /** The signed-in record and its tokens, or null. */
  private open(): { record: SignedInRecord; tokens: TokenSet } | null {
    if (this.opened !== undefined) return this.opened;
    const record = this.signedIn();
    this.opened = record ? { record, tokens: record.tokens } : null;
    return this.opened;
  }

  /** Forgets what was read (after the session changed). */
  private reset(): void {
    this.opened = undefined;
    this.record = undefined;
    this.storedRecord = undefined;
  }

  /**
   * True when the session holds a sign-in within its lifetime whose sealed record opens for this
   * session (under a configured secret, unaltered, not copied from another session).
   */
  isAuthenticated(): boolean {
    return this.signedIn() !== null;
  }

  get user(): UserClaims | undefined {
    const record = this.isAuthenticated() ? this.record : null;
    // The record is shared and frozen (see openSignedIn): the app gets its own copy, nested claims too.
    return record ? (copyClaims(record.claims) as UserClaims) : undefined;
  }

  get idTokenClaims(): UserClaims | undefined {
    return this.user;
  }

  get idToken(): string | undefined {
    return this.open()?.tokens.id_token;
  }

  /** The unsealed token set (internal: logout needs the refresh token). */
  tokenSet(): TokenSet | undefined {
    return this.open()?.tokens;
  }

  get accessToken(): AccessToken | undefined {
    const tokens = this.open()?.tokens;
    if (!tokens) return undefined;
    const expiresAt = tokens.expires_at;
    return {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_in: expiresAt === undefined ? undefined : Math.max(0, expiresAt - Math.floor(Date.now() / 1000)),
      isExpired: () => expiresAt !== undefined && expiresAt <= Math.floor(Date.now() / 1000),
    };
  }

  loginUrl(returnTo?: string): string {
    const route = this.runtime.config.routes.login;
    if (route === false)
      throw new TypeError(
        'req.oidc.loginUrl() has no route to point to: routes.login is false. Start the sign-in with res.oidc.login({ returnTo }) instead.',
      );
    const base = new URL(this.runtime.config.baseURL).pathname.replace(/\/+$/, '');
    const path = `${base}${route}`;
    // '/' stays readable (`/login?returnTo=/profile`): RFC 3986 §3.4 allows it in a query.
    return returnTo === undefined ? path : `${path}?returnTo=${encodeURIComponent(returnTo).replace(/%2F/g, '/')}`;
  }

  login(res: { oidc: ResponseContext }, options?: LoginOptions): Promise<void> {
    const context = (res as { oidc?: ResponseContext } | undefined)?.oidc;
    if (!context || typeof context.login !== 'function')
      return Promise.reject(new TypeError('req.oidc.login(res) needs the response of a request behind auth()'));
    return context.login(options);
  }

  async dpopProof(method: string, url: string | URL, options: { nonce?: string } = {}): Promise<string> {
    const tokens = this.open()?.tokens;
    if (!tokens) throw new LoginRequiredError();
    if (!tokens.dpop_key) throw new TypeError('dpopProof() needs a DPoP-bound session: set "dpop: true" in auth()');
    const nonce = options.nonce ?? this.runtime.dpopNonces.get(url);
    return createDpopProof(tokens.dpop_key, { method, url, accessToken: tokens.access_token, ...(nonce !== undefined ? { nonce } : {}) });
  }

  async getAccessToken(): Promise<string> {
    if (!this.sessionAvailable) throw sessionStoreUnavailable(this.sessionError);
    const opened = this.open();
    if (!opened) throw new LoginRequiredError();
    if (!needsRefresh(opened.tokens, this.runtime.config.refreshMargin)) return opened.tokens.access_token;
    return (await this.refresh(opened)).access_token;
  }

  private async refresh(opened: { record: SignedInRecord; tokens: TokenSet }): Promise<TokenSet> {
    const { runtime } = this;
    const { tokens, record } = opened;
    const refreshToken = tokens.refresh_token;
    if (refreshToken === undefined) {
      await this.signOut('access token expired and there is no refresh token');
      throw new LoginRequiredError('The sign-in expired; sign in again.');
    }
    const sessionId = this.req.sessionID!;
    // The generation is the token state being replaced: requests holding the same one share one
    // refresh grant; a later request (new access token, even with a non-rotated refresh token)
    // makes its own.
    const generation = createHash('sha256').update(`${refreshToken}\0${tokens.access_token}`, 'utf8').digest('base64url');
    // The result may wait in Redis for other requests of this session: bound to the session and
    // the token state it replaces, so no other record's result opens here.
    const resultAad = `${TOKENS_AAD}\0${sessionId}\0${generation}`;
    const work = async (): Promise<string> => {
      const metadata = await runtime.discovery.metadata();
      const next = await refreshGrant({
        metadata,
        client: runtime.client,
        current: { ...tokens, refresh_token: refreshToken },
        sub: record.sub,
        timeoutMs: runtime.config.httpTimeout,
        idToken: baseIdTokenChecks(runtime, metadata),
        params: runtime.config.tokenEndpointParams,
        dpopNonces: runtime.dpopNonces,
      });
      return runtime.sealer.seal(next, resultAad);
    };
    let sealed: string;
    try {
      sealed = runtime.coordinator
        ? await runtime.coordinator.run(sessionId, generation, work)
        : await this.localRefresh(`${sessionId}\0${generation}`, work);
    } catch (err) {
      if (isAuthError(err) && (err.code === 'invalid_grant' || err.status === 400)) {
        await this.signOut('refresh token refused', err);
        throw new LoginRequiredError('The sign-in expired; sign in again.', { cause: err });
      }
      throw err;
    }
    const next = runtime.sealer.unseal<TokenSet>(sealed, resultAad);
    if (!next) {
      await this.signOut('refreshed token set cannot be opened');
      throw new LoginRequiredError('The sign-in expired; sign in again.');
    }
    const session = this.req.session!;
    if (session.oidc?.login === undefined) throw new LoginRequiredError();
    let claims = record.claims;
    if (next.id_token !== tokens.id_token) {
      // Validated by whichever request ran the refresh grant; only the claims are read here.
      claims = publicClaims(decodeJwt(next.id_token));
    }
    session.oidc = { ...session.oidc, login: sealSignedIn(runtime.sealer, { ...record, claims, tokens: next }, sessionId) };
    this.reset();
    await saveSession(this.req, runtime.config.httpTimeout);
    return next;
  }

  /** One refresh per session and refresh token in this process (no Redis to coordinate through). */
  private localRefresh(key: string, work: () => Promise<string>): Promise<string> {
    const map = this.runtime.localRefreshes;
    let running = map.get(key);
    if (!running) {
      running = work();
      map.set(key, running);
      // Keep the outcome a minute for requests that still hold the old refresh token.
      const forget = () => void setTimeout(() => map.delete(key), 60_000).unref();
      running.then(forget, forget);
    }
    return running;
  }

  /** Ends the sign-in of this session (keeps pending logins), saves, and drops it from the index. */
  async signOut(reason: string, cause?: unknown): Promise<void> {
    const session = this.req.session;
    const record = this.storedLogin();
    this.runtime.config.logger.info('session signed out', { reason, ...(cause ? describeCause(cause) : {}) });
    if (!session || session.oidc?.login === undefined) return;
    const rest = { ...session.oidc };
    delete rest.login;
    session.oidc = rest;
    this.reset();
    if (record) {
      await this.runtime.index
        ?.remove({ sessionId: this.req.sessionID!, sub: record.sub, ...(record.sid !== undefined ? { sid: record.sid } : {}) })
        .catch((err: unknown) => this.runtime.config.logger.warn('session index update failed', describeCause(err)));
    }
    await saveSession(this.req, this.runtime.config.httpTimeout);
  }

  async fetchUserInfo(): Promise<Record<string, unknown>> {
    const accessToken = await this.getAccessToken();
    const opened = this.open();
    return userInfoRequest(this.runtime, { accessToken, dpopKey: opened?.tokens.dpop_key }, opened?.record.sub ?? '');
  }
}

/** The claims worth keeping in the session: protocol-only members go. */
export function publicClaims(claims: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (name === 'nonce' || name === 'at_hash' || name === 'c_hash' || name === 's_hash') continue;
    out[name] = value;
  }
  return out;
}

/** True for an error that means "sign in (again)". */
export function isLoginRequired(err: unknown): err is AuthError {
  return isAuthError(err) && err.code === 'login_required';
}
