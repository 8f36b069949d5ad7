/**
 * Minting access tokens for tests: well-formed JWTs signed with a test key, and the malformed or
 * hostile ones a real issuer would never produce.
 */
import { CompactSign, SignJWT, base64url, type JWTPayload } from 'jose';
import { createHmac } from 'node:crypto';

/** Anything with a private key, an `alg` and a `kid` (a `TestKey`). */
export interface SigningKey {
  privateKey: Parameters<SignJWT['sign']>[0];
  alg: string;
  kid?: string;
}

export interface MintOptions {
  key: SigningKey;
  issuer: string;
  audience?: string | string[];
  subject?: string;
  /** Seconds from now until `exp`. Default 300. Ignored when `claims.exp` is given. */
  expiresIn?: number;
  /** Extra or overriding claims; a claim set to `undefined` is left out (e.g. `{ exp: undefined }`). */
  claims?: Record<string, unknown>;
  /** Extra or overriding protected header members; `kid: undefined` leaves the kid out. */
  header?: Record<string, unknown>;
  /** Extension header names to sign as understood (to mint tokens with a `crit` the verifier does not know). */
  critical?: string[];
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Signs a JWT access token (RFC 9068 shape: `typ: at+jwt`, `iss`, `aud`, `sub`, `iat`, `exp`,
 * `jti`, `client_id`), with overrides.
 */
export async function mintToken(options: MintOptions): Promise<string> {
  const now = nowSeconds();
  const base: Record<string, unknown> = {
    iss: options.issuer,
    aud: options.audience ?? 'https://api.example.test',
    sub: options.subject ?? 'user-123',
    iat: now,
    exp: now + (options.expiresIn ?? 300),
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    client_id: 'client-1',
  };
  const payload = dropUndefined({ ...base, ...options.claims });
  const header = dropUndefined({ alg: options.key.alg, typ: 'at+jwt', kid: options.key.kid, ...options.header });
  const crit = options.critical ? Object.fromEntries(options.critical.map((name) => [name, true])) : undefined;
  return new SignJWT(payload as JWTPayload)
    .setProtectedHeader(header as { alg: string })
    .sign(options.key.privateKey, crit ? { crit } : undefined);
}

/** A compact JWS over arbitrary payload bytes (e.g. a JSON array), properly signed. */
export async function signRaw(key: SigningKey, payload: string, header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader = dropUndefined({ alg: key.alg, kid: key.kid, ...header });
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
}

function dropUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/** base64url of a JSON value. */
export function encodeSegment(value: unknown): string {
  return base64url.encode(typeof value === 'string' ? value : JSON.stringify(value));
}

/** A compact JWS from raw parts, with any signature (default empty: an `alg: none` token). */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  return `${encodeSegment(header)}.${encodeSegment(payload)}.${signature}`;
}

/** An HMAC-signed token with an arbitrary secret (e.g. an RSA public key, for algorithm confusion). */
export function hmacToken(secret: string | Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const alg = String(header.alg ?? 'HS256');
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg] ?? 'sha256';
  const input = `${encodeSegment(header)}.${encodeSegment(payload)}`;
  const signature = createHmac(hash, secret).update(input).digest('base64url');
  return `${input}.${signature}`;
}

/** The decoded payload of a compact JWT (unverified). */
export function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Replaces one segment of a compact JWT (0 header, 1 payload, 2 signature), keeping the others. */
export function replaceSegment(token: string, index: 0 | 1 | 2, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}

/**
 * Changes one character of a segment to another base64url character that changes the decoded
 * bytes (never the last character of a segment, whose low bits may be ignored by decoders).
 */
export function flipChar(token: string, index: 0 | 1 | 2, position: number): string {
  const parts = token.split('.');
  const segment = parts[index] ?? '';
  const limit = Math.max(1, segment.length - 1);
  const at = ((position % limit) + limit) % limit;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const current = segment[at] ?? 'A';
  const next = alphabet[(alphabet.indexOf(current) + 17) % alphabet.length] ?? 'B';
  parts[index] = segment.slice(0, at) + next + segment.slice(at + 1);
  return parts.join('.');
}
