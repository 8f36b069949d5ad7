import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { optionError } from '../config/assert.js';

/**
 * Encryption at rest for what this package keeps in the session store (the signed-in record and
 * the pending sign-ins).
 *
 * Not an RFC format: AES-256-GCM (NIST SP 800-38D) with a key per secret derived by HKDF-SHA256
 * (RFC 5869). A sealed value reads `v1.<kid>.<iv>.<ciphertext>.<tag>`, every part base64url
 * (RFC 4648 §5). `kid` is a short public fingerprint of the key (not of the secret), so a value
 * sealed under an old secret is opened with that secret while new values use the first one:
 * rotate by putting the new secret first and keeping the old one until its sessions expired.
 *
 * What this does NOT do: it does not hide the length of the value, and it does not stop a value
 * from being copied to another place unless the caller binds it there with `aad` (for example the
 * session id).
 */
export interface Sealer {
  /**
   * Encrypts `value` (anything `JSON.stringify` accepts) under the first secret.
   * @param aad additional authenticated data (e.g. the session id): the same string must be given
   *   to `unseal`. Omitting it is the same as `''`.
   * @throws TypeError when `value` has no JSON form (`undefined`, a function).
   */
  seal(value: unknown, aad?: string): string;
  /**
   * Decrypts a value from `seal`. Returns `undefined` (never throws) for a wrong or unknown key,
   * a different `aad`, or a truncated, altered or malformed input.
   */
  unseal<T = unknown>(sealed: string, aad?: string): T | undefined;
  /** The key ids of the secrets, in order (the first one seals). Public, for logs and tests. */
  readonly keyIds: readonly string[];
  /**
   * True when `unseal(sealed, aad)` would give a value. Values that opened are remembered (the
   * last 2000, by their exact text: ciphertext, never plaintext), so asking again for the same
   * value costs a map lookup instead of a decryption — a page view asks on every request.
   */
  opens(sealed: unknown, aad?: string): boolean;
  /**
   * `unseal`, remembering the values that opened as `opens` does: asking again for the same value
   * costs a map lookup and a `JSON.parse` of its plaintext (a fresh copy each time, so callers may
   * change what they get) instead of a decryption. A page view opens its session record this way.
   */
  unsealRemembered<T = unknown>(sealed: unknown, aad?: string): T | undefined;
  /**
   * `unsealRemembered` without the copy: the remembered value itself, deeply frozen and shared by
   * every caller that opens the same sealed value (no `JSON.parse` per call). For readers only.
   */
  unsealShared<T = unknown>(sealed: unknown, aad?: string): T | undefined;
}

/** Freezes `value` and everything reachable from it (a JSON value: no cycles). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/** Shortest secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 32;
/** The HKDF `info` context when none is given. */
export const DEFAULT_SEAL_CONTEXT = 'oidc-guard tokens v1';

const VERSION = 'v1';
const KEY_SALT = Buffer.from('express-oidc-guard/seal/aes-256-gcm-key', 'utf8');
const KID_SALT = Buffer.from('express-oidc-guard/seal/key-id', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_CHARS = 8;
/** How many sealed values `opens()` remembers (about 2-3 KB of ciphertext each). */
const OPENED_MEMORY = 2000;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

interface SealKey {
  kid: string;
  key: Buffer;
}

function deriveKey(secret: string, context: string): SealKey {
  const ikm = Buffer.from(secret, 'utf8');
  const key = Buffer.from(hkdfSync('sha256', ikm, KEY_SALT, `${context}\0encryption`, 32));
  const kidMaterial = Buffer.from(hkdfSync('sha256', ikm, KID_SALT, `${context}\0key id`, 32));
  const kid = createHash('sha256').update(kidMaterial).digest('base64url').slice(0, KID_CHARS);
  return { kid, key };
}

function checkSecrets(secrets: unknown): string[] {
  const hint = `Use at least ${MIN_SECRET_LENGTH} random characters, e.g. the output of "openssl rand -base64 48"; list older secrets after the current one to rotate.`;
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (!Array.isArray(list) || list.length === 0) {
    throw optionError('secret', `a string of at least ${MIN_SECRET_LENGTH} characters or a non-empty array of them`, hint);
  }
  list.forEach((s: unknown, i) => {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      const path = typeof secrets === 'string' ? 'secret' : `secret[${i}]`;
      throw optionError(path, `a string of at least ${MIN_SECRET_LENGTH} characters`, hint);
    }
  });
  return list as string[];
}

/** What GCM authenticates besides the ciphertext: the header, and the caller's `aad`. */
function additionalData(kid: string, aad: string | undefined): Buffer {
  return Buffer.from(`${VERSION}.${kid}\0${aad ?? ''}`, 'utf8');
}

/**
 * `opens`, `unsealRemembered` and `unsealShared` over `unseal`: sealed values that opened are
 * kept with the aad they opened under, their plaintext JSON and their value deeply frozen (oldest
 * forgotten first), keyed by their GCM tag: a short key hashes faster than the whole value, and a
 * hit still needs the whole value to be equal.
 */
function rememberOpened(unseal: (sealed: string, aad?: string) => unknown): Pick<Sealer, 'opens' | 'unsealRemembered' | 'unsealShared'> {
  const opened = new Map<string, { sealed: string; aad: string; json: string; value: unknown }>();
  /** What `sealed` opens to under `aad`, from memory or decrypted (then remembered). */
  function openedEntry(sealed: unknown, aad: string | undefined): { json: string; value: unknown } | undefined {
    if (typeof sealed !== 'string') return undefined;
    const context = aad ?? '';
    const tag = sealed.slice(sealed.lastIndexOf('.') + 1);
    const known = opened.get(tag);
    if (known !== undefined && known.sealed === sealed && known.aad === context) return known;
    const value = unseal(sealed, context);
    if (value === undefined) return undefined;
    const entry = { sealed, aad: context, json: JSON.stringify(value), value: deepFreeze(value) };
    opened.set(tag, entry);
    if (opened.size > OPENED_MEMORY) opened.delete(opened.keys().next().value!);
    return entry;
  }
  return {
    opens: (sealed, aad) => openedEntry(sealed, aad) !== undefined,
    unsealRemembered<T>(sealed: unknown, aad?: string): T | undefined {
      const entry = openedEntry(sealed, aad);
      return entry === undefined ? undefined : (JSON.parse(entry.json) as T);
    },
    unsealShared<T>(sealed: unknown, aad?: string): T | undefined {
      return openedEntry(sealed, aad)?.value as T | undefined;
    },
  };
}

/**
 * Creates a sealer for one purpose.
 *
 * @param secrets the current secret, or a list: the first seals, all may unseal. Each at least 32
 *   characters; checked here, once (TypeError naming option `secret`).
 * @param context separates purposes: values sealed with one context never open with another.
 *   Default `'oidc-guard tokens v1'`.
 *
 * @example
 * const sealer = createSealer([process.env.SESSION_SECRET!, oldSecret]);
 * const sealed = sealer.seal({ refresh_token }, sessionId);
 * const tokens = sealer.unseal<{ refresh_token: string }>(sealed, sessionId); // undefined if altered
 */
export function createSealer(secrets: string | readonly string[], context: string = DEFAULT_SEAL_CONTEXT): Sealer {
  const list = checkSecrets(secrets);
  if (typeof context !== 'string' || context.length === 0) {
    throw optionError('context', 'a non-empty string');
  }
  const keys = list.map((s) => deriveKey(s, context));
  const current = keys[0]!;
  const keyIds = Object.freeze(keys.map((k) => k.kid));

  function seal(value: unknown, aad?: string): string {
    const json = JSON.stringify(value) as string | undefined;
    if (json === undefined) throw new TypeError('seal() needs a value that has a JSON form');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(current.kid, aad));
    const ciphertext = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, current.kid, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
  }

  function open(key: Buffer, kid: string, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: string | undefined): string | undefined {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(additionalData(kid, aad));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  function unseal<T = unknown>(sealed: string, aad?: string): T | undefined {
    if (typeof sealed !== 'string') return undefined;
    const parts = sealed.split('.');
    if (parts.length !== 5) return undefined;
    const [version, kid, ivText, ctText, tagText] = parts as [string, string, string, string, string];
    if (version !== VERSION || !parts.every((p) => BASE64URL.test(p))) return undefined;
    const iv = Buffer.from(ivText, 'base64url');
    const ciphertext = Buffer.from(ctText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    // Re-encoding must give back the same text: rejects non-canonical base64url.
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) return undefined;
    if (iv.toString('base64url') !== ivText || ciphertext.toString('base64url') !== ctText || tag.toString('base64url') !== tagText) {
      return undefined;
    }
    for (const candidate of keys) {
      // Two secrets may share a kid (8 chars); try each that matches.
      if (candidate.kid !== kid) continue;
      const json = open(candidate.key, kid, iv, ciphertext, tag, aad);
      if (json === undefined) continue;
      try {
        return JSON.parse(json) as T;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  return { seal, unseal, keyIds, ...rememberOpened(unseal) };
}
