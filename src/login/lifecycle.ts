import type { Store } from 'express-session';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import type { SessionIndexApi } from '../redis/in-process.js';
import { closeRedisClient, pingRedis } from '../redis/client.js';
import { closeSessionStore } from '../session/store.js';
import type { LoginRuntime } from './runtime.js';
import { destroyById } from './session-ops.js';

/** Managing sessions from outside a request (admin pages, account deletion). Needs `session.redis`. */
export interface SessionAdmin {
  /** Ids of the user's live sessions. */
  listBySub(sub: string): Promise<string[]>;
  /** Ends every session of the user; returns how many were ended. */
  destroyAllForSub(sub: string): Promise<number>;
  /** Ends one session by id. */
  destroy(sessionId: string): Promise<void>;
}

/** `sessions.*` of `auth()`: the session index and store, outside any request. */
export function sessionAdmin(runtime: LoginRuntime): SessionAdmin {
  const timeoutMs = LOGIN_DEFAULTS.sessionTimeoutMs;
  const adminStore = (): Store => {
    if (!runtime.store) throw new Error('sessions.* needs a session store (not available with useExistingSession)');
    return runtime.store;
  };
  const requireIndex = (): SessionIndexApi => {
    if (!runtime.index) throw new Error('sessions.* needs session.redis when useExistingSession is set');
    return runtime.index;
  };
  return {
    listBySub: (sub) => requireIndex().listBySub(sub),
    async destroyAllForSub(sub) {
      const index = requireIndex();
      const ids = await index.listBySub(sub);
      for (const id of ids) {
        await destroyById(adminStore(), id, timeoutMs);
        await index.remove({ sessionId: id, sub });
      }
      return ids.length;
    },
    destroy: (sessionId) => destroyById(adminStore(), sessionId, timeoutMs),
  };
}

/** True when the session store answers within a second (a readiness probe). */
export async function health(runtime: LoginRuntime): Promise<boolean> {
  if (runtime.redis) return pingRedis(runtime.redis, 1000);
  const probe = runtime.store;
  if (!probe) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 1000);
    probe.get('oidc-guard-health-probe', (err) => {
      clearTimeout(timer);
      resolve(!err);
    });
  });
}

/** Releases refresh locks, closes the store and the feed, and quits a Redis client `auth()` created. */
export async function close(runtime: LoginRuntime): Promise<void> {
  await runtime.coordinator?.close();
  if (runtime.store) await closeSessionStore(runtime.store);
  await runtime.invalidations?.close();
  if (runtime.redis && runtime.ownsRedis) await closeRedisClient(runtime.redis);
}
