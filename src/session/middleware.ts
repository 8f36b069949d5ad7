import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session, { type CookieOptions, type SessionData, type Store } from 'express-session';
import { ServiceUnavailableError } from '../errors/index.js';
import { describeCause, type Logger } from '../util/logger.js';
import { readCookie, signSessionId, unsignSessionId } from './cookie.js';
import { rawRecordOf, requireExisting, SessionEndedError } from './store.js';

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

type SessionObject = session.Session & Partial<SessionData>;
type AnyRequest = IncomingMessage & { session?: SessionObject | null; sessionID?: string; sessionStore?: Store; secure?: boolean };

/** One middleware's settings and memory, shared by its requests. */
interface Instance {
  options: SessionMiddlewareOptions;
  cookieOptions: CookieOptions;
  idleMs: number;
  renewals: Map<string, { at: number; expires: number }>;
  /** Cookie values whose signature checked out, and their session ids (bounded like `renewals`). */
  verified: Map<string, string>;
  generate(req: AnyRequest): void;
}

/** A request's session bookkeeping. */
interface SessionState {
  instance: Instance;
  req: AnyRequest;
  res: ServerResponse;
  /** The id the cookie carried, when it was signed by us. */
  cookieId: string | undefined;
  /** The record as read (plain JSON data), or null when the store had none. */
  record: SessionData | null;
  /** The record's text, when the store gave it (createSessionStore's does). */
  raw: string | undefined;
  /** `req.session` exists (was built on access, or assigned). */
  materialized: boolean;
  session: SessionObject | null | undefined;
  /** `req.sessionID` of a request that had no stored session (an accessor then, see `begin`). */
  freshId: string | undefined;
  /** The session's id and JSON when it was built (with `cookieStandIn` as its cookie). */
  startId: string | undefined;
  snapshot: string | undefined;
  /** Replaces `cookie` while the session becomes JSON: the record's cookie object, or null. */
  cookieStandIn: unknown;
  /** The id and JSON of the last explicit save (`sessionSaved()`). */
  savedId: string | undefined;
  savedJson: string | undefined;
  /** The cookie expiry an explicit `save()` wrote (the record's TTL follows it: no touch needed). */
  savedExpires: number | undefined;
  /** The response's end and headers are watched. */
  hooked: boolean;
  /** This response renews the stored session (decided when it was read). */
  renewDue: boolean;
  /** The Set-Cookie decision was taken (once, before the headers go out). */
  cookieDecided: boolean;
  /** A renewed cookie of the stored session was sent: the record's TTL must follow. */
  renewed: boolean;
}

const STATE = Symbol('oidc-guard.session-state');
const STORE_ERROR = Symbol('oidc-guard.session-error');

function stateOf(req: object): SessionState | undefined {
  return (req as Record<symbol, SessionState | undefined>)[STATE];
}

/** The session store failure of this request (it then has no session), if any. */
export function sessionStoreError(req: object): unknown {
  return (req as Record<symbol, unknown>)[STORE_ERROR];
}

/**
 * The session's data without building `req.session`: the `Session` when it exists, else the
 * record as read; undefined when the request has none yet. For reading only — to change the
 * session, use `req.session`.
 */
export function sessionData(req: object): Partial<SessionData> | undefined {
  const state = stateOf(req);
  if (!state) return ((req as AnyRequest).session ?? undefined) as Partial<SessionData> | undefined;
  if (state.materialized) return currentSession(state) ?? undefined;
  return state.record ?? undefined;
}

/** True when the request has a session (or can get a fresh one): the store did not fail. */
export function hasSession(req: object): boolean {
  const state = stateOf(req);
  if (!state) return (req as AnyRequest).session != null;
  return state.materialized ? currentSession(state) != null : true;
}

/** The session's JSON with its cookie replaced by `standIn` (cookie changes are not modifications). */
function dataJson(sess: session.Session, standIn: unknown): string {
  const holder = sess as unknown as { cookie: unknown };
  const cookie = holder.cookie;
  holder.cookie = standIn;
  try {
    return JSON.stringify(sess);
  } finally {
    holder.cookie = cookie;
  }
}

/**
 * Tells the middleware that the session was just written on purpose (before a redirect that
 * depends on it), so the end of the response does not write the same record again.
 */
export function sessionSaved(req: object): void {
  const state = stateOf(req);
  const sess = state ? currentSession(state) : undefined;
  const id = (req as AnyRequest).sessionID;
  if (!state || !sess || typeof id !== 'string') return;
  state.savedId = id;
  state.savedJson = dataJson(sess, state.cookieStandIn);
}

const sessionSave = (session.Session.prototype as unknown as { save(this: SessionObject, fn?: (err?: unknown) => void): SessionObject }).save;

/**
 * `req.session.save()` as the app calls it: the session is remembered as saved, so the end of the
 * response does not write the same record again (express-session wraps `save` the same way).
 */
function trackedSave(this: SessionObject, fn?: (err?: unknown) => void): SessionObject {
  const state = stateOf((this as unknown as { req: object }).req);
  if (state && currentSession(state) === this) {
    // Renewed before it is written, as at the end of the response, so the record's TTL is the
    // one the cookie gets and the response need not touch the record again.
    if (!state.renewed) state.savedExpires = renewCookie(state.instance, this, Date.now());
    state.savedId = this.id;
    state.savedJson = dataJson(this, state.cookieStandIn);
  }
  return sessionSave.call(this, fn);
}
const TRACKED_SAVE: PropertyDescriptor = { configurable: true, enumerable: false, writable: true, value: trackedSave };

// `req.session` is an accessor so the session is built only when used. `req.sessionID` is a plain
// property holding the cookie's id when a stored session was found (the common page view), and
// an accessor that builds the new session when there was none. The functions are shared (not
// closures) so every request keeps the same hidden class.
function getSession(this: AnyRequest): SessionObject | null | undefined {
  const state = stateOf(this)!;
  if (!state.materialized) materialize(state);
  return state.session;
}
function setSession(this: AnyRequest, value: SessionObject | null | undefined): void {
  const state = stateOf(this)!;
  state.materialized = true;
  state.session = value;
  // Every Session the request gets (built, regenerated, reloaded) reports its explicit saves.
  if (value instanceof session.Session && (value as { save: unknown }).save === sessionSave) Object.defineProperty(value, 'save', TRACKED_SAVE);
  hook(state);
}
function getFreshId(this: AnyRequest): string | undefined {
  const state = stateOf(this)!;
  if (!state.materialized) materialize(state);
  return state.freshId;
}
function setFreshId(this: AnyRequest, value: string | undefined): void {
  stateOf(this)!.freshId = value;
}
const FRESH_ID_PROPERTY: PropertyDescriptor = { configurable: true, enumerable: true, get: getFreshId, set: setFreshId };
const SESSION_PROPERTY: PropertyDescriptor = { configurable: true, enumerable: true, get: getSession, set: setSession };

/** Builds `req.session`: the stored record as an express-session `Session`, or a new session. */
function materialize(state: SessionState): void {
  state.materialized = true;
  const { req, record } = state;
  if (record) {
    // Before createSession() swaps the record's cookie for a Cookie object.
    state.snapshot = state.raw ?? rawRecordOf(record) ?? JSON.stringify(record);
    state.cookieStandIn = record.cookie;
    state.startId = req.sessionID;
    state.instance.options.store.createSession(req as unknown as Request, record); // assigns req.session
    if (state.session && state.instance.options.mustExist?.(state.session)) requireExisting(state.session);
  } else {
    state.instance.generate(req);
    state.startId = req.sessionID;
    state.snapshot = dataJson(state.session!, null);
  }
  hook(state);
}

function isSecure(req: AnyRequest): boolean {
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true || req.secure === true;
}

function appendSetCookie(res: ServerResponse, line: string): void {
  const prev = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', prev === undefined ? line : Array.isArray(prev) ? [...prev, line] : [String(prev), line]);
}

function remember(instance: Instance, id: string, expires: number, now: number): void {
  const { renewals } = instance;
  renewals.delete(id);
  renewals.set(id, { at: now, expires });
  if (renewals.size > (instance.options.renewalMemory ?? 10_000)) renewals.delete(renewals.keys().next().value!);
}

function renewalDue(instance: Instance, id: string, expires: number, now: number): boolean {
  const last = instance.renewals.get(id);
  // A second of slack: a capped expiry recomputed on each request moves by milliseconds.
  return last === undefined || now - last.at >= instance.options.touchAfterMs || expires < last.expires - 1000;
}

/** The expiry a renewal gives now: the cookie's lifetime, capped by `expiryCap`. */
function renewedExpiry(instance: Instance, data: Partial<SessionData> | null | undefined, sessionId: string | undefined, now: number): number {
  const cap = data ? instance.options.expiryCap?.(data, sessionId) : undefined;
  const idle = now + instance.idleMs;
  return cap !== undefined && cap < idle ? Math.max(now + 1000, cap) : idle;
}

/** Resets the session's cookie to a renewal's expiry (express-session's `touch()`, capped). */
function renewCookie(instance: Instance, sess: SessionObject, now: number): number {
  if (instance.idleMs === Infinity) return Infinity;
  const expires = renewedExpiry(instance, sess, sess.id, now);
  const maxAge = expires - now;
  sess.cookie.originalMaxAge = maxAge;
  sess.cookie.maxAge = maxAge;
  return expires;
}

/**
 * The request's session as the app left it: `Session.destroy()` deletes `req.session` (the
 * accessor with it), so it is read back from the request, not from the bookkeeping.
 */
function currentSession(state: SessionState): SessionObject | null | undefined {
  return state.materialized ? state.req.session : undefined;
}

/**
 * Where the session stands against the store: `modified` since the request found it, `save`
 * (modified and not yet written by an explicit save of the same data), `stored` (a record exists
 * for its id: loaded, or saved in this request).
 */
function standing(state: SessionState, sess: SessionObject, id: string): { modified: boolean; save: boolean; stored: boolean } {
  const json = dataJson(sess, state.cookieStandIn);
  const modified = id !== state.startId || json !== state.snapshot;
  const savedNow = state.savedId === id;
  return {
    modified,
    save: modified && !(savedNow && state.savedJson === json),
    stored: savedNow || (id === state.cookieId && state.startId === id && state.record !== null),
  };
}

/** Sets the cookie when the browser needs a new one (once per response). */
function decideCookie(state: SessionState, modified: boolean, willBeStored: boolean, now: number): void {
  if (state.cookieDecided) return;
  state.cookieDecided = true;
  const { instance, req, res } = state;
  const sess = currentSession(state);
  const id = state.req.sessionID;
  if (!sess || typeof id !== 'string') return;
  if (sess.cookie.secure && !isSecure(req)) return;
  let send: boolean;
  if (id !== state.cookieId) send = willBeStored;
  else if (instance.options.rolling) send = modified || state.renewDue;
  else send = modified && sess.cookie.expires != null;
  if (!send) return;
  // After an explicit save, the cookie goes out with the expiry that save wrote.
  const expires = state.savedId === id && state.savedExpires !== undefined ? state.savedExpires : renewCookie(instance, sess, now);
  const cookie = sess.cookie as session.Cookie & { serialize(name: string, value: string): string };
  const line = cookie.serialize(instance.options.name, signSessionId(id, instance.options.secrets[0]!));
  appendSetCookie(res, instance.options.transient ? line.replace(/; Expires=[^;]*/i, '') : line);
  remember(instance, id, expires, now);
  state.renewed = true;
}

/** Watches the response: the cookie goes out with the headers, the record is written before the end. */
function hook(state: SessionState): void {
  if (state.hooked) return;
  state.hooked = true;
  const { res, instance } = state;
  const { store, logger } = instance.options;

  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    // A renewal builds the session if the request did not (a streamed response gets here before end()).
    if (!state.cookieDecided && !state.materialized && state.renewDue) materialize(state);
    if (!state.cookieDecided && state.materialized) {
      const sess = currentSession(state);
      const id = state.req.sessionID;
      if (sess && typeof id === 'string') {
        const { modified, save, stored } = standing(state, sess, id);
        decideCookie(state, modified, stored || save, Date.now());
      }
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;

  const end = res.end;
  let ended = false;
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    const finish = (): ServerResponse => (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    if (ended) return finish();
    ended = true;
    // A renewal builds the session if the request did not.
    if (!state.materialized) {
      if (!state.renewDue) return finish();
      materialize(state);
    }
    const sess = currentSession(state);
    const id = state.req.sessionID;
    // Destroyed, or set to null: nothing to write (express-session's default `unset: 'keep'`).
    if (!sess || typeof id !== 'string') return finish();
    const now = Date.now();
    const { modified, save, stored } = standing(state, sess, id);
    if (!res.headersSent) decideCookie(state, modified, stored || save, now);
    if (save) {
      if (!state.renewed) renewCookie(instance, sess, now);
      const expires = sess.cookie.expires?.getTime() ?? Infinity;
      sess.save((err?: unknown) => {
        if (err instanceof SessionEndedError) logger.info('session ended while the request ran; not written back');
        else if (err) logger.warn('session store failed while saving the session', describeCause(err));
        else remember(instance, id, expires, now);
        finish();
      });
      return res;
    }
    // An unchanged stored session: the record's TTL follows a renewed cookie; a non-rolling
    // session (whose cookie keeps its expiry) has its TTL extended on the same schedule.
    // (A renewal whose cookie could not go out — a secure cookie over plain HTTP — still extends the TTL.)
    // (An explicit save in this response wrote the TTL already.)
    if (stored && id === state.cookieId && state.savedId !== id && typeof store.touch === 'function' && (state.renewed || state.renewDue)) {
      const expires = state.renewed ? (sess.cookie.expires?.getTime() ?? Infinity) : renewCookie(instance, sess, now);
      store.touch!(id, sess as unknown as SessionData, (err?: unknown) => {
        if (err) logger.warn('session store failed while renewing the session', describeCause(err));
        else remember(instance, id, expires, now);
        finish();
      });
      return res;
    }
    return finish();
  } as typeof res.end;
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

/** express-session's session middleware, with the per-request costs cut (see `SessionMiddlewareOptions`). */
export function sessionMiddleware(options: SessionMiddlewareOptions): RequestHandler {
  const { name, store, timeoutMs, logger } = options;
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
  // Store.prototype.regenerate() calls this to make the new session. One store may serve several
  // middlewares (or express-session too): each request gets a session of the middleware it went
  // through, and requests of none of ours keep the generator the store had.
  const withGenerate = store as Store & { generate?: (req: AnyRequest) => void };
  const previous = withGenerate.generate;
  withGenerate.generate = (req) => {
    const own = stateOf(req)?.instance;
    if (own) own.generate(req);
    else if (typeof previous === 'function') previous.call(store, req);
    else instance.generate(req);
  };

  return function oidcSession(req: Request, res: Response, next: NextFunction): void {
    const r = req as unknown as AnyRequest;
    if (stateOf(r) !== undefined || r.session) {
      // Another session middleware ran first: leave it in charge.
      next();
      return;
    }
    r.sessionStore = store;
    const signed = readCookie(req.headers.cookie, name);
    const cookieId = signed === undefined ? undefined : verifiedId(instance, signed);
    const state: SessionState = {
      instance,
      req: r,
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

    const begin = (): void => {
      (req as unknown as Record<symbol, unknown>)[STATE] = state;
      Object.defineProperty(req, 'session', SESSION_PROPERTY);
    };

    if (cookieId === undefined) {
      begin();
      Object.defineProperty(req, 'sessionID', FRESH_ID_PROPERTY);
      next();
      return;
    }

    let settled = false;
    const timer = setTimeout(() => loaded(new ServiceUnavailableError('The session store did not answer in time.')), timeoutMs);
    function loaded(err: unknown, record?: SessionData | null, raw?: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        // The request goes on without a session (signed out); routes that need it answer 503.
        (req as unknown as Record<symbol, unknown>)[STORE_ERROR] = err;
        logger.warn('session store unavailable; request continues signed out', describeCause(err));
        next();
        return;
      }
      begin();
      if (record) {
        state.record = record;
        if (typeof raw === 'string') state.raw = raw;
        r.sessionID = cookieId;
        const now = Date.now();
        state.renewDue = renewalDue(instance, cookieId!, renewedExpiry(instance, record, cookieId, now), now);
        // The renewal happens at the end of the response, whether or not the request builds the session.
        if (state.renewDue) hook(state);
      } else {
        Object.defineProperty(req, 'sessionID', FRESH_ID_PROPERTY);
      }
      next();
    }
    try {
      store.get(cookieId, loaded);
    } catch (err) {
      // A store that throws instead of calling back fails like one that answers an error: no 500.
      loaded(err);
    }
  };
}
