import { constants, KeyObject, verify as verifySignature, type VerifyKeyObjectInput, type webcrypto } from 'node:crypto';
import type { JWSHeaderParameters } from 'jose';
import { PlainResult, type ResultConstructor } from './cache.js';
import { scopesOf } from './scopes.js';
import type { BearerAuth, BearerPayload } from './types.js';
import type { JwtVerifyConfig } from './verify.js';

/**
 * An accept-only check of the common JWT access token, in front of jose.
 *
 * Why: jose 6 verifies with WebCrypto (`crypto.subtle.verify`) and, per token, re-checks and
 * wraps the CryptoKey, builds the signing input and runs its claim checks with options it
 * validates again; in process that costs more CPU per token than node:crypto's `verify()` on a
 * `KeyObject` with the checks below (bench/micro/verify.ts), a large part of a first-seen request. The signature itself is checked either synchronously
 * (`acceptPlainJws()`) or, as the verifier does, on libuv's threadpool (`acceptPlainJwsLater()`,
 * node:crypto's `verify()` with a callback, as jose 4 does): with a core to spare that lets the
 * event loop serve other requests meanwhile. The verifier checks RSA inline always (its verify
 * costs less than the hop) and ECDSA/EdDSA inline on one core only (`inlineSignature`; figures:
 * BENCHMARKS.md, "Verifying on the threadpool or inline").
 *
 * How it stays exact: this module only ever ACCEPTS, and only the plainest shape — a compact JWS
 * of three strict base64url segments whose protected header holds nothing but `alg`, `kid` and
 * `typ`, with an allowed RS/PS/ES/EdDSA `alg`, a key that jose's own key selection already chose
 * for that `alg` and `kid` (`RemoteKeySet.keyFor()`), and claims that pass every check
 * `verifyAccessToken()` configures jose for. On anything else, and on any failure, it answers
 * `undefined` and the caller runs `verifyAccessToken()` (jose) as before, so every refusal, its
 * status and its `error_description` come from jose and `mapVerifyError()` unchanged. A refused
 * token therefore costs this attempt (a parse and at most one signature check) on top of jose's.
 * test/bearer/jws-fast.property.test.ts checks that whatever is accepted here, jose accepts with
 * the same payload, and that the guard answers every token as it does with jose alone.
 */

/** A key lookup that answers synchronously, or `undefined` when it would have to wait. */
export type SyncKeyLookup = (alg: string, kid: string | undefined) => unknown;

interface AlgSpec {
  /** node:crypto digest; `null` for EdDSA. */
  digest: string | null;
  /** The WebCrypto algorithm jose imports the key with (checked like jose's `checkCryptoKey`). */
  name: string;
  hash?: string;
  namedCurve?: string;
  /** ECDSA / EdDSA signature length (IEEE P1363 for ECDSA); RSA: the modulus length. */
  signatureBytes?: number;
  /** RSASSA-PSS salt length (RFC 7518 §3.5: the hash length). */
  saltLength?: number;
}

const rs = (bits: number): AlgSpec => ({ digest: `sha${bits}`, name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}` });
const ps = (bits: number): AlgSpec => ({ digest: `sha${bits}`, name: 'RSA-PSS', hash: `SHA-${bits}`, saltLength: bits / 8 });
const es = (bits: number, namedCurve: string, signatureBytes: number): AlgSpec => ({
  digest: `sha${bits}`,
  name: 'ECDSA',
  namedCurve,
  signatureBytes,
});

/** The algorithms checked here (jose 6's `EdDSA` is Ed25519 only). Everything else goes to jose. */
const SPECS: Readonly<Record<string, AlgSpec>> = Object.assign(Object.create(null) as Record<string, AlgSpec>, {
  RS256: rs(256),
  RS384: rs(384),
  RS512: rs(512),
  PS256: ps(256),
  PS384: ps(384),
  PS512: ps(512),
  ES256: es(256, 'P-256', 64),
  ES384: es(384, 'P-384', 96),
  ES512: es(512, 'P-521', 132),
  EdDSA: { digest: null, name: 'Ed25519', signatureBytes: 64 },
});

/** jose's RSA minimum (`checkModulusLength`). */
const MIN_RSA_BITS = 2048;

/** A key usable for one algorithm: its `KeyObject` and the signature length it makes. */
interface PreparedKey {
  alg: string;
  keyObject: KeyObject;
  signatureBytes: number;
  /** The key argument of node:crypto's `verify()` for `alg` (see `verifyKey()`), built once. */
  verifyInput: KeyObject | VerifyKeyObjectInput;
}

/** The key argument of node:crypto's `verify()` for this algorithm. */
function verifyKey(spec: AlgSpec, keyObject: KeyObject): KeyObject | VerifyKeyObjectInput {
  if (spec.saltLength !== undefined) return { key: keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: spec.saltLength };
  if (spec.name === 'ECDSA') return { key: keyObject, dsaEncoding: 'ieee-p1363' };
  return keyObject;
}

/** One conversion per CryptoKey (jose imports one CryptoKey per JWK and algorithm). */
const preparedKeys = new WeakMap<object, PreparedKey | null>();

/**
 * The `KeyObject` for `key` under `alg`, after the checks jose makes on a CryptoKey before
 * verifying (`prepareKey`, `checkCryptoKey`, `checkModulusLength`); `undefined` when any fails.
 */
function prepareKey(key: unknown, alg: string, spec: AlgSpec): PreparedKey | undefined {
  if (typeof key !== 'object' || key === null) return undefined;
  const known = preparedKeys.get(key);
  if (known !== undefined) return known !== null && known.alg === alg ? known : undefined;
  let prepared: PreparedKey | null = null;
  try {
    const cryptoKey = key as webcrypto.CryptoKey;
    const algorithm = cryptoKey.algorithm as { name?: unknown; hash?: { name?: unknown }; namedCurve?: unknown; modulusLength?: unknown };
    const ok =
      (key as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'CryptoKey' &&
      cryptoKey.type === 'public' &&
      Array.isArray(cryptoKey.usages) &&
      cryptoKey.usages.includes('verify') &&
      algorithm.name === spec.name &&
      (spec.hash === undefined || algorithm.hash?.name === spec.hash) &&
      (spec.namedCurve === undefined || algorithm.namedCurve === spec.namedCurve) &&
      (spec.signatureBytes !== undefined || (typeof algorithm.modulusLength === 'number' && algorithm.modulusLength >= MIN_RSA_BITS));
    if (ok) {
      const signatureBytes = spec.signatureBytes ?? Math.ceil((algorithm.modulusLength as number) / 8);
      const keyObject = KeyObject.from(cryptoKey);
      prepared = { alg, keyObject, signatureBytes, verifyInput: verifyKey(spec, keyObject) };
    }
  } catch {
    prepared = null;
  }
  preparedKeys.set(key, prepared);
  return prepared !== null && prepared.alg === alg ? prepared : undefined;
}

/** What is fixed per `JwtVerifyConfig`: worked out once, not per token. */
interface Plan {
  algorithms: ReadonlySet<string>;
  /** Claims that must be present (jose's presence check plus ours). */
  required: readonly string[];
  audience: readonly string[];
  issuer: string;
  tolerance: number;
  maxTokenAge: number | undefined;
  strict: boolean;
}

const RFC9068_CLAIMS = ['client_id', 'iat', 'jti', 'sub'];
const plans = new WeakMap<JwtVerifyConfig, Plan | null>();

function planFor(config: JwtVerifyConfig): Plan | undefined {
  let plan = plans.get(config);
  if (plan === undefined) {
    const { clockTolerance: tolerance, maxTokenAge } = config;
    // Options jose would reject with a TypeError are left to jose.
    const usable =
      typeof tolerance === 'number' &&
      Number.isFinite(tolerance) &&
      tolerance >= 0 &&
      (maxTokenAge === undefined || (typeof maxTokenAge === 'number' && Number.isFinite(maxTokenAge) && maxTokenAge >= 0)) &&
      typeof config.issuer === 'string';
    plan = usable
      ? {
          algorithms: new Set(config.algorithms),
          required: [
            ...new Set([
              'iss',
              'aud',
              'exp',
              ...config.requiredClaims,
              ...(config.strict ? RFC9068_CLAIMS : []),
              ...(maxTokenAge !== undefined ? ['iat'] : []),
            ]),
          ],
          audience: [...config.audience],
          issuer: config.issuer,
          tolerance,
          maxTokenAge,
          strict: config.strict,
        }
      : null;
    plans.set(config, plan);
  }
  return plan ?? undefined;
}

/** Header members this path understands; any other member (crit, b64, jku, jwk, x5c, ...) goes to jose. */
const PLAIN_HEADER_MEMBERS = new Set(['alg', 'kid', 'typ']);
/** base64url without padding (RFC 7515 §2); jose's decoder also takes padding and whitespace, which go to jose. */
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** jose decodes with a fatal UTF-8 decoder (BOM stripped); the same here, so the same bytes give the same JSON. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The three parts of a compact JWS, decoded. */
export interface PlainJws {
  header: { alg: string; kid?: string; typ?: unknown };
  payload: Record<string, unknown>;
  /** `header.payload` as bytes. */
  signingInput: Buffer;
  signature: Buffer;
}

function decodeSegment(segment: string): Record<string, unknown> | undefined {
  if (segment.length % 4 === 1 || !BASE64URL.test(segment)) return undefined;
  const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  // jose's isObject(): a plain object (JSON.parse makes no other kind of object but arrays).
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * The last plain header decoded, by its segment: one issuer's tokens mostly share one protected
 * header (`{ alg, kid, typ }`, byte for byte), so decoding it again for every first-seen token
 * (base64url, UTF-8, JSON) is work already done. Kept only when every member is a primitive, so
 * a shallow copy equals a fresh decode.
 */
let lastHeaderSegment: string | undefined;
let lastHeader: PlainJws['header'] | undefined;

/** The header segment decoded, when it is of the plain shape (see `parsePlainJws()`); a new object each time. May throw. */
function plainHeader(segment: string): PlainJws['header'] | undefined {
  // Same text, same JSON: a copy of the last one, which passed the checks below.
  if (segment === lastHeaderSegment) return { ...lastHeader! };
  const header = decodeSegment(segment);
  if (header === undefined) return undefined;
  for (const member in header) if (!PLAIN_HEADER_MEMBERS.has(member)) return undefined;
  if (typeof header.alg !== 'string' || (header.kid !== undefined && typeof header.kid !== 'string')) return undefined;
  const plain = header as PlainJws['header'];
  if (typeof plain.typ !== 'object' || plain.typ === null) {
    lastHeader = { ...plain };
    // A flat copy: `segment` is a slice of the token, and would keep the whole token alive.
    lastHeaderSegment = Buffer.from(segment, 'latin1').toString('latin1');
  }
  return plain;
}

/**
 * Splits and decodes a compact JWS of the plain shape (see the module comment), or `undefined`.
 * Nothing here is verified yet.
 */
export function parsePlainJws(token: string): PlainJws | undefined {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) return undefined;
  const signatureText = token.slice(second + 1);
  if (signatureText.length % 4 === 1 || !BASE64URL.test(signatureText)) return undefined;
  try {
    const header = plainHeader(token.slice(0, first));
    if (header === undefined) return undefined;
    const payload = decodeSegment(token.slice(first + 1, second));
    if (payload === undefined) return undefined;
    return {
      header,
      payload,
      signingInput: Buffer.from(token.slice(0, second), 'latin1'),
      signature: Buffer.from(signatureText, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/** jose's `typ` comparison: case-insensitive, `application/` implied. */
const normaliseTyp = (value: string): string => {
  const lower = value.toLowerCase();
  return value.includes('/') ? lower : `application/${lower}`;
};
const AT_JWT = normaliseTyp('at+jwt');

/** The claim checks of `verifyAccessToken()` (jose's `validateClaimsSet` with our options, and our `iat` check). */
function claimsPass(jws: PlainJws, plan: Plan, nowMs: number): boolean {
  const { payload, header } = jws;
  if (plan.strict && (typeof header.typ !== 'string' || normaliseTyp(header.typ) !== AT_JWT)) return false;
  for (const claim of plan.required) if (!Object.hasOwn(payload, claim)) return false;
  if (payload.iss !== plan.issuer) return false;
  const aud = payload.aud;
  if (typeof aud === 'string' ? !plan.audience.includes(aud) : !Array.isArray(aud) || !plan.audience.some((a) => aud.includes(a)))
    return false;
  // jose: Math.floor(new Date(nowMs).getTime() / 1000); the Date truncates fractional ms.
  const now = Math.floor(Math.trunc(nowMs) / 1000);
  const { tolerance } = plan;
  const { iat, nbf, exp } = payload;
  if (iat !== undefined && typeof iat !== 'number') return false;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) return false;
  if (typeof exp !== 'number' || exp <= now - tolerance) return false;
  if (plan.maxTokenAge !== undefined) {
    if (typeof iat !== 'number') return false;
    const age = now - iat;
    if (age - tolerance > plan.maxTokenAge || age < -tolerance) return false;
  }
  // verifyAccessToken()'s own check: no token from the future, with or without maxTokenAge.
  if (typeof iat === 'number' && iat > nowMs / 1000 + tolerance) return false;
  return true;
}

function signatureValid(jws: PlainJws, spec: AlgSpec, key: PreparedKey): boolean {
  if (jws.signature.length !== key.signatureBytes) return false;
  try {
    return verifySignature(spec.digest, jws.signingInput, key.verifyInput, jws.signature);
  } catch {
    return false;
  }
}

/** Every check but the signature; the result to give when the signature is good. */
function precheck(
  token: string,
  jws: PlainJws,
  config: JwtVerifyConfig,
  keyFor: SyncKeyLookup,
  nowMs: number,
  Result: ResultConstructor,
): { spec: AlgSpec; key: PreparedKey; auth: BearerAuth } | undefined {
  const plan = planFor(config);
  // Outside the range of a Date, jose refuses the clock itself.
  if (plan === undefined || !(Math.abs(nowMs) <= 8.64e15)) return undefined;
  const { alg, kid } = jws.header;
  const spec = SPECS[alg];
  if (spec === undefined || !plan.algorithms.has(alg)) return undefined;
  if (!claimsPass(jws, plan, nowMs)) return undefined;
  const key = prepareKey(keyFor(alg, kid), alg, spec);
  if (key === undefined || jws.signature.length !== key.signatureBytes) return undefined;
  const payload = jws.payload as BearerPayload;
  // The header is what jose would return as `protectedHeader` (whose `typ` is not checked unless strict).
  // Made by `Result` (see `VerifiedTokenCache.Result`): members as in jose's path's literal.
  const auth = new Result(payload, jws.header as JWSHeaderParameters, token, scopesOf(payload), config.issuer, 'jwt');
  return { spec, key, auth };
}

/**
 * Accepts `jws` (from `parsePlainJws(token)`) synchronously when every check of
 * `verifyAccessToken(token, config)` passes, or answers `undefined`: then run
 * `verifyAccessToken()`, which gives the verdict and the error.
 */
export function acceptPlainJws(
  token: string,
  jws: PlainJws,
  config: JwtVerifyConfig,
  keyFor: SyncKeyLookup,
  nowMs: number,
  Result: ResultConstructor = PlainResult,
): BearerAuth | undefined {
  const pending = precheck(token, jws, config, keyFor, nowMs, Result);
  return pending !== undefined && signatureValid(jws, pending.spec, pending.key) ? pending.auth : undefined;
}

/**
 * `acceptPlainJws()` with the signature checked on libuv's threadpool (node:crypto's `verify()`
 * with a callback), so the event loop goes on meanwhile. `undefined` at once when the token is not
 * eligible; else a promise of the result, `undefined` when the signature is bad.
 */
export function acceptPlainJwsLater(
  token: string,
  jws: PlainJws,
  config: JwtVerifyConfig,
  keyFor: SyncKeyLookup,
  nowMs: number,
  Result: ResultConstructor = PlainResult,
): Promise<BearerAuth | undefined> | undefined {
  const pending = precheck(token, jws, config, keyFor, nowMs, Result);
  if (pending === undefined) return undefined;
  return new Promise((resolve) => {
    try {
      verifySignature(pending.spec.digest, jws.signingInput, pending.key.verifyInput, jws.signature, (err, valid) => {
        resolve(err === null && valid ? pending.auth : undefined);
      });
    } catch {
      resolve(undefined);
    }
  });
}
