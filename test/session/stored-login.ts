/**
 * Test access to the sealed signed-in record in a session record (see `sealSignedIn`): what the
 * app itself can do with its secret, for tests that check what was stored or that age a record as
 * time would. An attacker without the secret cannot do this (test/session/untrusted-store.test.ts).
 */
import type { Redis } from 'ioredis';
import { openSignedIn, sealSignedIn, SESSION_SEAL_CONTEXT, type SignedInRecord } from '../../src/login/session-data.js';
import { createSealer } from '../../src/session/seal.js';

const DEFAULT_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/** The session id of a session key (`<prefix>sess:<id>`). */
export function sessionIdOfKey(key: string): string {
  return key.slice(key.lastIndexOf('sess:') + 'sess:'.length);
}

/** The signed-in record sealed in `stored` for `sessionId`; throws when it does not open. */
export function openLogin(stored: unknown, sessionId: string, secret = DEFAULT_SECRET): SignedInRecord {
  const opened = openSignedIn(createSealer(secret, SESSION_SEAL_CONTEXT), stored, sessionId);
  if (!('record' in opened)) throw new Error(`the stored sign-in does not open (${opened.failure})`);
  return opened.record;
}

/** The signed-in record of the session at `key`, or undefined when it holds none. */
export async function readLogin(redis: Redis, key: string, secret = DEFAULT_SECRET): Promise<SignedInRecord | undefined> {
  const raw = await redis.get(key);
  const stored = raw === null ? undefined : (JSON.parse(raw) as { oidc?: { login?: unknown } }).oidc?.login;
  return stored === undefined ? undefined : openLogin(stored, sessionIdOfKey(key), secret);
}

/** Changes the signed-in record of the session at `key` as the app would (sealed again), keeping the key's TTL. */
export async function editLogin(redis: Redis, key: string, edit: (login: SignedInRecord) => void, secret = DEFAULT_SECRET): Promise<void> {
  const record = JSON.parse((await redis.get(key))!) as { oidc: { login: unknown } };
  const login = openLogin(record.oidc.login, sessionIdOfKey(key), secret);
  edit(login);
  record.oidc.login = sealSignedIn(createSealer(secret, SESSION_SEAL_CONTEXT), login, sessionIdOfKey(key));
  await redis.set(key, JSON.stringify(record), 'KEEPTTL');
}
