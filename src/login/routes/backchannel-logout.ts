import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { InvalidRequestError, isAuthError } from '../../errors/index.js';
import type { SessionIndexApi } from '../../redis/in-process.js';
import { describeCause } from '../../util/logger.js';
import { noStore } from '../../util/no-store.js';
import { replayRecordTtlMs, validateLogoutToken, type LogoutTokenClaims } from '../backchannel-logout.js';
import { singleParam } from '../callback.js';
import { baseIdTokenChecks, type LoginRuntime } from '../runtime.js';
import { destroyById, type SessionRequest } from '../session-ops.js';
import { route } from './route.js';

/** The claims of a valid logout token not seen before (its `jti` is then recorded). */
async function acceptLogoutToken(runtime: LoginRuntime, token: string): Promise<LogoutTokenClaims> {
  const { config } = runtime;
  const metadata = await runtime.discovery.metadata();
  // The same key, issuer, audience and algorithm checks as for ID tokens.
  const claims = await validateLogoutToken(token, {
    ...baseIdTokenChecks(runtime, metadata),
    allowMissingExp: config.backchannelLogout.allowMissingExp,
  });
  const jtiKey = createHash('sha256').update(`${claims.iss}\0${claims.jti}`, 'utf8').digest('base64url');
  if (!(await runtime.useOnce(`${config.session.prefix}bcl-jti:${jtiKey}`, replayRecordTtlMs(claims, config.clockTolerance)))) {
    throw new InvalidRequestError('The logout token was already used.');
  }
  return claims;
}

/** Ends the sessions a logout token names (by `sid`, else by `sub`) through the session index; returns how many. */
async function endNamedSessions(
  runtime: LoginRuntime,
  index: SessionIndexApi,
  req: SessionRequest,
  claims: LogoutTokenClaims,
): Promise<number> {
  const ids = claims.sid !== undefined ? await index.listBySid(claims.sid) : await index.listBySub(claims.sub!);
  const target = runtime.store ?? req.sessionStore;
  for (const id of ids) {
    if (target) await destroyById(target, id, LOGIN_DEFAULTS.sessionTimeoutMs);
    await index.remove({
      sessionId: id,
      ...(claims.sub !== undefined ? { sub: claims.sub } : {}),
      ...(claims.sid !== undefined ? { sid: claims.sid } : {}),
    });
  }
  return ids.length;
}

/** The JSON error answer of the back-channel (Back-Channel Logout 1.0 §2.8): 400, or the 5xx of an outage. */
function refuse(runtime: LoginRuntime, res: Response, err: unknown): void {
  const { logger } = runtime.config;
  const known = isAuthError(err) ? err : new InvalidRequestError('The logout request failed.', { cause: err });
  if (known.status >= 500) logger.error('back-channel logout failed', { status: known.status, ...describeCause(known.cause ?? known) });
  else logger.debug('back-channel logout refused', describeCause(known.cause ?? known));
  const answer = known.status >= 500 ? known : new InvalidRequestError(known.description);
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  res.status(answer.status).json({ error: answer.code, error_description: answer.description });
}

/**
 * `POST /backchannel-logout`: OpenID Connect Back-Channel Logout 1.0 §2.5-§2.8. Ends the sessions
 * the session index finds, then calls `onLogoutToken` (apps that keep sessions elsewhere).
 * Undefined (with a warning) when there is neither an index nor that hook.
 */
export function backchannelLogoutRoute(runtime: LoginRuntime): RequestHandler | undefined {
  const { logger, onLogoutToken } = runtime.config;
  const index = runtime.index;
  if (!index && !onLogoutToken) {
    logger.warn(
      'back-channel logout is off: with useExistingSession it needs session.redis (for the session index and jti replay checks) or onLogoutToken',
    );
    return undefined;
  }
  if (!runtime.redis) logger.warn('back-channel logout without session.redis reaches only the sessions of this process');
  return route(runtime, 'oidcBackchannelLogout', async (req: Request, res: Response) => {
    noStore(res);
    try {
      const token = singleParam((req.body as Record<string, unknown> | undefined)?.logout_token);
      if (token === undefined || token.length > 16_384) throw new InvalidRequestError('The request has no logout_token.');
      const claims = await acceptLogoutToken(runtime, token);
      const ended = index ? await endNamedSessions(runtime, index, req, claims) : 0;
      if (onLogoutToken) await onLogoutToken({ ...claims }, req);
      logger.info('back-channel logout', { sessions: ended });
      res.status(200).end();
    } catch (err) {
      refuse(runtime, res, err);
    }
  });
}
