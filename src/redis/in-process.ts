import type { SessionIndexEntry } from './session-index.js';
import type { EndedSessions } from './ended-sessions.js';

/**
 * What the sign-in middleware needs of a per-user session index: `SessionIndex` (Redis) or, for a
 * single process without Redis, `MemorySessionIndex`.
 */
export interface SessionIndexApi {
  add(entry: SessionIndexEntry): Promise<void>;
  remove(entry: { sessionId: string; sub?: string; sid?: string }): Promise<void>;
  listBySub(sub: string): Promise<string[]>;
  listBySid(sid: string): Promise<string[]>;
}

/** What the sign-in middleware needs of a replay guard: true the first time a key is used. */
export type UseOnce = (key: string, ttlMs: number) => Promise<boolean>;

/**
 * The per-user session index of a single process, for the development mode without Redis
 * (`session.allowMemoryStore`). Same behaviour as `SessionIndex`: entries vanish once their
 * session has expired. It sees only sessions this process created.
 */
export class MemorySessionIndex implements SessionIndexApi {
  private readonly bySub = new Map<string, Map<string, number>>();
  private readonly bySid = new Map<string, Map<string, number>>();

  async add(entry: SessionIndexEntry): Promise<void> {
    const now = Date.now();
    if (entry.expiresAt <= now) return;
    put(this.bySub, entry.sub, entry.sessionId, entry.expiresAt, now);
    if (entry.sid !== undefined) put(this.bySid, entry.sid, entry.sessionId, entry.expiresAt, now);
  }

  async remove(entry: { sessionId: string; sub?: string; sid?: string }): Promise<void> {
    if (entry.sub !== undefined) drop(this.bySub, entry.sub, entry.sessionId);
    if (entry.sid !== undefined) drop(this.bySid, entry.sid, entry.sessionId);
  }

  async listBySub(sub: string): Promise<string[]> {
    return live(this.bySub, sub, Date.now());
  }

  async listBySid(sid: string): Promise<string[]> {
    return live(this.bySid, sid, Date.now());
  }
}

function put(map: Map<string, Map<string, number>>, key: string, sessionId: string, expiresAt: number, now: number): void {
  const members = map.get(key) ?? new Map<string, number>();
  for (const [id, at] of members) if (at <= now) members.delete(id);
  members.set(sessionId, expiresAt);
  map.set(key, members);
}

function drop(map: Map<string, Map<string, number>>, key: string, sessionId: string): void {
  const members = map.get(key);
  if (!members) return;
  members.delete(sessionId);
  if (members.size === 0) map.delete(key);
}

function live(map: Map<string, Map<string, number>>, key: string, now: number): string[] {
  const members = map.get(key);
  if (!members) return [];
  for (const [id, at] of members) if (at <= now) members.delete(id);
  if (members.size === 0) map.delete(key);
  return [...members.keys()];
}

/**
 * A single-process replay guard (`useOnce` without Redis), bounded: past `max` live keys the
 * oldest are forgotten first. Expired keys are swept as new ones arrive.
 */
export function memoryUseOnce(max = 10_000): UseOnce {
  const seen = new Map<string, number>();
  return async (key, ttlMs) => {
    const now = Date.now();
    for (const [k, until] of seen) {
      if (until > now) break; // insertion order ~ expiry order for one ttl; good enough to sweep the head
      seen.delete(k);
    }
    const until = seen.get(key);
    if (until !== undefined && until > now) return false;
    seen.set(key, now + ttlMs);
    while (seen.size > max) {
      const oldest = seen.keys().next().value;
      if (oldest === undefined) break;
      seen.delete(oldest);
    }
    return true;
  };
}

/**
 * The marks of ended sessions of a single process (`EndedSessions` without Redis): right only
 * when no other process serves the same sessions (a MemoryStore). Bounded: past `max` marks the
 * oldest are forgotten first.
 */
export class MemoryEndedSessions implements EndedSessions {
  private readonly marks = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 100_000,
  ) {}

  async mark(sessionId: string): Promise<void> {
    const now = Date.now();
    for (const [id, until] of this.marks) {
      if (until > now) break; // one ttl: insertion order is expiry order
      this.marks.delete(id);
    }
    this.marks.delete(sessionId);
    this.marks.set(sessionId, now + this.ttlMs);
    if (this.marks.size > this.max) this.marks.delete(this.marks.keys().next().value!);
  }

  async has(sessionId: string): Promise<boolean> {
    return (this.marks.get(sessionId) ?? 0) > Date.now();
  }
}
