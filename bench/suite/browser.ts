/**
 * A browser, as far as a sign-in needs one: fetch() with `redirect: 'manual'` and a cookie jar
 * kept by hand (every host here is 127.0.0.1, and only the app sets cookies).
 */

/** Cookies by name, as the last Set-Cookie left them. */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Takes the Set-Cookie headers of a response (Max-Age=0 or a past Expires deletes). */
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      if (eq <= 0) continue;
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const gone = attrs.some((a) => {
        const [k, v] = a.trim().split('=');
        const key = k!.toLowerCase();
        return (key === 'max-age' && Number(v) <= 0) || (key === 'expires' && Date.parse(v ?? '') < Date.now());
      });
      if (gone || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** The Cookie request header. */
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** One GET with the jar's cookies; reads the body and keeps its cookies. */
export async function get(url: string, jar: CookieJar): Promise<{ status: number; location: string | null; body: string }> {
  const cookie = jar.header();
  const res = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie, accept: 'text/html' } : { accept: 'text/html' } });
  jar.take(res);
  const body = await res.text();
  return { status: res.status, location: res.headers.get('location'), body };
}

export interface SignedIn {
  /** The Cookie header that carries the session. */
  cookie: string;
  sub: string;
}

/**
 * A full sign-in, as a browser does it: GET /login (302 to the issuer) -> GET authorize (302 back
 * with code, state, iss) -> GET /callback (302) -> GET /page (200 with the user's sub).
 */
export async function signIn(app: string): Promise<SignedIn> {
  const jar = new CookieJar();
  const login = await get(`${app}/login`, jar);
  if (login.status !== 302 || !login.location) throw new Error(`GET /login answered ${login.status}`);
  const authorize = await get(login.location, jar);
  if (authorize.status !== 302 || !authorize.location) throw new Error(`GET authorize answered ${authorize.status}: ${authorize.body.slice(0, 200)}`);
  const callback = await get(new URL(authorize.location, login.location).href, jar);
  if (callback.status !== 302) throw new Error(`GET /callback answered ${callback.status}: ${callback.body.slice(0, 200)}`);
  const page = await get(`${app}/page`, jar);
  if (page.status !== 200) throw new Error(`GET /page after sign-in answered ${page.status}`);
  const sub = (JSON.parse(page.body) as { sub?: unknown }).sub;
  if (typeof sub !== 'string') throw new Error('GET /page after sign-in named no user');
  return { cookie: jar.header(), sub };
}

/**
 * Runs `task` from `concurrency` loops at once until `durationMs` passed (or `total` tasks were
 * started); answers how many finished and how long that took.
 */
export async function closedLoop(
  task: (i: number) => Promise<void>,
  options: { concurrency: number; durationMs?: number; total?: number },
): Promise<{ done: number; seconds: number }> {
  const start = performance.now();
  const end = options.durationMs === undefined ? Infinity : start + options.durationMs;
  const total = options.total ?? Infinity;
  let started = 0;
  let done = 0;
  const worker = async () => {
    while (performance.now() < end && started < total) {
      const i = started++;
      await task(i);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return { done, seconds: (performance.now() - start) / 1000 };
}
