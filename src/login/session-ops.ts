import type { Session, SessionData, Store } from 'express-session';
import { ServiceUnavailableError, sessionStoreUnavailable } from '../errors/index.js';
import { sessionSaved } from '../session/middleware.js';
import { reportEnded } from '../session/ended-guard.js';
import { SessionEndedError } from '../session/store.js';
import { LoginRequiredError } from './errors.js';

/** A request as far as sessions go (express-session adds these). */
export interface SessionRequest {
  session?: Session & Partial<SessionData>;
  sessionID?: string;
  sessionStore?: Store;
}

/** Runs a callback-style store operation with a deadline; failures and timeouts become a 503. */
export function withTimeout(run: (done: (err?: unknown) => void) => void, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error('session store did not answer in time')), timeoutMs);
    function finish(err?: unknown): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err instanceof SessionEndedError) reject(new LoginRequiredError('The session ended; sign in again.', { cause: err }));
      else if (err) reject(err instanceof ServiceUnavailableError ? err : sessionStoreUnavailable(err));
      else resolve();
    }
    try {
      run(finish);
    } catch (err) {
      finish(err);
    }
  });
}

/** Writes the session now (before a redirect that depends on it). */
export function saveSession(req: SessionRequest, timeoutMs: number): Promise<void> {
  const session = req.session;
  if (!session) return Promise.reject(sessionStoreUnavailable());
  // A session that ended meanwhile is not written back, and the caller hears of it.
  reportEnded(session);
  // The session middleware then does not write the same record again at the end of the response.
  return withTimeout((done) => session.save(done), timeoutMs).then(() => sessionSaved(req));
}

/** Replaces the session id (and record) at sign-in: no session fixation (OWASP ASVS V3.2.1). */
export function regenerateSession(req: SessionRequest, timeoutMs: number): Promise<void> {
  const session = req.session;
  if (!session) return Promise.reject(sessionStoreUnavailable());
  return withTimeout((done) => session.regenerate(done), timeoutMs);
}

/** Deletes the session record from the store. */
export function destroySession(req: SessionRequest, timeoutMs: number): Promise<void> {
  const session = req.session;
  if (!session) return Promise.resolve();
  return withTimeout((done) => session.destroy(done), timeoutMs);
}

/** Deletes a session record by id (another user's, for back-channel logout). */
export function destroyById(store: Store, sessionId: string, timeoutMs: number): Promise<void> {
  return withTimeout((done) => store.destroy(sessionId, done), timeoutMs);
}
