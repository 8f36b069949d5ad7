/**
 * Waiting for short-lived access tokens to expire. The refresh margin is capped by the token's own
 * lifetime (issue 15 §3), so a test that needs a refresh waits until the token has expired
 * instead of configuring a margin longer than the token lives.
 */

/**
 * Resolves once every access token of `ttlSeconds` obtained up to now has expired as the library
 * sees it (`expires_at` is whole seconds, rounded down), so its next use refreshes. Polls the
 * clock (there is no event to wait for); it waits at most `ttlSeconds`.
 */
export async function pastExpiryOfTokensFromNow(ttlSeconds: number): Promise<void> {
  const expired = (Math.floor(Date.now() / 1000) + ttlSeconds) * 1000;
  while (Date.now() < expired) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, expired - Date.now()))));
  }
}
