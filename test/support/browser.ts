/**
 * A tiny cookie-keeping HTTP client for driving the app and the issuer like a browser would
 * (no redirects followed automatically: tests look at each hop). Shared by the tests and bench/.
 */
export interface Hop {
  status: number;
  headers: Headers;
  text: string;
  /** The Location header resolved against the request URL. */
  location: string | undefined;
  url: string;
}

interface StoredCookie {
  value: string;
  sameSite: string;
}

export class Browser {
  /** host:port -> cookie name -> value */
  readonly jar = new Map<string, Map<string, StoredCookie>>();

  cookies(url: string): Map<string, StoredCookie> {
    const host = new URL(url).host;
    let map = this.jar.get(host);
    if (!map) {
      map = new Map();
      this.jar.set(host, map);
    }
    return map;
  }

  cookieHeader(url: string, crossSitePost = false): string {
    return [...this.cookies(url)]
      .filter(([, c]) => !crossSitePost || c.sameSite === 'none')
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  /** Copies cookies (for "another browser that stole the cookie" tests). */
  clone(): Browser {
    const other = new Browser();
    for (const [host, map] of this.jar) other.jar.set(host, new Map(map));
    return other;
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
    for (const line of res.headers.getSetCookie()) this.store(url, line);
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

  private store(url: string, line: string): void {
    const [pair, ...attrs] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    const lower = attrs.map((a) => a.trim().toLowerCase());
    const expired =
      lower.some((a) => a === 'max-age=0') ||
      lower.some((a) => a.startsWith('expires=') && Date.parse(a.slice(8)) < Date.now());
    const map = this.cookies(url);
    if (expired || value === '') map.delete(name);
    else map.set(name, { value, sameSite: lower.find((a) => a.startsWith('samesite='))?.slice(9) ?? 'lax' });
  }
}
