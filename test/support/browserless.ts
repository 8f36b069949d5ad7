/**
 * A tiny HTTP "browser" for driving the code flow without a browser: the one cookie jar
 * (./cookie-jar.ts) per host name (as browsers do: cookies ignore the port), manual redirects,
 * and form submission. Used by the example-app tests and bench/suite/soak.ts.
 */
import { CookieJar } from './cookie-jar.js';

export { CookieJar };

/** One response, its body already read. */
export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  location: string | undefined;
}

/** Sends one request with the jar's cookies (no redirect following) and stores the new cookies. */
export async function request(
  jar: CookieJar,
  url: string,
  init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Page> {
  const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let body: string | undefined;
  if (init.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(init.form).toString();
  }
  const res = await fetch(url, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
  jar.store(url, res.headers.getSetCookie());
  const location = res.headers.get('location') ?? undefined;
  return {
    url,
    status: res.status,
    headers: res.headers,
    body: await res.text(),
    location: location === undefined ? undefined : new URL(location, url).href,
  };
}

/** The `action` of the first form whose action matches `pattern`, resolved against the page URL. */
export function formAction(page: Page, pattern: RegExp): string | undefined {
  for (const match of page.body.matchAll(/<form\b[^>]*\baction="([^"]+)"/g)) {
    const action = (match[1] ?? '').replace(/&amp;/g, '&');
    if (pattern.test(action)) return new URL(action, page.url).href;
  }
  return undefined;
}

/** The hidden inputs of a page (name to value), e.g. oidc-provider's logout `xsrf`. */
export function hiddenInputs(page: Page): Record<string, string> {
  const out: Record<string, string> = {};
  for (const match of page.body.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
    const name = /name="([^"]*)"/.exec(match[0])?.[1];
    const value = /value="([^"]*)"/.exec(match[0])?.[1];
    if (name !== undefined) out[name] = value ?? '';
  }
  return out;
}

/** Follows redirects from `start` (GET) until a non-redirect answer or `stop(url)` says so. */
export async function follow(jar: CookieJar, start: Page, stop: (url: string) => boolean = () => false, maxHops = 15): Promise<Page> {
  let page = start;
  for (let hop = 0; hop < maxHops; hop += 1) {
    if (page.location === undefined || page.status < 300 || page.status >= 400 || stop(page.location)) return page;
    page = await request(jar, page.location);
  }
  throw new Error(`more than ${maxHops} redirects from ${start.url}`);
}

/** Starts a sign-in at the app: GET `/login` (with `returnTo`), returns the authorization URL. */
export async function startLogin(jar: CookieJar, appBase: string, returnTo?: string): Promise<URL> {
  const loginURL = new URL('/login', appBase);
  if (returnTo !== undefined) loginURL.searchParams.set('returnTo', returnTo);
  const login = await request(jar, loginURL.href);
  if (login.status !== 302 || login.location === undefined) throw new Error(`/login answered ${login.status}`);
  return new URL(login.location);
}

/** How to answer the IdP's pages. */
export interface IdpAnswers {
  login?: string;
  password?: string;
  consent?: 'allow' | 'deny';
}

/**
 * Walks the IdP from the authorization URL (login form, consent) like a browser and returns the
 * redirect back to `redirectUri` without following it.
 */
export async function authorizeAtIdp(jar: CookieJar, authorizeURL: URL, redirectUri: string, answers: IdpAnswers = {}): Promise<URL> {
  const isRedirect = (url: string): boolean => url.startsWith(redirectUri);
  let page = await follow(jar, await request(jar, authorizeURL.href), isRedirect);
  for (let step = 0; step < 4 && !(page.location && isRedirect(page.location)); step += 1) {
    const loginAction = formAction(page, /\/interaction\/[^/]+\/login$/);
    const confirmAction = formAction(page, /\/interaction\/[^/]+\/confirm$/);
    const abortAction = formAction(page, /\/interaction\/[^/]+\/abort$/);
    let submitted: Page;
    if (loginAction) {
      submitted = await request(jar, loginAction, { form: { login: answers.login ?? 'demo', password: answers.password ?? 'demo' } });
    } else if (confirmAction && abortAction) {
      submitted = await request(jar, answers.consent === 'deny' ? abortAction : confirmAction, { form: {} });
    } else {
      throw new Error(`unexpected IdP page ${page.status} at ${page.url}: ${page.body.slice(0, 300)}`);
    }
    page = await follow(jar, submitted, isRedirect);
  }
  if (!page.location || !isRedirect(page.location)) throw new Error(`never redirected to ${redirectUri} (last ${page.status} ${page.url})`);
  return new URL(page.location);
}

/** What {@link signIn} saw along the way. */
export interface SignInResult {
  /** The request to the authorization endpoint (the redirect target of `/login`). */
  authorizeURL: URL;
  /** The redirect to the app's `/callback`. */
  callbackURL: URL;
  /** The answer of the app's `/callback` (not followed). */
  callback: Page;
}

/** Signs in through the app's `/login`, the IdP's pages and the app's `/callback`, like a browser. */
export async function signIn(jar: CookieJar, appBase: string, options: IdpAnswers & { returnTo?: string } = {}): Promise<SignInResult> {
  const authorizeURL = await startLogin(jar, appBase, options.returnTo);
  const callbackURL = await authorizeAtIdp(jar, authorizeURL, new URL('/callback', appBase).href, options);
  const callback = await request(jar, callbackURL.href);
  return { authorizeURL, callbackURL, callback };
}
