/**
 * Issue 16 B: `validators`, express-oauth2-jwt-bearer's custom claim validators, which relax or
 * replace the built-in checks: per claim (`typ` from the header) a string the value must equal,
 * `false` (no check), or `(value, claims, header) => boolean | Promise<boolean>`.
 */
import type { HostileIssuer } from '../support/hostile-issuer.js';
import { useBearerGuard } from '../support/bearer-guard.js';
import { mintToken } from '../support/tokens.js';
import { createBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { AUDIENCE, challengeFor, expectRefusal } from './fixtures.js';

let issuer: HostileIssuer;
const guards = useBearerGuard({ onIssuer: (started) => (issuer = started) });
const start = (extra: Partial<BearerOptions>) => guards.start(extra).agent;
const mint = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) =>
  mintToken({ key: issuer.currentKey, issuer: issuer.issuer, audience: AUDIENCE, claims, header });
const refusal = (claim: string) => ({ error: 'invalid_token', error_description: `unexpected '${claim}' value` });

describe('validators (as express-oauth2-jwt-bearer)', () => {
  it('replaces the aud check with a function', async () => {
    const agent = start({ validators: { aud: (aud) => aud === 'https://legacy.example.test' } });
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ aud: 'https://legacy.example.test' })}`)).status).toBe(
      200,
    );
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${await mint()}`);
    expectRefusal(res, 401, challengeFor('invalid_token', refusal('aud').error_description), refusal('aud'));
  });

  it('relaxes strict mode: typ false accepts a token without at+jwt, sub may be absent', async () => {
    const agent = start({ strict: true, validators: { typ: false, sub: false } });
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ sub: undefined }, { typ: 'JWT' })}`)).status).toBe(200);
    // Without the validators, strict mode refuses it.
    const strict = start({ strict: true });
    expect((await strict.get('/api/me').set('Authorization', `Bearer ${await mint({ sub: undefined }, { typ: 'JWT' })}`)).status).toBe(401);
  });

  it('checks a claim of its own by value, and by an async function that receives claims and header', async () => {
    const seen: unknown[] = [];
    const agent = start({
      validators: {
        tenant: 'acme',
        plan: async (value, claims, header) => {
          seen.push([claims.sub, header.alg]);
          return value === 'pro';
        },
      },
    });
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ tenant: 'acme', plan: 'pro' })}`)).status).toBe(200);
    expect(seen).toEqual([['user-123', 'ES256']]);
    const other = await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ tenant: 'other', plan: 'pro' })}`);
    expectRefusal(other, 401, challengeFor('invalid_token', refusal('tenant').error_description), refusal('tenant'));
    expect((await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ tenant: 'acme', plan: 'free' })}`)).status).toBe(401);
  });

  it('counts a validator that throws as failed (401, not 500)', async () => {
    const agent = start({
      validators: {
        tenant: () => {
          throw new Error('boom');
        },
      },
    });
    const res = await agent.get('/api/me').set('Authorization', `Bearer ${await mint({ tenant: 'acme' })}`);
    expectRefusal(res, 401, challengeFor('invalid_token', refusal('tenant').error_description), refusal('tenant'));
  });

  it('keeps the signature, alg and exp checks: validators for alg or exp are refused at start-up', () => {
    const base = { issuer: issuer.issuer, jwksUri: `${issuer.issuer}/jwks`, audience: AUDIENCE, allowInsecureHttp: true };
    expect(() => createBearerVerifier({ ...base, validators: { exp: false } })).toThrow(/Option "validators.exp"/);
    expect(() => createBearerVerifier({ ...base, validators: { alg: false } })).toThrow(/Option "validators.alg"/);
    expect(() => createBearerVerifier({ ...base, validators: { tenant: 1 as never } })).toThrow(/Option "validators.tenant"/);
  });
});
