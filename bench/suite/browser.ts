/**
 * Sign-ins for the benchmarks, through the tests' cookie-keeping browser (test/support/browser.ts):
 * fetch() with `redirect: 'manual'`, one hop at a time.
 */
import { Browser } from '../../test/support/browser.js';

export { Browser };

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
  const browser = new Browser();
  const login = await browser.get(`${app}/login`);
  if (login.status !== 302 || !login.location) throw new Error(`GET /login answered ${login.status}`);
  const authorize = await browser.get(login.location);
  if (authorize.status !== 302 || !authorize.location)
    throw new Error(`GET authorize answered ${authorize.status}: ${authorize.text.slice(0, 200)}`);
  const callback = await browser.get(authorize.location);
  if (callback.status !== 302) throw new Error(`GET /callback answered ${callback.status}: ${callback.text.slice(0, 200)}`);
  const page = await browser.get(`${app}/page`);
  if (page.status !== 200) throw new Error(`GET /page after sign-in answered ${page.status}`);
  const sub = (JSON.parse(page.text) as { sub?: unknown }).sub;
  if (typeof sub !== 'string') throw new Error('GET /page after sign-in named no user');
  return { cookie: browser.cookieHeader(app), sub };
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
