import type { Request, Response } from 'express';
import type { Store } from 'express-session';
import type { IssuerMetadata, IssuerDiscovery } from '../issuer/discovery.js';
import type { RemoteKeySet } from '../issuer/jwks.js';
import type { RefreshCoordinator } from '../redis/refresh-coordinator.js';
import type { RedisClient } from '../redis/client.js';
import type { Sealer } from '../session/seal.js';
import type { SessionIndexApi, UseOnce } from '../redis/in-process.js';
import type { ClientAuth } from './client-auth.js';
import type { DpopNonces } from './dpop.js';
import { idTokenAlgorithms, type IdTokenChecks } from './id-token.js';
import type { LoginConfig, LoginOptions } from './options.js';

/** AAD of the sealed token set: it never opens as anything else. */
export const TOKENS_AAD = 'oidc-guard token set';

/** The services one `auth()` instance shares between its requests. */
export interface LoginRuntime {
  config: LoginConfig;
  discovery: IssuerDiscovery;
  keys: RemoteKeySet;
  sealer: Sealer;
  client: ClientAuth;
  /** The configured store (undefined with `useExistingSession`: then `req.sessionStore`). */
  store: Store | undefined;
  redis: RedisClient | undefined;
  coordinator: RefreshCoordinator | undefined;
  /** The per-user session index: on Redis, or in this process's memory without Redis. */
  index: SessionIndexApi | undefined;
  /** The replay guard for logout token `jti`s: on Redis, or in memory without Redis. */
  useOnce: UseOnce;
  /** In-process refresh de-duplication when there is no Redis to coordinate through. */
  localRefreshes: Map<string, Promise<string>>;
  /** The latest DPoP nonces of the issuer's endpoints (RFC 9449 §8). */
  dpopNonces: DpopNonces;
  /**
   * Starts a sign-in and redirects to the issuer (what `res.oidc.login()` runs; `silent` for
   * `attemptSilentLogin()`). Rejects on failure, with nothing sent.
   */
  startLogin(req: Request, res: Response, options: LoginOptions, mode?: StartLoginMode): Promise<void>;
}

/** How `startLogin` starts a sign-in. */
export interface StartLoginMode {
  /** `prompt=none`, and an interaction-required answer ends quietly (see `attemptSilentLogin()`). */
  silent?: boolean;
}

/** The ID token checks that do not depend on the request. */
export function baseIdTokenChecks(runtime: LoginRuntime, metadata: IssuerMetadata): Omit<IdTokenChecks, 'nonce' | 'accessToken' | 'maxAge' | 'expectedSub'> {
  const { config } = runtime;
  return {
    getKey: runtime.keys.getKey,
    getKeyPromptly: runtime.keys.getKeyPromptly,
    issuer: metadata.issuer,
    clientID: config.clientID,
    algorithms: idTokenAlgorithms(metadata, config.idTokenSigningAlgs),
    ...(config.clientSecret !== undefined ? { clientSecret: config.clientSecret } : {}),
    clockTolerance: config.clockTolerance,
  };
}
