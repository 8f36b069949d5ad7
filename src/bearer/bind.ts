/**
 * The guard's asynchronous step: the DPoP proof (RFC 9449 §4.3), the token check on a cache
 * miss, the sender bindings (RFC 9449 §7.1, RFC 8705 §3) and the proof's replay record.
 */
import type { NextFunction, Request, Response } from 'express';
import { AuthError } from '../errors/index.js';
import { confirmationOf } from './confirmation.js';
import { checkDpopBinding, dpopProofOf, recordDpopProof, verifyDpopProof, type VerifiedDpopProof } from './dpop.js';
import type { PresentedToken } from './extract.js';
import type { GuardRuntime } from './guard-runtime.js';
import { checkCertificateBinding } from './mtls.js';
import { refuse, requestStates, type RequestState } from './refuse.js';
import { clientCertificate, externalUrl } from './request-parts.js';
import type { BearerAuth } from './types.js';

/** One request as `verifyAndBind()` takes it over from the synchronous part of the guard. */
export interface BindInput {
  req: Request;
  res: Response;
  next: NextFunction;
  presented: PresentedToken;
  /** The request's state so far (the scheme it used). */
  state: RequestState;
  /** Whether the caller already looked the token up in the cache (Bearer scheme). */
  looked: boolean;
  /** The cache's answer when it looked and found the token (one with `cnf`: bindings to check). */
  hit: BearerAuth | undefined;
  /** The token's cache key it looked under (`undefined` without a cache). */
  key: string | undefined;
  /** The check of the token the caller started on a miss (`verifier.beginUncached()`), if it did. */
  pending?: Promise<BearerAuth> | undefined;
}

/**
 * Verifies the proof and the token, checks the bindings, records the proof, and sets `req.auth`
 * then calls `next()`; a refusal is answered (see `refuse()`). Other errors reject.
 */
export async function verifyAndBind(runtime: GuardRuntime, input: BindInput): Promise<void> {
  const { config, verifier, nonces } = runtime;
  const { dpop } = config;
  const { req, res, next, presented, looked, hit, key, pending } = input;
  let state = input.state;
  try {
    let proof: VerifiedDpopProof | undefined;
    if (presented.scheme === 'DPoP') {
      proof = await verifyDpopProof(dpopProofOf({ dpop: req.headersDistinct?.dpop ?? req.headers.dpop }), {
        method: req.method,
        url: externalUrl(req, dpop),
        accessToken: presented.token,
        algorithms: dpop.algorithms,
        maxProofAge: dpop.maxProofAge,
        clockTolerance: config.clockTolerance,
        ...(nonces ? { nonces } : {}),
      });
    }
    const auth =
      hit ??
      (pending !== undefined
        ? await pending
        : looked
          ? await verifier.verifyUncached(presented.token, key)
          : await verifier.verify(presented.token));
    // A Bearer token without `cnf` has no binding to check (confirmationOf() is `{}`, and the
    // three checks below pass), as on the cache-hit path in guardHandler().
    if (presented.scheme === 'DPoP' || auth.payload.cnf !== undefined) {
      // A DPoP-bound token sent as Bearer: tell the client to use DPoP, when this guard accepts it.
      if (presented.scheme === 'Bearer' && dpop.mode !== 'disabled' && confirmationOf(auth.payload).jkt !== undefined)
        state = runtime.dpopState;
      checkDpopBinding(auth.payload, presented.scheme, proof);
      checkCertificateBinding(auth.payload, () => clientCertificate(req, config.mtls));
    }
    if (proof) {
      await recordDpopProof(runtime.replayStore(), dpop.redisKeyPrefix, proof, runtime.replayTtlMs);
      if (proof.nonceStale && nonces) res.setHeader('DPoP-Nonce', nonces.current());
    }
    // `auth` is this request's own object (a fresh result, or the cache's copy), so it is
    // completed in place rather than spread into another one.
    auth.scheme = presented.scheme;
    runtime.setAuth(req, auth);
  } catch (err) {
    requestStates.set(req, state);
    if (!(err instanceof AuthError)) throw err;
    refuse(err, req, res, next, state);
    return;
  }
  requestStates.set(req, state);
  next();
}
