import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { optionError, optionalString } from '../config/assert.js';
import { sessionStoreUnavailable } from '../errors/index.js';

/** Key prefix of the per-user and per-`sid` indexes when none is given. */
export const DEFAULT_INDEX_PREFIX = 'oidc:idx:';

export interface SessionIndexOptions {
  /** Prefix of the index keys. Default `'oidc:idx:'`. Use one prefix per issuer. */
  prefix?: string;
}

export interface SessionIndexEntry {
  /** The express-session id. */
  sessionId: string;
  /** The ID Token's `sub` (OIDC Core §2). */
  sub: string;
  /** The ID Token's `sid`, when the issuer sends one (OIDC Front/Back-Channel Logout §2.1). */
  sid?: string;
  /** When the session record expires, in ms since the epoch. */
  expiresAt: number;
}

/**
 * For each key: prunes members that expired, optionally adds one (ARGV[2] with score ARGV[3]) or
 * removes one (ARGV[4]), then sets the key to expire with its latest member (Redis deletes an
 * empty sorted set, so no key outlives its sessions). Returns the remaining members of the first
 * key when ARGV[5] is '1'. A session's `sub` and `sid` indexes take one call on a single node
 * (one round trip per sign-in); on a Cluster their keys live in different slots, one call each.
 */
const UPDATE = `
local now = tonumber(ARGV[1])
local members = {}
for i, key in ipairs(KEYS) do
  redis.call('zremrangebyscore', key, '-inf', now)
  if ARGV[2] ~= '' and tonumber(ARGV[3]) > now then redis.call('zadd', key, ARGV[3], ARGV[2]) end
  if ARGV[4] ~= '' then redis.call('zrem', key, ARGV[4]) end
  local top = redis.call('zrange', key, -1, -1, 'WITHSCORES')
  if top[2] then redis.call('pexpireat', key, top[2]) end
  if i == 1 and ARGV[5] == '1' then members = redis.call('zrange', key, 0, -1) end
end
return members
`;

function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/**
 * Which sessions belong to a user (`sub`) or to an issuer session (`sid`), so a logout of one
 * (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.7) can end all of them.
 *
 * Each index is a sorted set with the session's expiry as score: expired members are pruned on
 * every write and read, and the key expires with its last member, so the index stays consistent
 * as sessions expire and leaves no keys behind. `sub` and `sid` are hashed (SHA-256) into key
 * names, so any issuer string is safe there, and wrapped in a Cluster hash tag.
 *
 * What this does NOT do: it does not check that a listed session still exists in the store (a
 * session destroyed without `remove()` stays listed until its expiry); callers destroy by id, which
 * is harmless for a missing one.
 *
 * @example
 * const index = new SessionIndex(client);
 * await index.add({ sessionId: req.sessionID, sub: claims.sub, sid: claims.sid, expiresAt });
 * for (const id of await index.listBySid(logoutToken.sid)) await destroy(id);
 */
export class SessionIndex {
  private readonly client: Redis | Cluster;
  private readonly prefix: string;

  constructor(client: Redis | Cluster, options: SessionIndexOptions = {}) {
    if (typeof client !== 'object' || client === null || typeof (client as Redis).eval !== 'function') {
      throw optionError('client', 'an ioredis client (Redis or Cluster)');
    }
    this.client = client;
    this.prefix = options.prefix === '' ? '' : (optionalString('prefix', options.prefix) ?? DEFAULT_INDEX_PREFIX);
  }

  /** The key of a user's index (public for tests and operations). */
  subKey(sub: string): string {
    return `${this.prefix}sub:{${digest(sub)}}`;
  }

  /** The key of an issuer session's index. */
  sidKey(sid: string): string {
    return `${this.prefix}sid:{${digest(sid)}}`;
  }

  /** Records a session under its `sub` (and `sid`); adding it again updates its expiry. */
  async add(entry: SessionIndexEntry): Promise<void> {
    checkString('sessionId', entry.sessionId);
    checkString('sub', entry.sub);
    if (entry.sid !== undefined) checkString('sid', entry.sid);
    if (typeof entry.expiresAt !== 'number' || !Number.isFinite(entry.expiresAt)) {
      throw new TypeError('expiresAt must be a time in ms since the epoch');
    }
    const score = String(Math.ceil(entry.expiresAt));
    const keys = [this.subKey(entry.sub), ...(entry.sid !== undefined ? [this.sidKey(entry.sid)] : [])];
    await this.updateAll(keys, entry.sessionId, score, '');
  }

  /** Removes a session from the indexes named in `entry` (its `sub` and/or `sid`). */
  async remove(entry: { sessionId: string; sub?: string; sid?: string }): Promise<void> {
    checkString('sessionId', entry.sessionId);
    const keys = [
      ...(entry.sub !== undefined ? [this.subKey(entry.sub)] : []),
      ...(entry.sid !== undefined ? [this.sidKey(entry.sid)] : []),
    ];
    await this.updateAll(keys, '', '0', entry.sessionId);
  }

  /** The ids of the user's unexpired sessions, soonest to expire first. */
  async listBySub(sub: string): Promise<string[]> {
    checkString('sub', sub);
    return this.update(this.subKey(sub), '', '0', '', true);
  }

  /** The ids of the unexpired sessions of an issuer session (`sid`). */
  async listBySid(sid: string): Promise<string[]> {
    checkString('sid', sid);
    return this.update(this.sidKey(sid), '', '0', '', true);
  }

  /** One update of several keys: one call on a single node, one per key on a Cluster (other slots). */
  private async updateAll(keys: string[], add: string, score: string, remove: string): Promise<void> {
    if (keys.length === 0) return;
    if ((this.client as { isCluster?: unknown }).isCluster === true) {
      await Promise.all(keys.map((key) => this.update([key], add, score, remove, false)));
    } else {
      await this.update(keys, add, score, remove, false);
    }
  }

  private async update(keys: string | string[], add: string, score: string, remove: string, list: boolean): Promise<string[]> {
    const names = typeof keys === 'string' ? [keys] : keys;
    try {
      const members = await this.client.eval(UPDATE, names.length, ...names, String(Date.now()), add, score, remove, list ? '1' : '0');
      return Array.isArray(members) ? members.map(String) : [];
    } catch (err) {
      throw sessionStoreUnavailable(err);
    }
  }
}

function checkString(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`);
}
