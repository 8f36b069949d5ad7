import { needsRefresh } from '../../src/login/refresh.js';

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
