/**
 * Moved to test/support/ (redis.ts, net.ts, eventually.ts); this re-export keeps older imports
 * compiling until they move.
 */
import { eventually as poll } from '../support/eventually.js';

export { REDIS_URL, testPrefix, recordingLogger, connect, deleteKeys, cleanup, type RecordingLogger } from '../support/redis.js';
export { freePort, closeServer } from '../support/net.js';

/** `eventually(check, { timeoutMs, stepMs })` of test/support, with positional arguments. */
export function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  return poll(check, { timeoutMs, stepMs });
}
