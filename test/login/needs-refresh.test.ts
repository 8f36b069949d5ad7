import { effectiveRefreshMargin, needsRefresh } from '../../src/login/refresh.js';

describe('needsRefresh (refreshMargin)', () => {
  const now = 1_000_000_000_000; // ms
  const nowS = now / 1000;

  it('refreshes within the margin of expiry, and not before', () => {
    expect(needsRefresh({ expires_at: nowS + 29 }, 30, now)).toBe(true);
    expect(needsRefresh({ expires_at: nowS + 31 }, 30, now)).toBe(false);
  });

  it('refreshes an expired token, and never one of unknown expiry', () => {
    expect(needsRefresh({ expires_at: nowS - 1 }, 30, now)).toBe(true);
    expect(needsRefresh({}, 30, now)).toBe(false);
  });
});

describe('refreshMargin › capped by the token lifetime (short-lived access tokens)', () => {
  const now = 1_000_000_000_000;
  const nowS = now / 1000;

  it('keeps the configured margin for a token that lives long enough', () => {
    expect(effectiveRefreshMargin({ expires_in: 3600 }, 30)).toBe(30);
    expect(effectiveRefreshMargin({ expires_in: 61 }, 30)).toBe(30);
    expect(effectiveRefreshMargin({}, 30)).toBe(30);
  });

  it('is at most half the lifetime, less the half second that whole-second expiry times lose', () => {
    expect(effectiveRefreshMargin({ expires_in: 30 }, 30)).toBe(14.5);
    expect(effectiveRefreshMargin({ expires_in: 2 }, 30)).toBe(0.5);
    expect(effectiveRefreshMargin({ expires_in: 1 }, 30)).toBe(0);
    expect(effectiveRefreshMargin({ expires_in: 0 }, 30)).toBe(0);
  });

  it('does not refresh a 2-second token just issued, whenever within its second it was issued', () => {
    // expires_at is floor(issued) + expires_in: issued at the very end of a second is the worst case.
    for (const offset of [0, 1, 500, 999]) {
      const issued = now + offset;
      const tokens = { expires_in: 2, expires_at: Math.floor(issued / 1000) + 2 };
      expect(needsRefresh(tokens, 30, issued)).toBe(false);
      expect(needsRefresh(tokens, 30, issued + 400)).toBe(false);
    }
  });

  it('refreshes a 2-second token before it expires', () => {
    const tokens = { expires_in: 2, expires_at: nowS + 2 };
    expect(needsRefresh(tokens, 30, now + 1499)).toBe(false);
    expect(needsRefresh(tokens, 30, now + 1500)).toBe(true);
    expect(needsRefresh(tokens, 30, now + 2000)).toBe(true);
  });

  it('caps a configured margin longer than the lifetime too', () => {
    const tokens = { expires_in: 20, expires_at: nowS + 20 };
    expect(needsRefresh(tokens, 3600, now)).toBe(false);
    expect(needsRefresh(tokens, 3600, now + 10_500)).toBe(true);
  });
});
