/**
 * Internal off switches of performance shortcuts (ARCHITECTURE.md, "Performance shortcuts"), so
 * tests can run the same requests through the shortcut and through the plain path and compare the
 * answers (test/login/shortcuts.test.ts, test/bearer/dictionary-mode.test.ts).
 *
 * Deliberately neither an option nor an environment variable: both are public (every option is
 * typed in `AuthOptions` and documented in the README; every variable `from-env.ts` reads is a
 * documented fallback), and a shortcut must answer exactly as the plain path does, so an app has
 * no reason to choose. This module is reachable from neither package entry. Each switch is read
 * once, when `auth()`, a page guard or `requireBearer()` is made, so one process can hold an app
 * built each way.
 *
 * (The sign-in's third shortcut, the local record cache, has a public switch already:
 * `session.localCache: false`.)
 */
export const shortcuts = {
  /**
   * `auth()` returns a function that calls its one layer straight, instead of the Router's
   * dispatch (`login/direct-dispatch.ts`). Off: `auth()` returns the Router itself.
   */
  directDispatch: true,
  /**
   * `requiresAuth()` without options lets a signed-in user through without the promise of the
   * full async check (`login/requires-auth.ts`). Off: every request takes the full check.
   */
  requiresAuthWithoutPromise: true,
  /**
   * The session layer and the Bearer guard put the request in V8's dictionary mode before they
   * add properties to it (`util/dictionary-mode.ts`). Off: they add them to the request as it is.
   */
  dictionaryMode: true,
};

/** Runs `build` with the given switches, then puts them back (for tests that build an app each way). */
export function withShortcuts<T>(settings: Partial<typeof shortcuts>, build: () => T): T {
  const saved = { ...shortcuts };
  Object.assign(shortcuts, settings);
  try {
    return build();
  } finally {
    Object.assign(shortcuts, saved);
  }
}
