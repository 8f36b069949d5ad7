/**
 * The accept-only fast path (src/bearer/jws-fast.ts) through the verifier: each algorithm
 * it handles, and the cases it must leave to jose. The differential property test is
 * jws-fast.property.test.ts.
 */
import { constants, generateKeyPairSync, KeyObject, sign as cryptoSign, type SignKeyObjectInput, type webcrypto } from 'node:crypto';
import { jwtVerify, createLocalJWKSet, type JWK } from 'jose';
import { resolveBearerOptions } from '../../src/bearer/config.js';
import { parsePlainJws } from '../../src/bearer/jws-fast.js';
import { verifierFor, type InternalBearerVerifier } from '../../src/bearer/verifier.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import { startJwksServer, type JwksServer, type TestKey } from '../support/jwks-server.js';
import { decodePayload, encodeSegment, flipChar, mintToken, rawToken } from '../support/tokens.js';
import { AUDIENCE, memoryLogger } from './fixtures.js';

function verifierOf(jwks: JwksServer, options: BearerOptions = {}): InternalBearerVerifier {
  return verifierFor(
    resolveBearerOptions({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE, logger: memoryLogger(), ...options }),
  );
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

describe('jws-fast: every algorithm it handles', () => {
  it.each(ALGORITHMS)('%s: accepted by the fast path once jose has selected the key, with the payload jose gives', async (alg) => {
    const jwks = await startJwksServer({ algorithms: [alg] });
    try {
      const verifier = verifierOf(jwks, { cache: false, algorithms: [alg] });
      const first = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read write' } });
      // No keys fetched yet: the fast path does not apply.
      expect(await verifier.verifyFast(first)).toBeUndefined();
      await expect(verifier.verify(first)).resolves.toMatchObject({ kind: 'jwt' });

      const second = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, claims: { scope: 'read write' } });
      const fast = await verifier.verifyFast(second);
      expect(fast).toBeDefined();
      const jose = await jwtVerify(second, createLocalJWKSet({ keys: [jwks.key.publicJwk] }), { issuer: jwks.issuer, audience: AUDIENCE });
      expect(fast).toEqual({
        payload: jose.payload,
        header: jose.protectedHeader,
        token: second,
        scopes: ['read', 'write'],
        issuer: jwks.issuer,
        kind: 'jwt',
      });
      expect(fast!.payload).toEqual(decodePayload(second));
      // The full check agrees.
      await expect(verifier.verifyUncached(second)).resolves.toEqual(fast);

      // A changed signature is not accepted here, and jose gives the answer.
      const forged = flipChar(second, 2, 5);
      expect(await verifier.verifyFast(forged)).toBeUndefined();
      await expect(verifier.verify(forged)).rejects.toMatchObject({ status: 401, description: 'signature verification failed' });
    } finally {
      await jwks.close();
    }
  });
});

describe('jws-fast: what it leaves to jose', () => {
  let jwks: JwksServer;
  let verifier: InternalBearerVerifier;
  const mint = (options: Partial<Parameters<typeof mintToken>[0]> = {}): Promise<string> =>
    mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE, ...options });

  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['ES256'] });
    verifier = verifierOf(jwks, { cache: false, strict: true });
    await verifier.verify(await mint());
  });
  afterAll(async () => {
    await jwks.close();
  });

  it('accepts the plain shape (the control for the cases below)', async () => {
    expect(await verifier.verifyFast(await mint())).toBeDefined();
    expect(await verifier.verifyFast(await mint({ header: { typ: 'application/AT+JWT' } }))).toBeDefined();
  });

  it.each<[string, Record<string, unknown>]>([
    ['an unknown header member', { foo: 'bar' }],
    ['jku', { jku: 'https://attacker.example/jwks' }],
    ['x5u', { x5u: 'https://attacker.example/cert' }],
    ['cty', { cty: 'JWT' }],
  ])('a header with %s goes to jose (which accepts it here)', async (_name, header) => {
    const token = await mint({ header });
    expect(await verifier.verifyFast(token)).toBeUndefined();
    await expect(verifier.verify(token)).resolves.toMatchObject({ kind: 'jwt' });
  });

  it('a crit header goes to jose, which refuses it', async () => {
    const token = await mint({ header: { 'urn:example:ext': 1, crit: ['urn:example:ext'] }, critical: ['urn:example:ext'] });
    expect(await verifier.verifyFast(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, description: 'unsupported token header or algorithm' });
  });

  it.each<[string, Partial<Parameters<typeof mintToken>[0]>, string]>([
    ['a wrong typ (strict)', { header: { typ: 'JWT' } }, 'unexpected token type'],
    ['no jti (strict)', { claims: { jti: undefined } }, 'token lacks the jti claim'],
    ['another audience', { audience: 'https://other.example' }, 'unexpected audience'],
    ['another issuer', { issuer: 'https://other.example' }, 'unexpected issuer'],
    ['exp in the past', { expiresIn: -60 }, 'token expired'],
    ['iat in the future', { claims: { iat: Math.floor(Date.now() / 1000) + 600 } }, 'token issued in the future'],
    ['nbf in the future', { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }, 'token not yet valid'],
    ['a string exp', { claims: { exp: 'tomorrow' } }, 'token has an invalid exp claim'],
  ])("%s: not accepted here; the refusal is jose's", async (_name, options, description) => {
    const token = await mint(options);
    expect(await verifier.verifyFast(token)).toBeUndefined();
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, description });
  });

  it('padding, whitespace and an unsigned token are not the plain shape', async () => {
    const token = await mint();
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const odd of [`${h}.${p}.${s}=`, `${h}.${p}.${s} `, `${h}.${p}.${s}.`, rawToken({ alg: 'none' }, decodePayload(token))]) {
      expect(await verifier.verifyFast(odd)).toBeUndefined();
    }
  });

  it('an alg outside the allow-list is left to jose', async () => {
    const narrow = verifierOf(jwks, { cache: false, algorithms: ['RS256'] });
    const token = await mint();
    expect(await narrow.verifyFast(token)).toBeUndefined();
    await expect(narrow.verify(token)).rejects.toMatchObject({ status: 401, description: 'unsupported algorithm' });
  });
});

describe('jws-fast: signatures made otherwise than the alg says', () => {
  it.each<[string, string, Omit<SignKeyObjectInput, 'key'>]>([
    [
      'PS256 with the longest salt (RFC 7518 §3.5 fixes it to the hash length)',
      'PS256',
      { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN },
    ],
    ['PS256 with no salt', 'PS256', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 }],
    ['PS256 signed as RS256', 'PS256', {}],
    ['RS256 signed with PSS', 'RS256', { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }],
    ['ES256 in DER', 'ES256', { dsaEncoding: 'der' }],
  ])('%s: refused by jose and never accepted here', async (_name, alg, options) => {
    const jwks = await startJwksServer({ algorithms: [alg] });
    try {
      const verifier = verifierOf(jwks, { cache: false });
      await verifier.verify(await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE }));
      const now = Math.floor(Date.now() / 1000);
      const input = `${encodeSegment({ alg, kid: jwks.key.kid, typ: 'at+jwt' })}.${encodeSegment({ iss: jwks.issuer, aud: AUDIENCE, iat: now, exp: now + 300 })}`;
      const key = KeyObject.from(jwks.key.privateKey as unknown as webcrypto.CryptoKey);
      const token = `${input}.${cryptoSign('sha256', Buffer.from(input), { key, ...options }).toString('base64url')}`;
      expect(await verifier.verifyFast(token)).toBeUndefined();
      await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, description: 'signature verification failed' });
    } finally {
      await jwks.close();
    }
  });
});

describe('jws-fast: several issuers, one found by discovery', () => {
  it("uses each issuer's own config and keys; a token naming one issuer signed by the other's key goes to jose", async () => {
    const a = await startJwksServer({ algorithms: ['ES256'] });
    const b = await startJwksServer({ algorithms: ['ES256'] });
    try {
      const options = (): BearerOptions => ({
        audience: AUDIENCE,
        cache: false,
        logger: memoryLogger(),
        issuers: [
          { issuer: a.issuer, jwksUri: a.jwksUri },
          { issuerBaseURL: b.issuer, audience: 'https://b-api.example.test' },
        ],
      });
      const verifier = verifierFor(resolveBearerOptions(options()));
      const joseOnly = verifierFor(resolveBearerOptions(options()));
      joseOnly.fastPath = false;
      const fromA = (): Promise<string> => mintToken({ key: a.key, issuer: a.issuer, audience: AUDIENCE });
      const fromB = (): Promise<string> => mintToken({ key: b.key, issuer: b.issuer, audience: 'https://b-api.example.test' });
      await verifier.verify(await fromA());
      await verifier.verify(await fromB());
      expect(await verifier.verifyFast(await fromA())).toMatchObject({ issuer: a.issuer });
      expect(await verifier.verifyFast(await fromB())).toMatchObject({ issuer: b.issuer });
      // B's audience is not A's: the fast path does not take B's token for A's API, nor the reverse.
      expect(await verifier.verifyFast(await mintToken({ key: b.key, issuer: b.issuer, audience: AUDIENCE }))).toBeUndefined();
      const forged = await mintToken({ key: b.key, issuer: a.issuer, audience: AUDIENCE });
      expect(await verifier.verifyFast(forged)).toBeUndefined();
      const description = await joseOnly.verify(forged).catch((err: { description: string }) => err.description);
      expect(description).toEqual(expect.any(String));
      await expect(verifier.verify(forged)).rejects.toMatchObject({ status: 401, description });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('jws-fast: keys jose refuses', () => {
  it('an RSA key under 2048 bits is never used here; jose refuses the token', async () => {
    const jwks = await startJwksServer({ algorithms: ['RS256'] });
    try {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const weak: TestKey = {
        kid: 'weak-1024',
        alg: 'RS256',
        privateKey: privateKey as unknown as TestKey['privateKey'],
        publicKey: publicKey as unknown as TestKey['publicKey'],
        publicJwk: { ...(publicKey.export({ format: 'jwk' }) as JWK), kid: 'weak-1024', alg: 'RS256', use: 'sig' },
      };
      jwks.keys = [weak, ...jwks.keys];
      const verifier = verifierOf(jwks, { cache: false });
      // jose will not sign with a short key; node:crypto will.
      const sign = async (): Promise<string> => {
        const now = Math.floor(Date.now() / 1000);
        const input = `${encodeSegment({ alg: 'RS256', kid: 'weak-1024', typ: 'at+jwt' })}.${encodeSegment({ iss: jwks.issuer, aud: AUDIENCE, iat: now, exp: now + 300, sub: 's', jti: String(Math.random()), client_id: 'c' })}`;
        return `${input}.${cryptoSign('sha256', Buffer.from(input), privateKey as KeyObject).toString('base64url')}`;
      };
      await expect(verifier.verify(await sign())).rejects.toMatchObject({ status: 401, description: 'token could not be verified' });
      const token = await sign();
      expect(await verifier.verifyFast(token)).toBeUndefined();
      await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401, description: 'token could not be verified' });
    } finally {
      await jwks.close();
    }
  });

  it('the cache takes what is accepted here, so the next use is a cache hit', async () => {
    const jwks = await startJwksServer({ algorithms: ['ES256'] });
    try {
      const verifier = verifierOf(jwks);
      await verifier.verify(await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE }));
      const token = await mintToken({ key: jwks.key, issuer: jwks.issuer, audience: AUDIENCE });
      expect(verifier.cached(token)).toBeUndefined();
      expect(await verifier.verifyFast(token)).toBeDefined();
      // verifyFast() alone does not cache; verifyUncached() takes the fast path and does.
      expect(verifier.cached(token)).toBeUndefined();
      await expect(verifier.verifyUncached(token)).resolves.toMatchObject({ token });
      expect(verifier.cached(token)).toMatchObject({ token, kind: 'jwt' });
      expect(verifier.cache!.hits).toBe(1);
    } finally {
      await jwks.close();
    }
  });
});

describe('jws-fast: the header decoded once for tokens that share it', () => {
  const payload = (n: number) => encodeSegment({ iss: 'https://i.example.test', aud: AUDIENCE, exp: 2_000_000_000, jti: `j-${n}` });
  const token = (header: Record<string, unknown>, n: number) => `${encodeSegment(header)}.${payload(n)}.AAAA`;

  it('gives each token its own header object, equal to a fresh decode', () => {
    const header = { alg: 'ES256', kid: 'k-1', typ: 'at+jwt' };
    const first = parsePlainJws(token(header, 1))!;
    const second = parsePlainJws(token(header, 2))!;
    expect(first.header).toEqual(header);
    expect(second.header).toEqual(header);
    expect(second.header).not.toBe(first.header);
    expect(Object.keys(second.header)).toEqual(['alg', 'kid', 'typ']);
    // Editing one token's header (an app editing req.auth.header) changes no later token's.
    first.header.kid = 'changed';
    expect(parsePlainJws(token(header, 3))!.header).toEqual(header);
    expect(second.payload).toMatchObject({ jti: 'j-2' });
  });

  it('checks every other header text in full, between and after known ones', () => {
    const plain = { alg: 'ES256', kid: 'k-1' };
    expect(parsePlainJws(token(plain, 1))).toBeDefined();
    expect(parsePlainJws(token({ ...plain, jku: 'https://attacker.example/jwks' }, 2))).toBeUndefined();
    expect(parsePlainJws(token({ ...plain, kid: 7 }, 3))).toBeUndefined();
    expect(parsePlainJws(token({ alg: 'ES256', kid: 'k-2' }, 4))!.header).toEqual({ alg: 'ES256', kid: 'k-2' });
    expect(parsePlainJws(token(plain, 5))!.header).toEqual(plain);
    // The same members in another order are another text, decoded as such.
    expect(Object.keys(parsePlainJws(token({ kid: 'k-1', alg: 'ES256' }, 6))!.header)).toEqual(['kid', 'alg']);
  });

  it('decodes a header whose typ is an object anew each time (no shared nested object)', () => {
    const header = { alg: 'ES256', typ: { odd: true } };
    const first = parsePlainJws(token(header, 1))!;
    const second = parsePlainJws(token(header, 2))!;
    expect(second.header).toEqual(header);
    expect(second.header.typ).not.toBe(first.header.typ);
  });
});
