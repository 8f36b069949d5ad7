import type { Redis } from 'ioredis';
import {
  assertObject,
  isPlainObject,
  optionError,
  optionalBoolean,
  optionalNumber,
  optionalString,
  rejectUnknown,
} from '../../config/assert.js';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import type { AuthOptions, LoginConfig, SessionCookieOptions, SessionOptions } from '../options.js';

const SESSION_KEYS = new Set([
  'redis',
  'store',
  'allowMemoryStore',
  'cookieName',
  'name',
  'cookie',
  'rolling',
  'rollingDuration',
  'touchAfter',
  'absoluteDuration',
  'prefix',
  'localCache',
]);
/** express-openid-connect's session options this package deliberately does not have. */
const SESSION_INSTEAD = new Map([
  [
    'genid',
    'session ids are express-session\'s own 24 random bytes; with "useExistingSession: true" you configure express-session yourself.',
  ],
  ['signSessionStoreCookie', 'the session cookie is always signed with "secret".'],
  ['requireSignedSessionStoreCookie', 'unsigned session cookies are never accepted.'],
]);
const COOKIE_KEYS = new Set(['domain', 'transient', 'sameSite']);
const COOKIE_INSTEAD = new Map([
  ['path', 'the cookie path is always "/"; give two apps on one host their own "session.cookieName" and "session.prefix".'],
  ['httpOnly', 'the session cookie is always HttpOnly.'],
  ['secure', 'the cookie is Secure exactly when "baseURL" is https.'],
]);

export function seconds(path: string, value: unknown, fallback: number, min: number, max: number): number {
  return optionalNumber(path, value, min, max, 'seconds') ?? fallback;
}

/** `session.localCache`: off (`false`), or on with its bounds. */
function localCacheConfig(value: unknown): false | { maxEntries: number; maxAgeSeconds: number } {
  const defaults = { maxEntries: LOGIN_DEFAULTS.localCacheMaxEntries, maxAgeSeconds: LOGIN_DEFAULTS.localCacheMaxAgeSeconds };
  if (value === undefined || value === true) return defaults;
  if (value === false) return false;
  if (!isPlainObject(value)) throw optionError('session.localCache', 'true, false or { maxEntries, maxAgeSeconds }');
  rejectUnknown('session.localCache.', value, new Set(['maxEntries', 'maxAgeSeconds']));
  const maxEntries = optionalNumber('session.localCache.maxEntries', value.maxEntries, 1, 10_000_000, 'records');
  if (maxEntries !== undefined && !Number.isInteger(maxEntries))
    throw optionError('session.localCache.maxEntries', 'a whole number of records');
  return {
    maxEntries: maxEntries ?? defaults.maxEntries,
    maxAgeSeconds: seconds('session.localCache.maxAgeSeconds', value.maxAgeSeconds, defaults.maxAgeSeconds, 1, 3600),
  };
}

/**
 * `session.cookie` (express-openid-connect's names): `domain` (a cookie shared with subdomains,
 * then named without `__Host-`), `transient` (no expiry: it ends with the browser session) and
 * `sameSite` (`Lax` by default; `None` needs https).
 */
function cookieConfig(value: unknown, https: boolean): LoginConfig['session']['cookie'] {
  if (value === undefined) return { domain: undefined, transient: false, sameSite: 'lax' };
  assertObject('session.cookie', value);
  rejectUnknown('session.cookie.', value, COOKIE_KEYS, COOKIE_INSTEAD);
  const input = value as SessionCookieOptions;
  const domain = optionalString('session.cookie.domain', input.domain);
  if (domain !== undefined && !/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(domain))
    throw optionError('session.cookie.domain', 'a host name such as "example.com"');
  const sameSite = optionalString('session.cookie.sameSite', input.sameSite)?.toLowerCase() ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none')
    throw optionError('session.cookie.sameSite', '"Lax", "Strict" or "None"');
  if (sameSite === 'none' && !https)
    throw optionError('session.cookie.sameSite', '"Lax" or "Strict"', '"None" needs a Secure cookie, so an https baseURL');
  return { domain, transient: optionalBoolean('session.cookie.transient', input.transient) ?? false, sameSite };
}

/** The session store of `session` (or `useExistingSession`): one of them is required. */
function storeConfig(
  input: SessionOptions,
  useExistingSession: boolean,
): Pick<LoginConfig['session'], 'redis' | 'store' | 'allowMemoryStore'> {
  const { redis, store } = input;
  if (
    redis !== undefined &&
    typeof redis !== 'string' &&
    (typeof redis !== 'object' || redis === null || typeof (redis as Redis).get !== 'function')
  ) {
    throw optionError('session.redis', 'a Redis URL such as "redis://127.0.0.1:6379" or an ioredis client');
  }
  if (
    store !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      typeof store.get !== 'function' ||
      typeof store.set !== 'function' ||
      typeof store.destroy !== 'function')
  ) {
    throw optionError('session.store', 'an express-session Store');
  }
  const allowMemoryStore = optionalBoolean('session.allowMemoryStore', input.allowMemoryStore) ?? false;
  if (!useExistingSession && redis === undefined && store === undefined && !allowMemoryStore) {
    throw optionError(
      'session.redis',
      'set',
      'Give a Redis URL or ioredis client, or "session.store", or "useExistingSession: true"; for development only, "session.allowMemoryStore: true"',
    );
  }
  return { redis, store, allowMemoryStore };
}

/** The session cookie's name: `session.cookieName` (or express-openid-connect's `session.name`). */
function cookieNameConfig(input: SessionOptions, https: boolean, domain: string | undefined): string {
  if (input.cookieName !== undefined && input.name !== undefined)
    throw optionError('session.name', 'left unset', 'It is another name for "session.cookieName"; give one of them');
  const path = input.name !== undefined ? 'session.name' : 'session.cookieName';
  // `__Host-` forbids a Domain attribute (RFC 6265bis §4.1.3.2): a shared cookie is `__Secure-`.
  const prefix = https ? (domain === undefined ? '__Host-' : '__Secure-') : '';
  const name = optionalString(path, input.name ?? input.cookieName) ?? `${prefix}${LOGIN_DEFAULTS.cookieName}`;
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) throw optionError(path, 'a cookie name (RFC 6265 token characters)');
  if (name.startsWith('__Host-') && !https) throw optionError(path, 'a name without "__Host-"', 'That prefix needs an https baseURL');
  if (name.startsWith('__Host-') && domain !== undefined)
    throw optionError(path, 'a name without "__Host-"', 'That prefix forbids "session.cookie.domain"');
  return name;
}

/** `session` and `useExistingSession`: where sessions live, their lifetimes and their cookie. */
export function sessionConfig(options: AuthOptions, https: boolean): { session: LoginConfig['session']; useExistingSession: boolean } {
  const raw: unknown = options.session ?? {};
  assertObject('session', raw);
  rejectUnknown('session.', raw, SESSION_KEYS, SESSION_INSTEAD);
  const input = raw as SessionOptions;
  const useExistingSession = optionalBoolean('useExistingSession', options.useExistingSession) ?? false;
  const stores = storeConfig(input, useExistingSession);
  const rollingDuration = seconds(
    'session.rollingDuration',
    input.rollingDuration,
    LOGIN_DEFAULTS.rollingDurationSeconds,
    60,
    365 * 86_400,
  );
  const touchAfter = seconds(
    'session.touchAfter',
    input.touchAfter,
    Math.min(LOGIN_DEFAULTS.touchAfterSeconds, rollingDuration / 10),
    0,
    3600,
  );
  if (touchAfter >= rollingDuration)
    throw optionError('session.touchAfter', `fewer seconds than session.rollingDuration (${rollingDuration})`);
  const absoluteDuration = seconds(
    'session.absoluteDuration',
    input.absoluteDuration,
    LOGIN_DEFAULTS.absoluteDurationSeconds,
    60,
    10 * 365 * 86_400,
  );
  const cookie = cookieConfig(input.cookie, https);
  return {
    useExistingSession,
    session: {
      ...stores,
      cookieName: cookieNameConfig(input, https, cookie.domain),
      cookie,
      rolling: optionalBoolean('session.rolling', input.rolling) ?? LOGIN_DEFAULTS.rolling,
      rollingDuration,
      touchAfter,
      absoluteDuration,
      prefix: input.prefix === '' ? '' : (optionalString('session.prefix', input.prefix) ?? LOGIN_DEFAULTS.redisPrefix),
      localCache: localCacheConfig(input.localCache),
    },
  };
}
