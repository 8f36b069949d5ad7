import session, { type Store } from 'express-session';
import { LOGIN_DEFAULTS } from '../config/defaults.js';
import { IssuerResponseError } from '../errors/index.js';
import { IssuerDiscovery, type IssuerMetadata } from '../issuer/discovery.js';
import { RemoteKeySet } from '../issuer/jwks.js';
import { InvalidationFeed } from '../session/invalidations.js';
import { RefreshCoordinator } from '../redis/refresh-coordinator.js';
import { MemorySessionIndex, memoryUseOnce, type SessionIndexApi, type UseOnce } from '../redis/in-process.js';
import { createRedisClient, type RedisClient } from '../redis/client.js';
import { useOnce } from '../redis/replay.js';
import { createSealer, type Sealer } from '../session/seal.js';
import { SESSION_SEAL_CONTEXT } from './session-data.js';
import type { EndedSessions } from '../redis/ended-sessions.js';
import { endedSessionsFor, guardStore } from './ended-sessions.js';
import { createSessionStore } from '../session/store.js';
import { SessionIndex } from '../redis/session-index.js';
import type { ClientAuth } from './client-auth.js';
import { ReceivedDpopNonces } from './dpop.js';
import { idTokenAlgorithms, type IdTokenChecks } from './id-token.js';
import type { LoginConfig } from './options.js';

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
  /** The marks of ended sessions that keep a logout from being undone (see `endedSessionsFor`). */
  ended: EndedSessions;
  redis: RedisClient | undefined;
  /** True when `auth()` created the Redis client (so `close()` quits it). */
  ownsRedis: boolean;
  /** Redis's invalidation messages (local record cache, refresh results), when in use. */
  invalidations: InvalidationFeed | undefined;
  coordinator: RefreshCoordinator | undefined;
  /** The per-user session index: on Redis, or in this process's memory without Redis. */
  index: SessionIndexApi | undefined;
  /** The replay guard for logout token `jti`s: on Redis, or in memory without Redis. */
  useOnce: UseOnce;
  /** In-process refresh de-duplication when there is no Redis to coordinate through. */
  localRefreshes: Map<string, Promise<string>>;
  /** The latest DPoP nonces of the issuer's endpoints (RFC 9449 §8). */
  dpopNonces: ReceivedDpopNonces;
}

/** How `startLogin` starts a sign-in. */
export interface StartLoginMode {
  /** `prompt=none`, and an interaction-required answer ends quietly (see `attemptSilentLogin()`). */
  silent?: boolean;
}

/** The ID token checks that do not depend on the request. */
export function baseIdTokenChecks(
  runtime: LoginRuntime,
  metadata: IssuerMetadata,
): Omit<IdTokenChecks, 'nonce' | 'accessToken' | 'maxAge' | 'expectedSub'> {
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

/** The issuer's metadata (discovered, cached, retried) and its signing keys. */
function issuerOf(config: LoginConfig): { discovery: IssuerDiscovery; keys: RemoteKeySet } {
  const { logger, discovery: options } = config;
  const discovery = new IssuerDiscovery(config.issuerBaseURL, {
    timeoutMs: config.httpTimeout,
    logger,
    transport: config.transport,
    ...(options.retryMinDelayMs !== undefined ? { retryMinDelayMs: options.retryMinDelayMs } : {}),
    ...(options.retryMaxDelayMs !== undefined ? { retryMaxDelayMs: options.retryMaxDelayMs } : {}),
    ...(options.cacheMaxAgeMs !== undefined ? { cacheMaxAgeMs: options.cacheMaxAgeMs } : {}),
  });
  const keys = new RemoteKeySet(
    async () => {
      const metadata = await discovery.metadata();
      if (!metadata.jwks_uri) throw new IssuerResponseError('The authorization server has no jwks_uri.');
      return metadata.jwks_uri;
    },
    { timeoutMs: config.httpTimeout, cooldownMs: options.jwksCooldownMs, logger, transport: config.transport },
  );
  return { discovery, keys };
}

/** How this client authenticates at the issuer's back-channel endpoints. */
function clientAuthOf(config: LoginConfig): ClientAuth {
  return {
    method: config.clientAuthMethod,
    clientID: config.clientID,
    ...(config.clientSecret !== undefined ? { clientSecret: config.clientSecret } : {}),
    ...(config.clientAssertionSigningKey !== undefined ? { signingKey: config.clientAssertionSigningKey } : {}),
    signingAlg: config.clientAssertionSigningAlg,
    assertionLifetimeSeconds: LOGIN_DEFAULTS.clientAssertionLifetimeSeconds,
    ...(config.mtls !== undefined ? { tls: config.mtls } : {}),
    transport: config.transport,
  };
}

/** The session store: the app's, else Redis, else (allowMemoryStore, loudly) process memory. */
function storeOf(config: LoginConfig, redis: RedisClient | undefined, invalidations: InvalidationFeed | undefined): Store | undefined {
  if (config.session.store) return config.session.store;
  // The app's sessions live in the app's store (req.sessionStore), not in one of ours.
  if (config.useExistingSession) return undefined;
  if (redis) {
    return createSessionStore({
      client: redis,
      prefix: `${config.session.prefix}sess:`,
      ttlSeconds: config.session.rollingDuration,
      logger: config.logger,
      localCache: config.session.localCache,
      ...(invalidations ? { invalidations } : {}),
    });
  }
  config.logger.warn(
    'session.allowMemoryStore is on: sessions live in process memory, are lost on restart and are not shared between processes. Never use this in production.',
  );
  return new session.MemoryStore();
}

/**
 * Builds the services of one `auth()` instance from its resolved config: the issuer (discovery,
 * keys), the sealer, the session store, Redis with its refresh coordinator, session index and
 * replay guard — or their in-memory stand-ins without Redis.
 */
export function createLoginRuntime(config: LoginConfig): LoginRuntime {
  const { logger } = config;
  const sealer = createSealer(config.secrets, SESSION_SEAL_CONTEXT);
  const { discovery, keys } = issuerOf(config);
  const redis = config.session.redis !== undefined ? createRedisClient(config.session.redis, logger, 'session.redis') : undefined;
  const prefix = config.session.prefix;
  // Redis's invalidation messages for the session records (the local cache) and the refresh
  // results (waiters wake at once): one connection per process (per master on a Cluster).
  const invalidations =
    redis && config.session.localCache !== false
      ? new InvalidationFeed(redis.client, [`${prefix}sess:`, `${prefix}refresh:`], undefined, logger)
      : undefined;
  const ended = endedSessionsFor(config, redis?.client);
  const store = storeOf(config, redis?.client, invalidations);
  if (store) guardStore(store, ended, !config.useExistingSession);
  return {
    config,
    discovery,
    keys,
    sealer,
    client: clientAuthOf(config),
    store,
    ended,
    redis: redis?.client,
    ownsRedis: redis?.owned === true,
    invalidations,
    coordinator: redis
      ? new RefreshCoordinator(redis.client, {
          prefix: `${prefix}refresh:`,
          lockTtlMs: LOGIN_DEFAULTS.refreshLockTtlMs,
          waitMs: LOGIN_DEFAULTS.refreshWaitMs,
          ...(invalidations ? { invalidations } : {}),
        })
      : undefined,
    // Without Redis (one process, development) the index and the replay guard live in memory, so
    // back-channel logout and sessions.* still work for the sessions of this process.
    index: redis
      ? new SessionIndex(redis.client, { prefix: `${prefix}idx:` })
      : config.useExistingSession
        ? undefined
        : new MemorySessionIndex(),
    useOnce: redis ? (key, ttlMs) => useOnce(redis.client, key, ttlMs) : memoryUseOnce(),
    localRefreshes: new Map(),
    dpopNonces: new ReceivedDpopNonces(),
  };
}
