import { errors as joseErrors } from 'jose';
import { mapVerifyError, verifyAccessToken } from '../../src/bearer/verify.js';
import { algorithmsFor } from '../../src/bearer/verifier.js';
import { InvalidTokenError, ServiceUnavailableError } from '../../src/errors/index.js';
import { generateTestKey } from '../support/jwks-server.js';
import { mintToken, nowSeconds } from '../support/tokens.js';

describe('verifyAccessToken() (no Express)', () => {
  it('verifies against a key function and reports the failed check by jose error code', async () => {
    const key = await generateTestKey('ES256');
    const config = {
      issuer: 'https://i.example.test',
      audience: ['https://api.example.test'],
      algorithms: ['ES256'],
      key: async () => key.publicKey,
      clockTolerance: 0,
      requiredClaims: [],
      strict: false,
    };
    const token = await mintToken({ key, issuer: config.issuer, audience: 'https://api.example.test', claims: { scope: 'a b' } });
    await expect(verifyAccessToken(token, config)).resolves.toMatchObject({
      kind: 'jwt',
      scopes: ['a', 'b'],
      issuer: config.issuer,
      token,
    });
    const later = { ...config, now: () => (nowSeconds() + 3600) * 1000 };
    await expect(verifyAccessToken(token, later)).rejects.toMatchObject({ code: 'invalid_token', description: 'token expired' });
  });
});

describe('mapVerifyError()', () => {
  it.each<[unknown, string]>([
    [new joseErrors.JWTExpired('x', {}, 'exp'), 'token expired'],
    [new joseErrors.JWTExpired('x', {}, 'iat'), 'token too old'],
    [new joseErrors.JWTClaimValidationFailed('x', {}, 'aud', 'check_failed'), 'unexpected audience'],
    [new joseErrors.JWTClaimValidationFailed('x', {}, 'weird"claim', 'missing'), 'token lacks the weirdclaim claim'],
    [new joseErrors.JWSSignatureVerificationFailed(), 'signature verification failed'],
    [new joseErrors.JOSEAlgNotAllowed('x'), 'unsupported algorithm'],
    [new joseErrors.JWKSNoMatchingKey(), 'no matching signing key'],
    [new joseErrors.JWSInvalid('x'), 'malformed token'],
    [new TypeError('key modulus too short: eyJhbGciOi...'), 'token could not be verified'],
  ])('maps %s to a fixed description', (err, description) => {
    const mapped = mapVerifyError(err);
    expect(mapped).toBeInstanceOf(InvalidTokenError);
    expect(mapped.description).toBe(description);
    expect(mapped.cause).toBe(err);
  });

  it('passes our own errors through (503 when the keys cannot be fetched)', () => {
    const err = new ServiceUnavailableError();
    expect(mapVerifyError(err)).toBe(err);
  });
});

describe('algorithmsFor() (issuer metadata *_signing_alg_values_supported)', () => {
  it('keeps the asymmetric defaults without metadata or without a usable list', () => {
    expect(algorithmsFor(undefined)).toEqual(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']);
    expect(algorithmsFor({ issuer: 'x', id_token_signing_alg_values_supported: ['HS256', 'none'] })).toHaveLength(10);
  });
  it('narrows to the union of what the issuer signs with, never adding HMAC or none', () => {
    expect(
      algorithmsFor({
        issuer: 'x',
        id_token_signing_alg_values_supported: ['RS256', 'none', 'HS256'],
        userinfo_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_signing_alg_values_supported: ['PS512'],
      }),
    ).toEqual(['RS256', 'ES256']);
  });
});
