/** What one `requireBearer()` shares between its requests, built once at mount time. */
import type { Request } from 'express';
import { shortcuts } from '../config/shortcuts.js';
import { toDictionaryMode } from '../util/dictionary-mode.js';
import type { ResolvedBearerConfig } from './config.js';
import { DpopNonces, MemoryDpopReplayStore, redisDpopReplayStore, type DpopReplayStore } from './dpop.js';
import type { ExtractOptions } from './extract.js';
import { ACCEPTED_STATE, type RequestState, type Responder } from './refuse.js';
import type { BearerAuth } from './types.js';
import { verifierFor, type InternalBearerVerifier } from './verifier.js';

/** One guard's resolved options and the services its requests use. */
export interface GuardRuntime {
  config: ResolvedBearerConfig;
  verifier: InternalBearerVerifier;
  /** The state of a request without credentials, and the description its 401 carries. */
  noCredentials: RequestState;
  noCredentialsText: string;
  /** The two states a request with credentials can end in; shared, so no request allocates one. */
  bearerState: RequestState;
  dpopState: RequestState;
  extractOptions: ExtractOptions;
  /** Server nonces (RFC 9449 §9), when `dpop.nonce` is on. */
  nonces: DpopNonces | undefined;
  /** How long a DPoP proof's `jti` is remembered, in ms. */
  replayTtlMs: number;
  /** The `jti` record: `dpop.redis`, else (with a warning, on first use) this process's memory. */
  replayStore(): DpopReplayStore;
  /**
   * Sets `req.auth` on an accepted request, the request put in V8's dictionary mode first
   * (`util/dictionary-mode.ts`) unless `shortcuts.dictionaryMode` was off when the guard was made.
   */
  setAuth(req: Request, auth: BearerAuth): void;
}

function setAuthInDictionaryMode(req: Request, auth: BearerAuth): void {
  toDictionaryMode(req);
  req.auth = auth;
}

function setAuthAsIs(req: Request, auth: BearerAuth): void {
  req.auth = auth;
}

/** Builds the runtime of a guard from its resolved options. */
export function createGuardRuntime(config: ResolvedBearerConfig): GuardRuntime {
  const { dpop } = config;
  const responder: Responder = {
    realm: config.realm,
    passErrors: config.passErrors,
    logger: config.logger,
    ...(config.errorHandler ? { errorHandler: config.errorHandler } : {}),
    ...(dpop.mode !== 'disabled' ? { dpopAlgorithms: dpop.algorithms } : {}),
  };
  // A request without credentials is challenged with the one scheme every client knows: Bearer,
  // or DPoP when only DPoP is accepted. In 'allowed' mode a DPoP-capable client needs no separate
  // DPoP challenge to use it (RFC 9449 §7.1 lets a server send either), and RFC 6750 clients and
  // tests that read `WWW-Authenticate: Bearer realm="..."` see exactly that.
  const noCredentials: RequestState = {
    responder,
    schemes: dpop.mode === 'required' ? ['DPoP'] : ['Bearer'],
  };
  const bearerState: RequestState = { responder, schemes: ['Bearer'] };
  let replay: DpopReplayStore | undefined = dpop.redis ? redisDpopReplayStore(dpop.redis) : undefined;
  return {
    config,
    // A cache hit is only ever accepted as a Bearer request (see guardHandler()).
    verifier: verifierFor(config, Object.create(Object.prototype, { [ACCEPTED_STATE]: { value: bearerState } }) as object),
    noCredentials,
    noCredentialsText:
      dpop.mode === 'allowed' ? 'no access token in the request' : `no ${noCredentials.schemes[0]} access token in the request`,
    bearerState,
    dpopState: { responder, schemes: ['DPoP'] },
    extractOptions: { allowFormBody: config.allowFormBody, dpop: dpop.mode !== 'disabled', maxTokenLength: config.maxTokenLength },
    nonces: dpop.nonce ? new DpopNonces(dpop.nonce.secret, dpop.nonce.windowSeconds) : undefined,
    // A proof is accepted from `iat - clockTolerance` to `iat + maxProofAge + clockTolerance`.
    replayTtlMs: (dpop.maxProofAge + 2 * config.clockTolerance + 1) * 1000,
    replayStore() {
      if (replay === undefined) {
        config.logger.warn('requireBearer: DPoP proof jti are remembered in memory; correct for a single instance only (set dpop.redis)');
        replay = new MemoryDpopReplayStore();
      }
      return replay;
    },
    setAuth: shortcuts.dictionaryMode ? setAuthInDictionaryMode : setAuthAsIs,
  };
}
