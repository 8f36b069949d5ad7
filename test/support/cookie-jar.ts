/**
 * The one cookie jar of the tests and bench/ (RFC 6265, the parts the tests need): host-only
 * cookies matched by host and path (§5.1.4), `Max-Age` before `Expires` (§5.3), deletion by a
 * past date or `Max-Age<=0`, `Secure` kept and sent only over https or to a loopback host
 * (browsers count http://localhost as secure), most specific path first in the `Cookie` header.
 *
 * Two deliberate departures, both old behaviour tests rely on:
 * - an empty value deletes the cookie (express-session and oidc-provider clear cookies that way);
 * - `perPort: true` keys cookies by host *and port* (RFC 6265 ignores the port). The tests start
 *   several apps on 127.0.0.1 that stand for different sites; {@link CookieJar.shareCookies} joins
 *   two of them when a test wants one site on two ports.
 */

export interface StoredCookie {
  name: string;
  value: string;
  /** The cookie's path (the request's directory when `Path` was absent or invalid). */
  path: string;
  /** `SameSite`, lower case; `lax` when absent. */
  sameSite: string;
  secure: boolean;
  /** Epoch milliseconds; undefined for a session cookie. */
  expires?: number;
}

export interface CookieJarOptions {
  /** Key cookies by host and port instead of host name only (see the module comment). */
  perPort?: boolean;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a request to `url` may carry (and set) `Secure` cookies. */
function secureContext(url: URL): boolean {
  return url.protocol === 'https:' || LOOPBACK.has(url.hostname) || url.hostname.endsWith('.localhost');
}

/** RFC 6265 §5.1.4 default-path: the request path up to, not including, its last `/`. */
function defaultPath(pathname: string): string {
  if (!pathname.startsWith('/')) return '/';
  const last = pathname.lastIndexOf('/');
  return last <= 0 ? '/' : pathname.slice(0, last);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath.charAt(cookiePath.length) === '/';
}

/** Parses one `Set-Cookie` line received from `url`; undefined when it is to be ignored. */
function parse(url: URL, line: string, now: number): { cookie: StoredCookie; expired: boolean } | undefined {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return undefined;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  if (name === '') return undefined;
  let path: string | undefined;
  let maxAge: number | undefined;
  let expires: number | undefined;
  let sameSite = 'lax';
  let secure = false;
  for (const attribute of attributes) {
    const at = attribute.indexOf('=');
    const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const val = at < 0 ? '' : attribute.slice(at + 1).trim();
    if (key === 'path') path = val.startsWith('/') ? val : undefined;
    else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
    else if (key === 'expires' && !Number.isNaN(Date.parse(val))) expires = Date.parse(val);
    else if (key === 'samesite' && val !== '') sameSite = val.toLowerCase();
    else if (key === 'secure') secure = true;
  }
  if (secure && !secureContext(url)) return undefined;
  const expiry = maxAge !== undefined ? now + maxAge * 1000 : expires;
  const cookie: StoredCookie = { name, value, path: path ?? defaultPath(url.pathname), sameSite, secure };
  if (expiry !== undefined) cookie.expires = expiry;
  const expired = value === '' || (maxAge !== undefined ? maxAge <= 0 : expiry !== undefined && expiry <= now);
  return { cookie, expired };
}

export class CookieJar {
  /** site (host name, or host:port when per port) -> `name;path` -> cookie, in creation order. */
  private readonly sites = new Map<string, Map<string, StoredCookie>>();
  /** site -> the site whose cookies it shares. */
  private readonly aliases = new Map<string, string>();
  private readonly perPort: boolean;

  constructor(options: CookieJarOptions = {}) {
    this.perPort = options.perPort ?? false;
  }

  private site(url: string | URL): string {
    const u = typeof url === 'string' ? new URL(url) : url;
    const key = this.perPort ? u.host : u.hostname;
    return this.aliases.get(key) ?? key;
  }

  private cookiesOf(url: string | URL, create: boolean): Map<string, StoredCookie> | undefined {
    const site = this.site(url);
    let map = this.sites.get(site);
    if (!map && create) {
      map = new Map();
      this.sites.set(site, map);
    }
    return map;
  }

  /** Stores the `Set-Cookie` lines of a response to `url`. */
  store(url: string, setCookies: readonly string[], now = Date.now()): void {
    const u = new URL(url);
    for (const line of setCookies) {
      const parsed = parse(u, line, now);
      if (!parsed) continue;
      const { cookie, expired } = parsed;
      const map = this.cookiesOf(u, true)!;
      const key = `${cookie.name};${cookie.path}`;
      if (expired) map.delete(key);
      else map.set(key, cookie); // an existing key keeps its place: RFC 6265 keeps the creation time
    }
  }

  /** Every live cookie of `url`'s site, whatever its path, in creation order. */
  siteCookies(url: string, now = Date.now()): StoredCookie[] {
    const map = this.cookiesOf(url, false);
    if (!map) return [];
    for (const [key, c] of map) if (c.expires !== undefined && c.expires <= now) map.delete(key);
    return [...map.values()];
  }

  /** The live cookies sent with a request to `url`, most specific path first (RFC 6265 §5.4). */
  matching(url: string, now = Date.now()): StoredCookie[] {
    const u = new URL(url);
    const secure = secureContext(u);
    return this.siteCookies(url, now)
      .filter((c) => pathMatches(u.pathname, c.path) && (!c.secure || secure))
      .sort((a, b) => b.path.length - a.path.length); // stable: creation order within a length
  }

  /** The `Cookie` header for a request to `url` (undefined when none apply); `crossSitePost` keeps only `SameSite=None`. */
  header(url: string, options: { crossSitePost?: boolean } = {}): string | undefined {
    const cookies = this.matching(url).filter((c) => !options.crossSitePost || c.sameSite === 'none');
    return cookies.length > 0 ? cookies.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** The value of cookie `name` of `url`'s site (whatever its path; the first stored), if any. */
  get(url: string, name: string): string | undefined {
    return this.siteCookies(url).find((c) => c.name === name)?.value;
  }

  /** Puts a copy of `cookie` (e.g. one read from another site) into `url`'s site. */
  set(url: string, cookie: StoredCookie): void {
    this.cookiesOf(url, true)!.set(`${cookie.name};${cookie.path}`, { ...cookie });
  }

  /** Removes cookie `name` (every path) from `url`'s site; answers whether there was one. */
  delete(url: string, name: string): boolean {
    const map = this.cookiesOf(url, false);
    let found = false;
    for (const [key, c] of map ?? []) {
      if (c.name !== name) continue;
      map!.delete(key);
      found = true;
    }
    return found;
  }

  /** Drops every cookie of `url`'s site. */
  clear(url: string): void {
    this.sites.delete(this.site(url));
  }

  /** From now on `other`'s site sees and sets the cookies of `url`'s site (one site on two ports). */
  shareCookies(url: string, other: string): void {
    const target = this.site(url);
    const from = new URL(other);
    this.aliases.set(this.perPort ? from.host : from.hostname, target);
  }

  /** An independent copy (for "another browser that stole the cookies" tests). */
  clone(): CookieJar {
    const other = new CookieJar({ perPort: this.perPort });
    for (const [site, map] of this.sites) other.sites.set(site, new Map([...map].map(([k, c]) => [k, { ...c }])));
    for (const [from, to] of this.aliases) other.aliases.set(from, to);
    return other;
  }
}
