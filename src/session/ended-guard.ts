import type { SessionData, Store } from 'express-session';
import type { EndedSessions } from '../redis/ended-sessions.js';
import { SessionEndedError } from './store.js';

type Callback = (err?: unknown) => void;

const GUARDED = Symbol.for('express-oidc-guard.ended-guard');
const REPORT = Symbol.for('express-oidc-guard.report-ended');

/**
 * Asks that a write of this session object fail with `SessionEndedError` when the session turns
 * out to have ended (see `guardEndedSessions`), instead of being dropped quietly. For a write the
 * caller waits on (a refresh that must not answer as signed in); the end-of-response write of a
 * session middleware cannot report anything, so it is not asked.
 */
export function reportEnded(sess: object): void {
  Object.defineProperty(sess, REPORT, { value: true, configurable: true, enumerable: false });
}

/**
 * Makes a logout stick with any express-session store (issue: a request that loaded a signed-in
 * session before a logout ended it would write it back afterwards, signed in again). The store's
 * own `destroy` and `set` are wrapped, on this store object only:
 * - `destroy(id)` marks the id as ended first (`ended.mark`), then destroys;
 * - `set(id, sess)` of a signed-in session writes, then checks the mark; when the id has ended it
 *   destroys the record again, and answers `SessionEndedError` if the writer asked
 *   (`reportEnded`), else success (nothing was kept).
 * Why write first and check after: with the mark set before the destroy, either the check sees
 * the mark, or the whole write happened before the mark and so before the destroy, which removes
 * it. No store needs a conditional write for this. Only writes of signed-in sessions pay the check.
 * Calling this twice on one store changes nothing.
 */
export function guardEndedSessions(store: Store, ended: EndedSessions, signedIn: (sess: Partial<SessionData>) => boolean): void {
  const marked = store as Store & { [GUARDED]?: true };
  if (marked[GUARDED]) return;
  Object.defineProperty(marked, GUARDED, { value: true, enumerable: false });
  const destroy = store.destroy;
  const set = store.set;

  store.destroy = function (this: Store, sid: string, cb?: Callback): void {
    ended.mark(sid).then(
      () => destroy.call(this, sid, cb),
      (err: unknown) => cb?.(err),
    );
  };

  store.set = function (this: Store, sid: string, sess: SessionData, cb?: Callback): void {
    if (!signedIn(sess)) {
      set.call(this, sid, sess, cb);
      return;
    }
    set.call(this, sid, sess, (err?: unknown) => {
      if (err) return cb?.(err);
      ended.has(sid).then(
        (gone) => {
          if (!gone) return cb?.();
          const report = (sess as unknown as Record<symbol, unknown>)[REPORT] === true;
          destroy.call(this, sid, (destroyErr?: unknown) => cb?.(destroyErr ?? (report ? new SessionEndedError() : undefined)));
        },
        (checkErr: unknown) => cb?.(checkErr),
      );
    });
  };
}
