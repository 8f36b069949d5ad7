import { createHash } from 'node:crypto';
import { constantEqual } from '../crypto/constant-equal.js';
import type { Sealer } from '../session/seal.js';
import type { OidcSessionData, PendingLogin, PendingLoginRecord } from './session-data.js';

/** AAD of sealed pending sign-ins: they never open as anything else. */
const TX_AAD = 'oidc-guard pending login';

function stateId(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('base64url');
}

/**
 * Adds a sign-in in flight to the session data, sealed, keyed by its `state`. Expired entries go,
 * and only the `max` newest are kept, so parallel tabs each complete while a script that opens
 * `/login` in a loop cannot grow the session without bound.
 */
export function addPendingLogin(
  data: OidcSessionData,
  login: PendingLogin,
  sealer: Sealer,
  options: { max: number; ttlMs: number; now?: number },
): void {
  const now = options.now ?? Date.now();
  const kept = pendingRecords(data).filter((record) => record.expiresAt > now);
  kept.push({ id: stateId(login.state), sealed: sealer.seal(login, TX_AAD), expiresAt: now + options.ttlMs });
  data.pending = kept.slice(-options.max);
}

/**
 * Finds the sign-in whose `state` came back and removes it from the session data at once, so
 * the same `state` can never be used twice (RFC 6749 §10.12). Compared in constant time.
 * Returns `undefined` when none matches, it expired, or it cannot be unsealed (secret changed).
 */
export function takePendingLogin(data: OidcSessionData, state: string, sealer: Sealer, now = Date.now()): PendingLogin | undefined {
  const records = pendingRecords(data);
  const id = stateId(state);
  let found: PendingLoginRecord | undefined;
  for (const record of records) {
    if (constantEqual(record.id, id)) found = record;
  }
  const rest = records.filter((record) => record !== found && record.expiresAt > now);
  if (rest.length > 0) data.pending = rest;
  else delete data.pending;
  if (!found || found.expiresAt <= now) return undefined;
  const login = sealer.unseal<PendingLogin>(found.sealed, TX_AAD);
  if (!login || typeof login.state !== 'string' || !constantEqual(login.state, state)) return undefined;
  return login;
}

/**
 * The well-formed pending records of the session data. The session store is outside our trust
 * boundary (a corrupted or hand-edited record must read as "no sign-in in flight", never as a 500).
 */
function pendingRecords(data: OidcSessionData): PendingLoginRecord[] {
  const pending: unknown = data.pending;
  if (!Array.isArray(pending)) return [];
  return pending.filter(
    (r): r is PendingLoginRecord =>
      typeof r === 'object' && r !== null && typeof r.id === 'string' && typeof r.sealed === 'string' && typeof r.expiresAt === 'number',
  );
}

/** True when the session data holds at least one sign-in in flight. */
export function hasPendingLogins(data: OidcSessionData | undefined): boolean {
  return data !== undefined && pendingRecords(data).length > 0;
}
