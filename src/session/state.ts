import type { IncomingMessage, ServerResponse } from 'node:http';
import type session from 'express-session';
import type { CookieOptions, SessionData, Store } from 'express-session';
import type { SessionMiddlewareOptions } from './middleware.js';

/*
 * A request's session bookkeeping for \`sessionMiddleware()\`, and what the rest of the package
 * reads from it (\`sessionData\`, \`hasSession\`, \`sessionStoreError\`, \`sessionSaved\`).
 */

export type SessionObject = session.Session & Partial<SessionData>;
export type AnyRequest = IncomingMessage & { session?: SessionObject | null; sessionID?: string; sessionStore?: Store; secure?: boolean };

/** One middleware's settings and memory, shared by its requests. */
export interface Instance {
  options: SessionMiddlewareOptions;
  cookieOptions: CookieOptions;
  idleMs: number;
  renewals: Map<string, { at: number; expires: number }>;
  /** Cookie values whose signature checked out, and their session ids (bounded like `renewals`). */
  verified: Map<string, string>;
  generate(req: AnyRequest): void;
}

/** A request's session bookkeeping. */
export interface SessionState {
  instance: Instance;
  req: AnyRequest;
  res: ServerResponse;
  /** The id the cookie carried, when it was signed by us. */
  cookieId: string | undefined;
  /** The record as read (plain JSON data; deeply frozen when it came from the local cache), or null when the store had none. */
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

export const STATE = Symbol('oidc-guard.session-state');
export const STORE_ERROR = Symbol('oidc-guard.session-error');

export function stateOf(req: object): SessionState | undefined {
  return (req as Record<symbol, SessionState | undefined>)[STATE];
}

/** The session store failure of this request (it then has no session), if any. */
export function sessionStoreError(req: object): unknown {
  // A request with its bookkeeping read its record: no failure. Checked first, as the failure's
  // symbol is absent on almost every request, and an absent property is looked up through the
  // whole prototype chain of an Express request.
  if (stateOf(req) !== undefined) return undefined;
  return (req as Record<symbol, unknown>)[STORE_ERROR];
}

/**
 * The session's data without building `req.session`: the `Session` when it exists, else the
 * record as read; undefined when the request has none yet. For reading only (a record from the
 * local cache is frozen and shared between requests) — to change the session, use `req.session`.
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
export function dataJson(sess: session.Session, standIn: unknown): string {
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

/**
 * For a request whose `req.session` is one of `sessionMiddleware()`'s (built, not the app's own
 * express-session): true. The sign-in callback then may regenerate it early (see `sessionStartsOver`).
 */
export function ownsSession(req: object): boolean {
  const state = stateOf(req);
  return state !== undefined && state.materialized;
}

/**
 * Right after `req.session.regenerate()`: the new session counts as unchanged from here on, as a
 * new visitor's does (nothing stored, no cookie sent, until the request changes it). Without
 * this, a regenerated session is written at the end of the response even when empty, as
 * express-session does. No-op for sessions that are not `sessionMiddleware()`'s.
 */
export function sessionStartsOver(req: object): void {
  const state = stateOf(req);
  const sess = state ? currentSession(state) : undefined;
  if (!state || !sess) return;
  state.startId = (req as AnyRequest).sessionID;
  state.cookieStandIn = null;
  state.snapshot = dataJson(sess, null);
}

/**
 * The request's session as the app left it: `Session.destroy()` deletes `req.session` (the
 * accessor with it), so it is read back from the request, not from the bookkeeping.
 */
export function currentSession(state: SessionState): SessionObject | null | undefined {
  return state.materialized ? state.req.session : undefined;
}
