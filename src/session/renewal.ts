import type { ServerResponse } from 'node:http';
import type session from 'express-session';
import type { SessionData } from 'express-session';
import { signSessionId } from './cookie.js';
import { currentSession, dataJson, type AnyRequest, type Instance, type SessionObject, type SessionState } from './state.js';

/* When a session's cookie and record are renewed, and when the browser gets a new cookie. */

export function isSecure(req: AnyRequest): boolean {
  return (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true || req.secure === true;
}

export function appendSetCookie(res: ServerResponse, line: string): void {
  const prev = res.getHeader('Set-Cookie');
  res.setHeader('Set-Cookie', prev === undefined ? line : Array.isArray(prev) ? [...prev, line] : [String(prev), line]);
}

export function remember(instance: Instance, id: string, expires: number, now: number): void {
  const { renewals } = instance;
  renewals.delete(id);
  renewals.set(id, { at: now, expires });
  if (renewals.size > (instance.options.renewalMemory ?? 10_000)) renewals.delete(renewals.keys().next().value!);
}

export function renewalDue(instance: Instance, id: string, expires: number, now: number): boolean {
  const last = instance.renewals.get(id);
  // A second of slack: a capped expiry recomputed on each request moves by milliseconds.
  return last === undefined || now - last.at >= instance.options.touchAfterMs || expires < last.expires - 1000;
}

/** The expiry a renewal gives now: the cookie's lifetime, capped by `expiryCap`. */
export function renewedExpiry(
  instance: Instance,
  data: Partial<SessionData> | null | undefined,
  sessionId: string | undefined,
  now: number,
): number {
  const cap = data ? instance.options.expiryCap?.(data, sessionId) : undefined;
  const idle = now + instance.idleMs;
  return cap !== undefined && cap < idle ? Math.max(now + 1000, cap) : idle;
}

/** Resets the session's cookie to a renewal's expiry (express-session's `touch()`, capped). */
export function renewCookie(instance: Instance, sess: SessionObject, now: number): number {
  if (instance.idleMs === Infinity) return Infinity;
  const expires = renewedExpiry(instance, sess, sess.id, now);
  const maxAge = expires - now;
  sess.cookie.originalMaxAge = maxAge;
  sess.cookie.maxAge = maxAge;
  return expires;
}

/**
 * Where the session stands against the store: `modified` since the request found it, `save`
 * (modified and not yet written by an explicit save of the same data), `stored` (a record exists
 * for its id: loaded, or saved in this request).
 */
export function standing(state: SessionState, sess: SessionObject, id: string): { modified: boolean; save: boolean; stored: boolean } {
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
export function decideCookie(state: SessionState, modified: boolean, willBeStored: boolean, now: number): void {
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
