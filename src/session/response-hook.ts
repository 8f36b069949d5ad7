import type { ServerResponse } from 'node:http';
import type { Request } from 'express';
import session, { type SessionData } from 'express-session';
import { describeCause } from '../util/logger.js';
import { decideCookie, remember, renewCookie, standing } from './renewal.js';
import { currentSession, dataJson, stateOf, type AnyRequest, type SessionObject, type SessionState } from './state.js';
import { rawRecordOf, requireExisting, SessionEndedError } from './store.js';

/*
 * \`req.session\` built on first access, and the response watched: the cookie goes out with the
 * headers, a changed session is written (or an unchanged one renewed) before the end.
 */

const sessionSave = (session.Session.prototype as unknown as { save(this: SessionObject, fn?: (err?: unknown) => void): SessionObject })
  .save;

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
  if (value instanceof session.Session && (value as { save: unknown }).save === sessionSave)
    Object.defineProperty(value, 'save', TRACKED_SAVE);
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
export const FRESH_ID_PROPERTY: PropertyDescriptor = { configurable: true, enumerable: true, get: getFreshId, set: setFreshId };
export const SESSION_PROPERTY: PropertyDescriptor = { configurable: true, enumerable: true, get: getSession, set: setSession };

/** Builds `req.session`: the stored record as an express-session `Session`, or a new session. */
export function materialize(state: SessionState): void {
  state.materialized = true;
  const { req, record } = state;
  if (record) {
    // Before createSession() swaps the record's cookie for a Cookie object.
    state.snapshot = state.raw ?? rawRecordOf(record) ?? JSON.stringify(record);
    state.cookieStandIn = record.cookie;
    state.startId = req.sessionID;
    // A record from the local cache is shared and frozen (see the store's `get`): the session gets
    // a copy of its own, parsed from the text (the same JSON, so "modified?" still compares equal).
    const own = Object.isFrozen(record)
      ? state.raw !== undefined
        ? (JSON.parse(state.raw) as SessionData)
        : structuredClone(record)
      : record;
    state.instance.options.store.createSession(req as unknown as Request, own); // assigns req.session
    if (state.session && state.instance.options.mustExist?.(state.session)) requireExisting(state.session);
  } else {
    state.instance.generate(req);
    state.startId = req.sessionID;
    state.snapshot = dataJson(state.session!, null);
  }
  hook(state);
}

/** Watches the response: the cookie goes out with the headers, the record is written before the end. */
export function hook(state: SessionState): void {
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
