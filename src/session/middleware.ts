import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { type CookieOptions, type SessionData, type Store } from 'express-session';
import { ServiceUnavailableError } from '../errors/index.js';
import { shortcuts } from '../config/shortcuts.js';
import { toDictionaryMode } from '../util/dictionary-mode.js';
import { describeCause, type Logger } from '../util/logger.js';
import { readCookie, unsignSessionId } from './cookie.js';
import { renewalDue, renewedExpiry } from './renewal.js';
import { FRESH_ID_PROPERTY, hook, SESSION_PROPERTY } from './response-hook.js';
import { SHARED_RECORD } from './store.js';
import { STATE, STORE_ERROR, stateOf, type AnyRequest, type Instance, type SessionObject, type SessionState } from './state.js';

export { hasSession, ownsSession, sessionData, sessionSaved, sessionStartsOver, sessionStoreError } from './state.js';

/**
 * The request side of express-session, rebuilt for the signed-in page view. express-session
 * itself does, per request, three hashes of the whole record (JSON with a replacer function plus
 * SHA-1), builds `Session` and `Cookie` objects, wraps the response, and renews a rolling
 * session with a store `touch` (a Redis `EXPIRE`) and a `Set-Cookie` on every response: that, not
 * Redis, was most of the cost of a page view. This middleware keeps express-session's formats
 * and objects — the same signed cookie (`s:<id>.<mac>`), the same records in the same `Store`
 * (connect-redis on ioredis by default), `req.session` an express-session `Session` with its
 * `Cookie`, so `save()`, `regenerate()`, `destroy()`, `reload()` and `touch()` work as apps
 * expect — and changes when work is done:
 *
 * - `req.session` is built on first access. A request that never touches it (most page views:
 *   `auth()` reads the record through `sessionData()`) cannot have changed it, so nothing is
 *   compared or written;
 * - "modified?" is one `JSON.stringify` of the session compared with the record's text as read
 *   (no hashing; a nested change counts, as with express-session);
 * - the rolling renewal (new cookie expiry, store `touch`) happens at most once per
 *   `touchAfterMs` per session and process, and whenever the session is saved or its expiry
 *   moves earlier; with `touchAfterMs: 0` every response renews, as express-session does.
 *
 * Unchanged from express-session: nothing is stored for a visitor until the session is modified
 * (`saveUninitialized: false`), a record is written only when modified (`resave: false`), the
 * response waits for that write, a secure cookie is not sent over plain HTTP, and a session
 * `destroy()`ed or set to `null` is not written back.
 */
export interface SessionMiddlewareOptions {
  /** Cookie name. */
  name: string;
  /** Signing secrets; the first signs, all verify (rotation). */
  secrets: readonly string[];
  /** Where records live (any express-session Store). */
  store: Store;
  /** The session cookie's attributes; `maxAge` is the lifetime each renewal gives. */
  cookie: CookieOptions;
  /** Each response may renew the cookie's expiry and the record's TTL. */
  rolling: boolean;
  /** Least time between two renewals of one session by this process, in ms; 0 renews on every response. */
  touchAfterMs: number;
  /** How long reading the record may take before the request goes on without a session, in ms. */
  timeoutMs: number;
  /**
   * Sessions loaded from the store for which this is true are written back only over their
   * existing record (see `requireExisting`), never re-created once destroyed elsewhere.
   */
  mustExist?: (data: Partial<SessionData>) => boolean;
  /** The latest expiry (epoch ms) a session's cookie may get, from its data and id; undefined for none. */
  expiryCap?: (data: Partial<SessionData>, sessionId: string | undefined) => number | undefined;
  logger: Logger;
  /** Sessions whose last renewal (and verified cookie values) this process remembers, oldest forgotten first. Default 10000. */
  renewalMemory?: number;
  /**
   * Send the cookie without `Expires`: it ends with the browser session. The record keeps its
   * expiry (and the store its TTL), so the server side still ends the session on time.
   */
  transient?: boolean;
}

/**
 * The session id of a signed cookie value. A value that checked out once is remembered (the
 * secrets do not change while the process runs), sparing later views of the session the HMAC;
 * only values that verified are kept, so the memory holds nothing an attacker chose freely.
 */
function verifiedId(instance: Instance, signed: string): string | undefined {
  const known = instance.verified.get(signed);
  if (known !== undefined) return known;
  const id = unsignSessionId(signed, instance.options.secrets);
  if (id !== undefined) {
    const { verified } = instance;
    verified.set(signed, id);
    if (verified.size > (instance.options.renewalMemory ?? 10_000)) verified.delete(verified.keys().next().value!);
  }
  return id;
}

/**
 * The settings and memory one middleware shares between its requests. Its session generator joins
 * the store's: `Store.prototype.regenerate()` calls `store.generate` to make the new session, and
 * one store may serve several middlewares (or express-session too), so each request gets a session
 * of the middleware it went through, and requests of none of ours keep the generator the store had.
 */
function createInstance(options: SessionMiddlewareOptions): Instance {
  const { store } = options;
  const cookieOptions = { ...options.cookie };
  // The typings hide these constructors; express-session's own middleware calls them like this.
  const Session = session.Session as unknown as new (req: AnyRequest) => SessionObject;
  const Cookie = session.Cookie as unknown as new (options: CookieOptions) => session.Cookie;
  const instance: Instance = {
    options,
    cookieOptions,
    idleMs: cookieOptions.maxAge ?? Infinity,
    renewals: new Map(),
    verified: new Map(),
    generate(req: AnyRequest): void {
      req.sessionID = randomBytes(24).toString('base64url');
      const fresh = new Session(req);
      fresh.cookie = new Cookie(cookieOptions);
      req.session = fresh;
    },
  };
  const withGenerate = store as Store & { generate?: (req: AnyRequest) => void };
  const previous = withGenerate.generate;
  withGenerate.generate = (req) => {
    const own = stateOf(req)?.instance;
    if (own) own.generate(req);
    else if (typeof previous === 'function') previous.call(store, req);
    else instance.generate(req);
  };
  return instance;
}

/** A request's bookkeeping before its record is read (one shape for every request). */
function newState(instance: Instance, req: AnyRequest, res: ServerResponse, cookieId: string | undefined): SessionState {
  return {
    instance,
    req,
    res,
    cookieId,
    record: null,
    raw: undefined,
    materialized: false,
    session: undefined,
    freshId: undefined,
    startId: undefined,
    snapshot: undefined,
    cookieStandIn: null,
    savedId: undefined,
    savedJson: undefined,
    savedExpires: undefined,
    hooked: false,
    renewDue: false,
    cookieDecided: false,
    renewed: false,
  };
}

/** Attaches the bookkeeping to the request: `req.session` becomes the accessor that builds it. */
function begin(state: SessionState): void {
  (state.req as unknown as Record<symbol, unknown>)[STATE] = state;
  Object.defineProperty(state.req, 'session', SESSION_PROPERTY);
}

/**
 * Reads the record of the cookie's session id (at most `timeoutMs`), then calls `next`. A store
 * that fails, throws or does not answer in time leaves the request without a session (signed
 * out; routes that need it answer 503), never failing it.
 */
function load(state: SessionState, cookieId: string, next: NextFunction): void {
  const { instance, req } = state;
  const { store, timeoutMs, logger } = instance.options;
  let settled = false;
  // Started only when the store did not answer at once (the local cache answers in the same tick).
  let timer: NodeJS.Timeout | undefined;
  function loaded(err: unknown, record?: SessionData | null, raw?: unknown): void {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    if (err) {
      (req as unknown as Record<symbol, unknown>)[STORE_ERROR] = err;
      logger.warn('session store unavailable; request continues signed out', describeCause(err));
      next();
      return;
    }
    begin(state);
    if (record) {
      state.record = record;
      if (typeof raw === 'string') state.raw = raw;
      req.sessionID = cookieId;
      const now = Date.now();
      state.renewDue = renewalDue(instance, cookieId, renewedExpiry(instance, record, cookieId, now), now);
      // The renewal happens at the end of the response, whether or not the request builds the session.
      if (state.renewDue) hook(state);
    } else {
      Object.defineProperty(req, 'sessionID', FRESH_ID_PROPERTY);
    }
    next();
  }
  try {
    // The Redis store of `createSessionStore()` then hands out the local cache's frozen record
    // (other stores ignore the third argument).
    (store as unknown as { get(sid: string, cb: typeof loaded, mode: symbol): void }).get(cookieId, loaded, SHARED_RECORD);
  } catch (err) {
    // A store that throws instead of calling back fails like one that answers an error: no 500.
    loaded(err);
  }
  if (!settled) timer = setTimeout(() => loaded(new ServiceUnavailableError('The session store did not answer in time.')), timeoutMs);
}

/** express-session's session middleware, with the per-request costs cut (see `SessionMiddlewareOptions`). */
export function sessionMiddleware(options: SessionMiddlewareOptions): RequestHandler {
  const { name, store } = options;
  const instance = createInstance(options);
  const dictionary = shortcuts.dictionaryMode;
  return function oidcSession(req: Request, res: Response, next: NextFunction): void {
    const r = req as unknown as AnyRequest;
    // `in` first: on almost every request neither is there, and one lookup through the prototype
    // chain says so for both (our own accessor and express-session's property are both `session`).
    if ('session' in r && (stateOf(r) !== undefined || r.session)) {
      // Another session middleware ran first: leave it in charge.
      next();
      return;
    }
    if (dictionary) toDictionaryMode(r);
    r.sessionStore = store;
    const signed = readCookie(req.headers.cookie, name);
    const cookieId = signed === undefined ? undefined : verifiedId(instance, signed);
    const state = newState(instance, r, res, cookieId);
    if (cookieId === undefined) {
      begin(state);
      Object.defineProperty(req, 'sessionID', FRESH_ID_PROPERTY);
      next();
      return;
    }
    load(state, cookieId, next);
  };
}
