import session, { type SessionData, type Store } from 'express-session';
import type { Cluster, Redis } from 'ioredis';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import { optionError } from '../config/assert.js';
import { RedisEndedSessions, type EndedSessions } from '../redis/ended-sessions.js';
import { MemoryEndedSessions } from '../redis/in-process.js';
import { guardEndedSessions } from '../session/ended-guard.js';
import { writesOnlyOverExisting } from '../session/store.js';
import type { LoginConfig } from './options.js';

const WHY =
  'auth() keeps a short-lived mark of every ended session there, so that a request in flight (a token refresh) cannot write back, signed in, a session that a logout or back-channel logout ended: the store itself cannot refuse such a write';

/**
 * Where `auth()` keeps the marks of ended sessions (see `EndedSessions`): in Redis when it has
 * `session.redis`; in process memory when only one process can serve the sessions (the package's
 * or the app's MemoryStore, `session.allowMemoryStore`). Any other set-up could let a logout be
 * undone by another process: refused here, at start-up, saying why.
 */
export function endedSessionsFor(config: LoginConfig, redis: Redis | Cluster | undefined): EndedSessions {
  const ttlMs = LOGIN_DEFAULTS.endedSessionTtlSeconds * 1000;
  if (redis) return new RedisEndedSessions(redis, { prefix: `${config.session.prefix}ended:`, ttlMs });
  const { store, allowMemoryStore } = config.session;
  if (config.useExistingSession && !allowMemoryStore) {
    throw optionError(
      'session.redis',
      'set with useExistingSession',
      `${WHY}. For a single process in development, set "session.allowMemoryStore: true"`,
    );
  }
  if (store !== undefined && !(store instanceof session.MemoryStore) && !allowMemoryStore) {
    throw optionError(
      'session.redis',
      'set with a session.store that is not a MemoryStore',
      `${WHY}. For a store that only one process uses, set "session.allowMemoryStore: true"`,
    );
  }
  return new MemoryEndedSessions(ttlMs);
}

/** True for a session holding a sign-in (what the marks protect). */
function holdsSignIn(sess: Partial<SessionData>): boolean {
  return sess.oidc?.login !== undefined;
}

/**
 * Guards `store` with the marks (see `guardEndedSessions`) unless it needs none: the package's
 * Redis store writes a signed-in session of its own session middleware only over an existing
 * record (`SET ... XX`).
 */
export function guardStore(store: Store, ended: EndedSessions, ownMiddleware: boolean): void {
  if (ownMiddleware && writesOnlyOverExisting(store)) return;
  guardEndedSessions(store, ended, holdsSignIn);
}
