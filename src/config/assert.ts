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

/** Edit distance of two option names (Damerau–Levenshtein, adjacent swaps count one), case-blind. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The known name closest to a mistyped one, when it is close enough to be what was meant. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const other = candidate.toLowerCase();
    // A name cut short or run on (`maxEntry` for `maxEntries`) counts as one edit.
    const truncated = Math.min(lower.length, other.length) >= 4 && (other.startsWith(lower) || lower.startsWith(other));
    const score = truncated ? 1 : distance(name, candidate);
    if (score < bestDistance) {
      best = candidate;
      bestDistance = score;
    }
  }
  // Up to a third of the name may differ (at least one edit, at most three).
  return best !== undefined && bestDistance <= Math.min(3, Math.max(1, Math.floor(name.length / 3))) ? best : undefined;
}

/**
 * Refuses the keys of an options object that are not options: a typo must not silently fall back
 * to a default (`authRequierd: false` would leave the app behind a login). The message names the
 * dotted path and the closest known option; `instead` gives the answer for names this package
 * deliberately does not have (another package's options).
 *
 * @param prefix the dotted path of `value` with a trailing dot (`'session.'`), or `''` at the top.
 * @throws TypeError `Option "session.reddis" is not a known option. Did you mean "session.redis"?`
 */
export function rejectUnknown(
  prefix: string,
  value: Record<string, unknown>,
  known: ReadonlySet<string>,
  instead?: ReadonlyMap<string, string>,
): void {
  for (const key of Object.keys(value)) {
    if (known.has(key)) continue;
    const path = `${prefix}${key}`;
    const replacement = instead?.get(key);
    if (replacement !== undefined) throw new TypeError(`Option "${path}" is not supported: ${replacement}`);
    const near = closestName(key, known);
    throw new TypeError(`Option "${path}" is not a known option.${near !== undefined ? ` Did you mean "${prefix}${near}"?` : ''}`);
  }
}
