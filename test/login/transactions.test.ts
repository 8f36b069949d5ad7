import { createSealer } from '../../src/session/seal.js';
import { addPendingLogin, takePendingLogin } from '../../src/login/transactions.js';
import { leftHalfHash, idTokenAlgorithms } from '../../src/login/id-token.js';
import type { OidcSessionData, PendingLogin } from '../../src/login/session-data.js';

const sealer = createSealer('a-secret-of-at-least-thirty-two-characters!');
const login = (state: string): PendingLogin => ({ state, nonce: `n-${state}`, codeVerifier: `v-${state}`, returnTo: '/' });
const options = { max: 10, ttlMs: 600_000 };

describe('pending logins (RFC 6749 §10.12 state)', () => {
  it('keeps only the 10 newest sign-ins in flight', () => {
    const data: OidcSessionData = {};
    for (let i = 0; i < 12; i++) addPendingLogin(data, login(`s${i}`), sealer, options);
    expect(data.pending).toHaveLength(10);
    expect(takePendingLogin(data, 's0', sealer)).toBeUndefined();
    expect(takePendingLogin(data, 's1', sealer)).toBeUndefined();
    expect(takePendingLogin(data, 's11', sealer)?.nonce).toBe('n-s11');
  });

  it('consumes a state at once: the second take finds nothing', () => {
    const data: OidcSessionData = {};
    addPendingLogin(data, login('a'), sealer, options);
    addPendingLogin(data, login('b'), sealer, options);
    expect(takePendingLogin(data, 'a', sealer)?.codeVerifier).toBe('v-a');
    expect(takePendingLogin(data, 'a', sealer)).toBeUndefined();
    expect(takePendingLogin(data, 'b', sealer)?.codeVerifier).toBe('v-b');
    expect(data.pending).toBeUndefined();
  });

  it('refuses an expired sign-in and drops it', () => {
    const data: OidcSessionData = {};
    addPendingLogin(data, login('old'), sealer, { ...options, now: Date.now() - 700_000 });
    expect(takePendingLogin(data, 'old', sealer)).toBeUndefined();
    expect(data.pending).toBeUndefined();
  });

  it('stores neither state, nonce nor verifier in clear', () => {
    const data: OidcSessionData = {};
    addPendingLogin(data, login('visible-state'), sealer, options);
    const json = JSON.stringify(data);
    expect(json).not.toContain('visible-state');
    expect(json).not.toContain('n-visible-state');
    expect(json).not.toContain('v-visible-state');
  });

  it('refuses a record sealed under another secret, or altered', () => {
    const data: OidcSessionData = {};
    addPendingLogin(data, login('x'), createSealer('another-secret-of-at-least-thirty-two-chars'), options);
    expect(takePendingLogin(data, 'x', sealer)).toBeUndefined();
    const altered: OidcSessionData = {};
    addPendingLogin(altered, login('y'), sealer, options);
    altered.pending![0]!.sealed = altered.pending![0]!.sealed.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(takePendingLogin(altered, 'y', sealer)).toBeUndefined();
  });
});

describe('at_hash (OIDC Core §3.1.3.6)', () => {
  it('matches the example of OIDC Core Appendix A.3', () => {
    expect(leftHalfHash('jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y', 'RS256')).toBe('77QmUPtjPfzWtF2AnpK9RQ');
  });
});

describe('ID token algorithms', () => {
  it("takes the issuer's list without none and HS*", () => {
    expect(
      idTokenAlgorithms({ issuer: 'x', id_token_signing_alg_values_supported: ['none', 'HS256', 'RS256', 'ES256'] }, undefined),
    ).toEqual(['RS256', 'ES256']);
  });
  it('defaults to RS256', () => {
    expect(idTokenAlgorithms({ issuer: 'x' }, undefined)).toEqual(['RS256']);
    expect(idTokenAlgorithms({ issuer: 'x', id_token_signing_alg_values_supported: ['none'] }, undefined)).toEqual(['RS256']);
  });
  it('allows HS256 only when configured by name', () => {
    expect(idTokenAlgorithms({ issuer: 'x', id_token_signing_alg_values_supported: ['HS256'] }, ['HS256'])).toEqual(['HS256']);
  });
});
