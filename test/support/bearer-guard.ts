/**
 * `useBearerGuard()`: the set-up the Bearer guard tests share, as one call at the top of a test
 * file. It registers its own hooks: the hostile issuer (test/support/hostile-issuer.ts) starts in
 * `beforeAll` (or `beforeEach` with `issuerPerTest`), every guard a test started stops in
 * `afterEach`, and the issuer stops at the end.
 */
import type { BearerOptions } from '../../src/bearer/types.js';
import { AUDIENCE, listenGuarded } from '../bearer/fixtures.js';
import { startHostileIssuer, type HostileIssuer } from './hostile-issuer.js';

/** A guard app listening on 127.0.0.1 (test/bearer/fixtures.ts listenGuarded()). */
export type ListeningGuard = ReturnType<typeof listenGuarded>;

export interface UseBearerGuardOptions {
  /** A new issuer for every test (for tests that rotate its keys). Default: one for the file. */
  issuerPerTest?: boolean;
  /** Called with each issuer once it started, e.g. to keep it in a variable of the test file. */
  onIssuer?: (issuer: HostileIssuer) => void;
}

export interface BearerGuardHarness {
  /** The running hostile issuer. */
  readonly issuer: HostileIssuer;
  /**
   * A guard that trusts the issuer (its `/jwks`, audience `AUDIENCE`, plain HTTP allowed), with
   * `extra` over those options; it stops after the test.
   */
  start(extra?: Partial<BearerOptions>): ListeningGuard;
  /** A guard with exactly `options` (e.g. none, to read the environment); it stops after the test. */
  listen(options: BearerOptions): ListeningGuard;
}

export function useBearerGuard(options: UseBearerGuardOptions = {}): BearerGuardHarness {
  let issuer: HostileIssuer | undefined;
  const open: Array<() => Promise<void>> = [];
  const [setUp, tearDown] = options.issuerPerTest ? [beforeEach, afterEach] : [beforeAll, afterAll];

  setUp(async () => {
    issuer = await startHostileIssuer();
    options.onIssuer?.(issuer);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((close) => close()));
  });
  tearDown(async () => {
    await issuer?.close();
    issuer = undefined;
  });

  const running = (): HostileIssuer => {
    if (!issuer) throw new Error('useBearerGuard(): read in a test or hook, after the issuer started');
    return issuer;
  };
  const listen = (guardOptions: BearerOptions): ListeningGuard => {
    const listening = listenGuarded(guardOptions);
    open.push(listening.close);
    return listening;
  };
  return {
    get issuer() {
      return running();
    },
    start(extra = {}) {
      const { issuer: url } = running();
      return listen({ issuer: url, jwksUri: `${url}/jwks`, audience: AUDIENCE, allowInsecureHttp: true, ...extra });
    },
    listen,
  };
}
