/**
 * Option checks used by the factories (`auth()`, `requireBearer()`) at start-up. Each throws a
 * TypeError that names the option by its dotted path and says what is expected, so a wrong
 * configuration fails at boot with a message that tells how to fix it.
 */

export function optionError(path: string, expected: string, hint?: string): TypeError {
  return new TypeError(`Option "${path}" must be ${expected}${hint ? `. ${hint}` : '.'}`);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function assertObject(path: string, value: unknown): asserts value is Record<string, unknown> {
  if (!isPlainObject(value)) throw optionError(path, 'an object');
}

export function optionalString(path: string, value: unknown, minLength = 1): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length < minLength) {
    throw optionError(path, minLength > 1 ? `a string of at least ${minLength} characters` : 'a non-empty string');
  }
  return value;
}

export function requiredString(path: string, value: unknown, hint?: string, minLength = 1): string {
  if (value === undefined || value === '') {
    throw optionError(path, 'set', hint);
  }
  return optionalString(path, value, minLength) as string;
}

export function optionalBoolean(path: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw optionError(path, 'true or false');
  return value;
}

/** A finite number within [min, max]; `unit` goes into the message ("seconds"). */
export function optionalNumber(path: string, value: unknown, min: number, max: number, unit: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw optionError(path, `a number of ${unit} from ${min} to ${max}`);
  }
  return value;
}

export function optionalFunction<T extends (...args: never[]) => unknown>(path: string, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw optionError(path, 'a function');
  return value as T;
}

export function optionalStringList(path: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v.length > 0)) {
    throw optionError(path, 'a non-empty string or a non-empty array of non-empty strings');
  }
  return [...list] as string[];
}

/**
 * An absolute http(s) URL. Plain `http:` is accepted only for loopback hosts, or when the caller
 * opted in by name (`allowInsecure`), since tokens would travel in the clear.
 */
export function requiredUrl(path: string, value: unknown, allowInsecure: boolean, hint?: string): URL {
  const text = requiredString(path, value, hint);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw optionError(path, 'an absolute URL such as "https://issuer.example.com"', hint);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw optionError(path, 'an https: URL');
  }
  if (url.protocol === 'http:' && !allowInsecure && !isLoopbackHost(url.hostname)) {
    throw optionError(path, 'an https: URL', 'Plain http is accepted only for localhost, or with "allowInsecureHttp: true"');
  }
  if (url.hash || url.username || url.password) {
    throw optionError(path, 'a URL without a fragment or credentials');
  }
  return url;
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127(\.\d{1,3}){3}$/.test(hostname);
}
