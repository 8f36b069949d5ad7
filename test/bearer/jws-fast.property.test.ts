/**
 * Differential property test of the synchronous accept-only path (src/bearer/jws-fast.ts)
 * against jose: for many tokens — valid ones, and ones with a changed header, payload or
 * signature, `exp`/`nbf`/`iat` at the tolerance boundaries, `aud` as a string or an array, a wrong
 * `iss`, `typ` variants, `crit` and other header members, an `alg` that does not fit the key, an
 * RSA key under 2048 bits, RS/PS/ES/EdDSA — it checks that
 * 1. whatever the fast path accepts (signature checked inline or on the threadpool), jose
 *    (`verifyAccessToken()`) accepts with the same payload and header, under several verifier
 *    configurations and a fixed clock;
 * 2. the guard's whole answer (pass and the payload, or status, headers and body) is the one the
 *    same guard gives with the fast path switched off.
 * Tokens are signed by hand with node:crypto so any header, payload and algorithm can be made.
 */
import { constants, generateKeyPairSync, KeyObject, sign as cryptoSign, type SignKeyObjectInput, type webcrypto } from 'node:crypto';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import type { Request, Response } from 'express';
import type { JWK } from 'jose';
import { acceptPlainJws, acceptPlainJwsLater, parsePlainJws } from '../../src/bearer/jws-fast.js';
import { requireBearer, type BearerMiddleware } from '../../src/bearer/middleware.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import type { InternalBearerVerifier } from '../../src/bearer/verifier.js';
import { verifyAccessToken, type JwtVerifyConfig } from '../../src/bearer/verify.js';
import { RemoteKeySet } from '../../src/issuer/jwks.js';
import { generateTestKey, startJwksServer, type JwksServer, type TestKey } from '../support/jwks-server.js';
import { AUDIENCE, memoryLogger } from './fixtures.js';

const OTHER_AUDIENCE = 'https://other-api.example.test';
const DEFAULT_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** How node:crypto signs for each JWS alg. */
const SIGNING: Record<string, { digest: string | null; options: Omit<SignKeyObjectInput, 'key'> }> = {
  RS256: { digest: 'sha256', options: {} },
  RS384: { digest: 'sha384', options: {} },
  RS512: { digest: 'sha512', options: {} },
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  PS384: { digest: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 } },
  PS512: { digest: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 } },
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { digest: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, options: {} },
};

/** A served key and the algorithms it can sign with (an RSA key without `alg` serves RS* and PS*). */
interface Signer {
  kid: string;
  privateKey: KeyObject;
  algs: string[];
}

const b64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64url');

/** One generated token description; `token()` builds it for a clock. */
interface TokenSpec {
  signer: number;
  signAlg: number;
  headerAlg: string | undefined;
  kid: 'same' | 'omit' | 'other' | 'number';
  typ: unknown;
  extraHeader: number;
  headerText: 'json' | 'spaced' | 'duplicate-alg' | 'proto';
  iss: 'right' | 'wrong' | 'missing' | 'number';
  aud: 'string' | 'other' | 'array' | 'array-other' | 'array-second' | 'array-mixed' | 'missing' | 'number';
  exp: number | 'missing' | 'string' | 'infinite';
  nbf: number | 'missing' | 'string';
  iat: number | 'missing' | 'string' | 'null';
  sub: boolean;
  jti: boolean;
  clientId: boolean;
  scope: boolean;
  cnf: boolean;
  mutation: string;
  position: number;
}

const EXTRA_HEADERS: Array<Record<string, unknown> | undefined> = [
  undefined,
  undefined,
  undefined,
  { crit: ['exp'], exp: 1 },
  { crit: ['b64'], b64: true },
  { jku: 'https://attacker.example/jwks' },
  { jwk: { kty: 'oct', k: 'AAAA' } },
  { x5c: [] },
  { x5u: 'https://attacker.example/x5u' },
  { foo: 'bar' },
  { cty: 'JWT' },
];

const MUTATIONS = [
  'flip-signature',
  'flip-payload',
  'flip-header',
  'truncate-signature',
  'extend-signature',
  'pad-signature',
  'pad-payload',
  'space',
  'extra-segment',
  'two-segments',
  'bom-payload',
  'bad-utf8-payload',
  'array-payload',
  'empty-signature',
  'plus-slash',
  // Signed, but not as the alg says: PS* with the longest salt, ES* in DER.
  'other-salt',
  'der-signature',
];

/** A token every configuration below accepts (with the signer and alg picked). */
const VALID: Omit<TokenSpec, 'signer' | 'signAlg' | 'position'> = {
  headerAlg: undefined,
  kid: 'same',
  typ: 'at+jwt',
  extraHeader: 0,
  headerText: 'json',
  iss: 'right',
  aud: 'string',
  exp: 3600,
  nbf: 'missing',
  iat: 0,
  sub: true,
  jti: true,
  clientId: true,
  scope: true,
  cnf: false,
  mutation: 'none',
};
type Varied = keyof typeof VALID;

/**
 * Tokens that are valid but for at most two changed parts (so accepted and refused tokens both
 * come often, and a refusal has one cause), each change drawn from its own list of variants.
 */
const specArb = (signerCount: number): fc.Arbitrary<TokenSpec> =>
  fc
    .record({
      signer: fc.nat({ max: signerCount - 1 }),
      signAlg: fc.nat({ max: 5 }),
      position: fc.nat({ max: 10_000 }),
      changed: fc.subarray(Object.keys(VALID) as Varied[], { maxLength: 2 }),
      variants: fc.record({
        headerAlg: fc.constantFrom('RS256', 'RS512', 'PS256', 'PS384', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'HS256', 'none', ''),
        kid: fc.constantFrom<TokenSpec['kid']>('omit', 'other', 'number'),
        typ: fc.constantFrom(undefined, 'AT+JWT', 'application/at+jwt', 'Application/At+Jwt', 'JWT', 'at+jwt2', 'application/at+jwt; x', 7),
        extraHeader: fc.integer({ min: 1, max: EXTRA_HEADERS.length - 1 }),
        headerText: fc.constantFrom<TokenSpec['headerText']>('spaced', 'duplicate-alg', 'proto'),
        iss: fc.constantFrom<TokenSpec['iss']>('wrong', 'missing', 'number'),
        aud: fc.constantFrom<TokenSpec['aud']>('array', 'other', 'array-other', 'array-second', 'array-mixed', 'missing', 'number'),
        // Seconds from now, on and next to the boundaries of the configurations below
        // (clockTolerance 0, 3 and 5; maxTokenAge 60 and 55).
        exp: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(-6, -5, -4, -3, -2, -1, 0, 1) },
          fc.constantFrom<'missing' | 'string' | 'infinite'>('missing', 'string', 'infinite'),
        ),
        nbf: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(-1, 0, 1, 3, 4, 5, 6) }, fc.constant<'string'>('string')),
        iat: fc.oneof(
          { weight: 2, arbitrary: fc.constantFrom(0, 1, 3, 4, 5, 6) },
          { weight: 3, arbitrary: fc.constantFrom(-66, -65, -64, -59, -58, -57, -56, -55) },
          fc.constantFrom<'missing' | 'string' | 'null'>('missing', 'string', 'null'),
        ),
        sub: fc.constant(false),
        jti: fc.constant(false),
        clientId: fc.constant(false),
        scope: fc.constant(false),
        cnf: fc.constant(true),
        mutation: fc.constantFrom(...MUTATIONS),
      }),
    })
    .map(({ signer, signAlg, position, changed, variants }) => {
      const spec: TokenSpec = { ...VALID, signer, signAlg, position };
      for (const key of changed) (spec as unknown as Record<string, unknown>)[key] = variants[key];
      return spec;
    });

function flip(segment: string, position: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const limit = Math.max(1, segment.length - 1);
  const at = position % limit;
  const next = alphabet[(alphabet.indexOf(segment[at] ?? 'A') + 17) % alphabet.length]!;
  return segment.slice(0, at) + next + segment.slice(at + 1);
}

function buildToken(spec: TokenSpec, signers: Signer[], issuer: string, nowS: number): string {
  const signer = signers[spec.signer]!;
  const signAlg = signer.algs[spec.signAlg % signer.algs.length]!;
  const header: Record<string, unknown> = { alg: spec.headerAlg ?? signAlg };
  if (spec.kid === 'same') header.kid = signer.kid;
  else if (spec.kid === 'other') header.kid = `${signer.kid}-other`;
  else if (spec.kid === 'number') header.kid = 42;
  if (spec.typ !== undefined) header.typ = spec.typ;
  Object.assign(header, EXTRA_HEADERS[spec.extraHeader]);
  let headerText = JSON.stringify(header);
  if (spec.headerText === 'spaced') headerText = JSON.stringify(header, null, 1);
  else if (spec.headerText === 'duplicate-alg') headerText = `{"alg":"none",${headerText.slice(1)}`;
  else if (spec.headerText === 'proto') headerText = `{"__proto__":{"crit":["x"]},${headerText.slice(1)}`;

  const payload: Record<string, unknown> = {};
  if (spec.iss === 'right') payload.iss = issuer;
  else if (spec.iss === 'wrong') payload.iss = `${issuer}/other`;
  else if (spec.iss === 'number') payload.iss = 1;
  switch (spec.aud) {
    case 'string':
      payload.aud = AUDIENCE;
      break;
    case 'other':
      payload.aud = 'https://nobody.example';
      break;
    case 'array':
      payload.aud = [AUDIENCE, 'https://nobody.example'];
      break;
    case 'array-other':
      payload.aud = ['https://nobody.example'];
      break;
    case 'array-second':
      payload.aud = ['https://nobody.example', OTHER_AUDIENCE];
      break;
    case 'array-mixed':
      payload.aud = [7, null, AUDIENCE];
      break;
    case 'number':
      payload.aud = 7;
      break;
    case 'missing':
      break;
  }
  const time = (value: number | string, tolerance = 0): unknown =>
    typeof value === 'number' ? nowS + value + tolerance : value === 'string' ? String(nowS) : value === 'null' ? null : undefined;
  if (spec.exp !== 'missing' && spec.exp !== 'infinite') payload.exp = time(spec.exp);
  if (spec.nbf !== 'missing') payload.nbf = time(spec.nbf);
  if (spec.iat !== 'missing') payload.iat = time(spec.iat);
  if (spec.sub) payload.sub = 'user-1';
  if (spec.jti) payload.jti = `jti-${spec.position}`;
  if (spec.clientId) payload.client_id = 'client-1';
  if (spec.scope) payload.scope = 'read write';
  if (spec.cnf) payload.cnf = { 'x5t#S256': 'bm90LWEtdGh1bWJwcmludA' };
  let payloadBytes = Buffer.from(JSON.stringify(payload));
  // JSON.parse reads 1e400 as Infinity: an exp that never comes.
  if (spec.exp === 'infinite')
    payloadBytes = Buffer.from(`${JSON.stringify(payload).slice(0, -1)}${Object.keys(payload).length ? ',' : ''}"exp":1e400}`);
  if (spec.mutation === 'bom-payload') payloadBytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), payloadBytes]);
  if (spec.mutation === 'bad-utf8-payload')
    payloadBytes = Buffer.concat([payloadBytes.subarray(0, -1), Buffer.from([0xc3, 0x28]), Buffer.from('}')]);
  if (spec.mutation === 'array-payload') payloadBytes = Buffer.from(JSON.stringify([payload]));

  let h = b64(headerText);
  let p = b64(payloadBytes);
  if (spec.mutation === 'pad-payload') p = `${p}${'='.repeat((4 - (p.length % 4)) % 4 || 1)}`;
  const input = `${h}.${p}`;
  const { digest, options: usual } = SIGNING[signAlg]!;
  const options = { ...usual };
  if (spec.mutation === 'other-salt' && options.saltLength !== undefined) options.saltLength = constants.RSA_PSS_SALTLEN_MAX_SIGN;
  if (spec.mutation === 'der-signature' && options.dsaEncoding !== undefined) options.dsaEncoding = 'der';
  let s: string;
  try {
    s = b64(cryptoSign(digest, Buffer.from(input), { key: signer.privateKey, ...options }));
  } catch {
    // PS512 does not fit a 1024-bit key: some signature of the right length.
    s = b64(Buffer.alloc(128, 1));
  }
  switch (spec.mutation) {
    case 'flip-signature':
      s = flip(s, spec.position);
      break;
    case 'flip-payload':
      p = flip(p, spec.position);
      break;
    case 'flip-header':
      h = flip(h, spec.position);
      break;
    case 'truncate-signature':
      s = s.slice(0, -4);
      break;
    case 'extend-signature':
      s = `${s}AAAA`;
      break;
    case 'pad-signature':
      s = `${s}=`;
      break;
    case 'space':
      s = `${s.slice(0, 4)} ${s.slice(4)}`;
      break;
    case 'empty-signature':
      s = '';
      break;
    case 'plus-slash':
      s = s.replace(/-/g, '+').replace(/_/g, '/');
      break;
    case 'extra-segment':
      return `${h}.${p}.${s}.${s}`;
    case 'two-segments':
      return `${h}.${p}`;
  }
  return `${h}.${p}.${s}`;
}

describe('property: the fast path accepts only what jose accepts, with the same result', () => {
  let jwks: JwksServer;
  let signers: Signer[];
  let keySet: RemoteKeySet;
  let clockMs = 0;

  beforeAll(async () => {
    jwks = await startJwksServer({ algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA'] });
    // An RSA key without `alg` (jose selects it for any RS* and PS*), an RSA key under 2048 bits,
    // and a stranger's key under the kid of the served RS256 key.
    const rsaAny = await generateTestKey('RS256', 'rsa-any');
    delete rsaAny.publicJwk.alg;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const weakKey: TestKey = {
      kid: 'weak-1024',
      alg: 'RS256',
      privateKey: weak.privateKey as unknown as TestKey['privateKey'],
      publicKey: weak.publicKey as unknown as TestKey['publicKey'],
      publicJwk: { ...(weak.publicKey.export({ format: 'jwk' }) as JWK), kid: 'weak-1024', use: 'sig' },
    };
    const stranger = await generateTestKey('RS256', jwks.keys[0]!.kid);
    jwks.keys = [...jwks.keys, rsaAny, weakKey];
    const rsa = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    signers = [
      ...jwks.keys.map((k) => ({
        kid: k.kid,
        privateKey: k.privateKey instanceof KeyObject ? k.privateKey : KeyObject.from(k.privateKey as unknown as webcrypto.CryptoKey),
        algs: k === rsaAny || k === weakKey ? rsa : [k.alg],
      })),
      { kid: stranger.kid, privateKey: KeyObject.from(stranger.privateKey as unknown as webcrypto.CryptoKey), algs: ['RS256'] },
    ];
    keySet = new RemoteKeySet(jwks.jwksUri);
  });
  afterAll(async () => {
    await jwks.close();
  });

  function configs(): JwtVerifyConfig[] {
    const base = { issuer: jwks.issuer, key: keySet.getKey, now: () => clockMs };
    return [
      { ...base, audience: [AUDIENCE], algorithms: [...DEFAULT_ALGS, 'Ed25519'], clockTolerance: 5, requiredClaims: [], strict: false },
      { ...base, audience: [AUDIENCE], algorithms: DEFAULT_ALGS, clockTolerance: 0, requiredClaims: [], strict: true },
      {
        ...base,
        audience: [AUDIENCE],
        algorithms: DEFAULT_ALGS,
        clockTolerance: 5,
        maxTokenAge: 60,
        requiredClaims: ['scope'],
        strict: false,
      },
      {
        ...base,
        audience: [OTHER_AUDIENCE, AUDIENCE],
        algorithms: ['RS256', 'PS384', 'ES256', 'EdDSA'],
        clockTolerance: 5,
        requiredClaims: [],
        strict: true,
      },
      {
        ...base,
        audience: [AUDIENCE],
        algorithms: DEFAULT_ALGS,
        clockTolerance: 3,
        maxTokenAge: 55,
        requiredClaims: ['sub'],
        strict: true,
      },
    ];
  }

  it('fast accept => jose accepts, with the same payload and header', async () => {
    const cases = configs();
    const keyFor = (alg: string, kid: string | undefined): unknown => keySet.keyFor(alg, kid);
    // jose selects each key once, so the fast path has keys to work with.
    const nowS = Math.floor(Date.now() / 1000);
    clockMs = nowS * 1000;
    for (const signer of signers) {
      for (const alg of signer.algs) {
        const spec: TokenSpec = {
          signer: signers.indexOf(signer),
          signAlg: signer.algs.indexOf(alg),
          headerAlg: undefined,
          kid: 'same',
          typ: 'at+jwt',
          extraHeader: 0,
          headerText: 'json',
          iss: 'right',
          aud: 'string',
          exp: 3600,
          nbf: 'missing',
          iat: 0,
          sub: true,
          jti: true,
          clientId: true,
          scope: true,
          cnf: false,
          mutation: 'none',
          position: 0,
        };
        await verifyAccessToken(buildToken(spec, signers, jwks.issuer, nowS), cases[0]!).catch(() => undefined);
      }
    }
    const tally = { checks: 0, fastAccepted: 0, joseAccepted: 0 };
    await fc.assert(
      fc.asyncProperty(specArb(signers.length), fc.constantFrom(0, 1, 500, 999, 999.5), async (spec, fraction) => {
        clockMs = nowS * 1000 + fraction;
        const token = buildToken(spec, signers, jwks.issuer, nowS);
        for (const config of cases) {
          const jws = parsePlainJws(token);
          const fast = jws && acceptPlainJws(token, jws, config, keyFor, clockMs);
          // The verifier checks the signature on the threadpool: the same verdict.
          expect(jws && (await acceptPlainJwsLater(token, jws, config, keyFor, clockMs))).toEqual(fast);
          const jose = await verifyAccessToken(token, config).then(
            (auth) => ({ auth }),
            (err: unknown) => ({ err }),
          );
          tally.checks += 1;
          if ('auth' in jose) tally.joseAccepted += 1;
          if (fast === undefined) continue;
          tally.fastAccepted += 1;
          if (!('auth' in jose))
            throw new Error(`fast path accepted what jose refuses (${(jose.err as Error).message}): ${JSON.stringify(spec)}`);
          expect(fast).toEqual(jose.auth);
        }
      }),
      { numRuns: 1000 },
    );
    // Not vacuous: the fast path took most of what jose accepted.
    expect(tally.fastAccepted).toBeGreaterThan(100);
    expect(tally.fastAccepted).toBeGreaterThan(tally.joseAccepted * 0.5);
  }, 60_000); // 1000 (300) signed tokens: seconds on a quiet machine, longer on a loaded one
});

/** Runs the guard on a bare request object (no HTTP) and reports how it ended. */
function runGuard(
  guard: BearerMiddleware,
  token: string,
): Promise<{ passed: boolean; status: number; headers: Record<string, unknown>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, unknown> = {};
    const res = {
      statusCode: 200,
      headersSent: false,
      setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = value),
      end(body?: string) {
        resolve({ passed: false, status: this.statusCode, headers, body: JSON.parse(body ?? 'null') as unknown });
      },
    };
    const req = { headers: { authorization: `Bearer ${token}` }, method: 'GET', url: '/api', originalUrl: '/api', body: undefined };
    guard(req as unknown as Request, res as unknown as Response, (err?: unknown) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ passed: true, status: 200, headers, body: (req as { auth?: { payload: unknown } }).auth?.payload });
    });
  });
}

describe('property: the guard answers as the jose path does', () => {
  let jwks: JwksServer;
  let signers: Signer[];
  const nowS = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    // Only the Date is fixed (the clock both paths read); timers and I/O run for real.
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setInterval',
        'clearInterval',
        'setTimeout',
        'clearTimeout',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
      now: nowS * 1000 + 250,
    });
    jwks = await startJwksServer({ algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
    signers = jwks.keys.map((k) => ({
      kid: k.kid,
      privateKey: KeyObject.from(k.privateKey as unknown as webcrypto.CryptoKey),
      algs: [k.alg],
    }));
  });
  afterAll(async () => {
    jest.useRealTimers();
    await jwks.close();
  });

  // The signature inline (the default on one core) and on the threadpool (with more).
  it.each<[string, BearerOptions, boolean]>([
    ['defaults, signature on the threadpool', {}, false],
    ['defaults, signature inline', {}, true],
    ['strict, maxTokenAge, no tolerance, signature on the threadpool', { strict: true, maxTokenAge: 60, clockTolerance: 0 }, false],
    ['strict, maxTokenAge, no tolerance, signature inline', { strict: true, maxTokenAge: 60, clockTolerance: 0 }, true],
  ])(
    '%s',
    async (_name, options, inline) => {
      const all: BearerOptions = {
        issuer: jwks.issuer,
        jwksUri: jwks.jwksUri,
        audience: AUDIENCE,
        logger: memoryLogger(),
        cache: false,
        ...options,
      };
      const guard = requireBearer(all);
      const fastProbe = guard.verifier as InternalBearerVerifier;
      fastProbe.inlineSignature = inline;
      // The same guard with the fast path switched off: every token goes to jose.
      const reference = requireBearer(all);
      (reference.verifier as InternalBearerVerifier).fastPath = false;
      for (const signer of signers) {
        const spec: TokenSpec = {
          signer: signers.indexOf(signer),
          signAlg: 0,
          headerAlg: undefined,
          kid: 'same',
          typ: 'at+jwt',
          extraHeader: 0,
          headerText: 'json',
          iss: 'right',
          aud: 'string',
          exp: 3600,
          nbf: 'missing',
          iat: 0,
          sub: true,
          jti: true,
          clientId: true,
          scope: true,
          cnf: false,
          mutation: 'none',
          position: 0,
        };
        const token = buildToken(spec, signers, jwks.issuer, nowS);
        expect((await runGuard(guard, token)).passed).toBe(true);
        expect((await runGuard(reference, token)).passed).toBe(true);
      }
      let fastAccepted = 0;
      await fc.assert(
        fc.asyncProperty(specArb(signers.length), async (spec) => {
          const token = buildToken(spec, signers, jwks.issuer, nowS);
          if ((await fastProbe.verifyFast(token)) !== undefined) fastAccepted += 1;
          // Status, headers (WWW-Authenticate, Cache-Control), body; or the accepted payload.
          expect(await runGuard(guard, token)).toEqual(await runGuard(reference, token));
        }),
        { numRuns: 300 },
      );
      expect(fastAccepted).toBeGreaterThan(20);
    },
    60_000,
  ); // 1000 (300) signed tokens: seconds on a quiet machine, longer on a loaded one
});
