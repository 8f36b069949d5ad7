import { needsRefresh } from '../../src/login/refresh.js';

describe('needsRefresh (refreshMargin)', () => {
  const now = 1_000_000_000_000; // ms
  const nowS = now / 1000;

  it('refreshes within the margin of expiry, and not before', () => {
    expect(needsRefresh({ expires_at: nowS + 29, expires_in: 3600 }, 30, now)).toBe(true);
    expect(needsRefresh({ expires_at: nowS + 31, expires_in: 3600 }, 30, now)).toBe(false);
  });

  it('refreshes an expired token, and never one of unknown expiry', () => {
    expect(needsRefresh({ expires_at: nowS - 1 }, 30, now)).toBe(true);
    expect(needsRefresh({}, 30, now)).toBe(false);
  });

  it('caps the default margin at half the token lifetime, so a short-lived token is not refreshed on every call', () => {
    // A 10 s token just issued: with a plain 30 s margin it would need a refresh at once.
    expect(needsRefresh({ expires_at: nowS + 10, expires_in: 10 }, 30, now)).toBe(false);
    expect(needsRefresh({ expires_at: nowS + 5, expires_in: 10 }, 30, now)).toBe(true);
  });

  it('uses a margin the app set as given', () => {
    expect(needsRefresh({ expires_at: nowS + 10, expires_in: 10 }, 30, now, false)).toBe(true);
  });
});
