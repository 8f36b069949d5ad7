/**
 * Issue 15 §5: tokens signed with a key the issuer has withdrawn from its JWKS stop being accepted
 * from the verified-token cache as soon as a JWKS refresh no longer lists that key, not only after
 * `cache.maxTtlSeconds`.
 */
import type { HostileIssuer, SigningKey } from '../support/hostile-issuer.js';
import { useBearerGuard } from '../support/bearer-guard.js';
import { mintToken } from '../support/tokens.js';
import { AUDIENCE, challengeFor, expectRefusal } from './fixtures.js';
import type { BearerOptions } from '../../src/bearer/types.js';

let issuer: HostileIssuer;
const guards = useBearerGuard({ issuerPerTest: true, onIssuer: (started) => (issuer = started) });
const start = (extra: Partial<BearerOptions> = {}) => guards.start(extra);

const mint = (key: SigningKey, header: Record<string, unknown> = {}) =>
  mintToken({ key, issuer: issuer.issuer, audience: AUDIENCE, header });

describe('the verified-token cache and key rotation (RFC 7517, issue 15 §5)', () => {
  it('refuses a cached token once a JWKS refresh no longer lists the key that signed it', async () => {
    const { agent, guard } = start({ jwks: { cooldownMs: 0 } });
    const old = issuer.currentKey;
    const token = await mint(old);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(guard.verifier.cache!.hits).toBe(1);
    // The issuer withdraws the old key; a token signed with the new one makes the guard refetch.
    const fresh = await issuer.rotateKey();
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint(fresh)}`)).status).toBe(200);
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${token}`);
    expectRefusal(res, 401, challengeFor('invalid_token', 'no matching signing key'), {
      error: 'invalid_token',
      error_description: 'no matching signing key',
    });
  });

  it('also forgets cached tokens without a kid when a key is withdrawn (the key that verified them may be gone)', async () => {
    const { agent } = start({ jwks: { cooldownMs: 0 } });
    const token = await mint(issuer.currentKey, { kid: undefined });
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const fresh = await issuer.rotateKey();
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint(fresh)}`)).status).toBe(200);
    // Verified afresh: the only key left does not verify it.
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  });

  it('keeps answering from the cache for tokens whose key is still listed', async () => {
    const { agent, guard } = start({ jwks: { cooldownMs: 0 } });
    const token = await mint(issuer.currentKey);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const fresh = await issuer.rotateKey(true);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint(fresh)}`)).status).toBe(200);
    const hits = guard.verifier.cache!.hits;
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(guard.verifier.cache!.hits).toBe(hits + 1);
  });

  it('forgets them after a background refresh of stale keys too', async () => {
    const { agent, guard } = start({ jwks: { cacheMaxAgeMs: 0 } });
    const token = await mint(issuer.currentKey);
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await issuer.rotateKey();
    const fetches = guard.verifier.jwksFetchCount();
    // Any token not in the cache finds the keys stale and refreshes them in the background.
    const other = await mint(issuer.jwksKeys[0]!);
    await agent.get('/api/me').set('Authorization', `Bearer ${other}`);
    expect(guard.verifier.jwksFetchCount()).toBe(fetches + 1);
    const deadline = Date.now() + 5000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await agent.get('/api/me').set('Authorization', `Bearer ${token}`)).status;
    }
    expect(status).toBe(401);
  });
});
