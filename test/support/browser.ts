/**
 * A tiny cookie-keeping HTTP client for driving the app and the issuer like a browser would
 * (no redirects followed automatically: tests look at each hop). Shared by the tests and bench/;
 * its cookies live in the one {@link CookieJar} (test/support/cookie-jar.ts).
 */
import { CookieJar, type StoredCookie } from './cookie-jar.js';

export type { StoredCookie };
export interface Hop {
  status: number;
  headers: Headers;
  text: string;
  /** The Location header resolved against the request URL. */
  location: string | undefined;
  url: string;
}

/**
 * The cookies of one site as a map, name -> cookie (whatever the path: the first one stored wins
 * `get`). A live view over the {@link CookieJar}: `set` and `delete` change the jar.
 */
export class SiteCookies implements Iterable<[string, StoredCookie]> {
  constructor(
    private readonly jar: CookieJar,
    private readonly url: string,
  ) {}

  private list(): StoredCookie[] {
    const seen = new Set<string>();
    return this.jar.siteCookies(this.url).filter((c) => !seen.has(c.name) && seen.add(c.name));
  }

  get size(): number {
    return this.list().length;
  }

  get(name: string): StoredCookie | undefined {
    return this.list().find((c) => c.name === name);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Stores a copy of `cookie` under `name` (e.g. one read from another port). */
  set(name: string, cookie: StoredCookie): this {
    this.jar.set(this.url, { ...cookie, name });
    return this;
  }

  delete(name: string): boolean {
    return this.jar.delete(this.url, name);
  }

  keys(): IterableIterator<string> {
    const names = this.list().map((c) => c.name);
    return names[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[string, StoredCookie]> {
    const entries = this.list().map((c): [string, StoredCookie] => [c.name, c]);
    return entries[Symbol.iterator]();
  }
}

/** A browser per test: the one {@link CookieJar}, keyed by host and port (see cookie-jar.ts). */
export class Browser {
  readonly jar: CookieJar;

  constructor(jar = new CookieJar({ perPort: true })) {
    this.jar = jar;
  }

  /** The cookies of `url`'s site (host and port). */
  cookies(url: string): SiteCookies {
    return new SiteCookies(this.jar, url);
  }

  /** The Cookie header sent to `url` ('' when none); `crossSitePost` keeps only `SameSite=None` cookies. */
  cookieHeader(url: string, crossSitePost = false): string {
    return this.jar.header(url, { crossSitePost }) ?? '';
  }

  /** From now on `other` (another port) gets the cookies of `url`'s site, as one site would. */
  shareCookies(url: string, other: string): void {
    this.jar.shareCookies(url, other);
  }

  /** Copies cookies (for "another browser that stole the cookie" tests). */
  clone(): Browser {
    return new Browser(this.jar.clone());
  }

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string>; crossSitePost?: boolean } = {},
  ): Promise<Hop> {
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    const cookie = this.cookieHeader(url, init.crossSitePost);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.jar.store(url, res.headers.getSetCookie());
    const text = await res.text();
    const location = res.headers.get('location');
    return { status: res.status, headers: res.headers, text, location: location ? new URL(location, url).href : undefined, url };
  }

  get(url: string, headers?: Record<string, string>): Promise<Hop> {
    return this.request(url, headers ? { headers } : {});
  }

  post(url: string, form: Record<string, string>, extra: { headers?: Record<string, string>; crossSitePost?: boolean } = {}): Promise<Hop> {
    return this.request(url, { method: 'POST', form, ...extra });
  }
}
