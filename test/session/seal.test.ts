import { createSealer, DEFAULT_SEAL_CONTEXT } from '../../src/session/seal.js';

const SECRET_A = 'a'.repeat(16) + 'secret-number-one-0123';
const SECRET_B = 'b'.repeat(16) + 'secret-number-two-4567';
const TOKENS = { access_token: 'at-1', refresh_token: 'rt-1', expires_at: 1_700_000_000, scope: 'openid' };

function flipChar(text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A';
  return text.slice(0, index) + c + text.slice(index + 1);
}

describe('session/seal', () => {
  describe('createSealer(secret)', () => {
    it('round-trips a JSON value', () => {
      const sealer = createSealer(SECRET_A);
      const sealed = sealer.seal(TOKENS);
      expect(sealer.unseal(sealed)).toEqual(TOKENS);
    });

    it('writes v1.<kid>.<iv>.<ciphertext>.<tag> in base64url with the first key id', () => {
      const sealer = createSealer([SECRET_A, SECRET_B]);
      const parts = sealer.seal(TOKENS).split('.');
      expect(parts).toHaveLength(5);
      expect(parts[0]).toBe('v1');
      expect(parts[1]).toBe(sealer.keyIds[0]);
      for (const p of parts.slice(1)) expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
      expect(Buffer.from(parts[4]!, 'base64url')).toHaveLength(16);
    });

    it('does not contain the plaintext', () => {
      const sealed = createSealer(SECRET_A).seal({ refresh_token: 'very-secret-refresh-token' });
      expect(sealed).not.toContain('very-secret');
      expect(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('very-secret');
    });

    it('uses a fresh IV for each seal (same input, different output)', () => {
      const sealer = createSealer(SECRET_A);
      const seen = new Set(Array.from({ length: 50 }, () => sealer.seal(TOKENS).split('.')[2]));
      expect(seen.size).toBe(50);
    });

    it('derives stable 8-character key ids that differ per secret and per context', () => {
      const a1 = createSealer(SECRET_A).keyIds[0]!;
      expect(a1).toMatch(/^[A-Za-z0-9_-]{8}$/);
      expect(createSealer(SECRET_A).keyIds[0]).toBe(a1);
      expect(createSealer(SECRET_B).keyIds[0]).not.toBe(a1);
      expect(createSealer(SECRET_A, 'other purpose').keyIds[0]).not.toBe(a1);
      expect(createSealer(SECRET_A, DEFAULT_SEAL_CONTEXT).keyIds[0]).toBe(a1);
    });

    it('does not put the secret in the key id', () => {
      expect(SECRET_A).not.toContain(createSealer(SECRET_A).keyIds[0]);
    });

    it('seals strings, numbers, null and arrays', () => {
      const sealer = createSealer(SECRET_A);
      for (const v of ['x', 0, null, [1, 'two'], { nested: { ok: true } }]) {
        expect(sealer.unseal(sealer.seal(v))).toEqual(v);
      }
    });

    it('throws a TypeError when the value has no JSON form', () => {
      const sealer = createSealer(SECRET_A);
      expect(() => sealer.seal(undefined)).toThrow(TypeError);
      expect(() => sealer.seal(() => 1)).toThrow(TypeError);
    });
  });

  describe('option "secret"', () => {
    it('rejects a secret shorter than 32 characters with a TypeError naming the option', () => {
      expect(() => createSealer('short')).toThrow(TypeError);
      expect(() => createSealer('short')).toThrow(/Option "secret" must be a string of at least 32 characters/);
      expect(() => createSealer('x'.repeat(31))).toThrow(/openssl rand/);
      expect(() => createSealer('x'.repeat(32))).not.toThrow();
    });

    it('names the position of a bad secret in a list', () => {
      expect(() => createSealer([SECRET_A, 'short'])).toThrow(/Option "secret\[1\]" must be a string of at least 32 characters/);
    });

    it('rejects an empty list and non-strings', () => {
      expect(() => createSealer([])).toThrow(/Option "secret" must be/);
      expect(() => createSealer(undefined as unknown as string)).toThrow(/Option "secret" must be/);
      expect(() => createSealer([42 as unknown as string])).toThrow(/Option "secret\[0\]"/);
    });

    it('rejects an empty context', () => {
      expect(() => createSealer(SECRET_A, '')).toThrow(/Option "context"/);
    });
  });

  describe('key rotation', () => {
    it('opens a value sealed under an older secret that is still listed', () => {
      const old = createSealer(SECRET_A).seal(TOKENS);
      const rotated = createSealer([SECRET_B, SECRET_A]);
      expect(rotated.unseal(old)).toEqual(TOKENS);
      expect(rotated.seal(TOKENS).split('.')[1]).toBe(rotated.keyIds[0]);
      expect(rotated.keyIds).toEqual([createSealer(SECRET_B).keyIds[0], createSealer(SECRET_A).keyIds[0]]);
    });

    it('answers undefined once the old secret is dropped', () => {
      const old = createSealer(SECRET_A).seal(TOKENS);
      expect(createSealer(SECRET_B).unseal(old)).toBeUndefined();
    });
  });

  describe('unseal() answers undefined and never throws', () => {
    const sealer = createSealer(SECRET_A);
    const sealed = sealer.seal(TOKENS, 'session-1');

    it('for the right aad it opens', () => {
      expect(sealer.unseal(sealed, 'session-1')).toEqual(TOKENS);
    });

    it('for a different or missing aad', () => {
      expect(sealer.unseal(sealed, 'session-2')).toBeUndefined();
      expect(sealer.unseal(sealed)).toBeUndefined();
      expect(sealer.unseal(sealer.seal(TOKENS), 'session-1')).toBeUndefined();
    });

    it('for another context with the same secret', () => {
      expect(createSealer(SECRET_A, 'other purpose').unseal(sealed, 'session-1')).toBeUndefined();
    });

    it('for a value whose kid was changed to another known kid', () => {
      const both = createSealer([SECRET_A, SECRET_B]);
      const parts = both.seal(TOKENS).split('.');
      parts[1] = both.keyIds[1]!;
      expect(both.unseal(parts.join('.'))).toBeUndefined();
    });

    it('for an unknown kid', () => {
      const parts = sealed.split('.');
      parts[1] = 'AAAAAAAA';
      expect(sealer.unseal(parts.join('.'), 'session-1')).toBeUndefined();
    });

    it('for any single altered character', () => {
      for (let i = 0; i < sealed.length; i++) {
        if (sealed[i] === '.') continue;
        expect(sealer.unseal(flipChar(sealed, i), 'session-1')).toBeUndefined();
      }
    });

    it('for every truncation', () => {
      for (let n = 0; n < sealed.length; n++) {
        expect(sealer.unseal(sealed.slice(0, n), 'session-1')).toBeUndefined();
      }
    });

    it('for garbage, other versions and non-strings', () => {
      const garbage: unknown[] = [
        '',
        '.....',
        'v1....',
        'not a sealed value',
        sealed.replace(/^v1/, 'v2'),
        sealed + '.extra',
        sealed.replace(/\./g, '+'),
        `${sealed.split('.').slice(0, 3).join('.')}.!!!!.${sealed.split('.')[4]}`,
        undefined,
        null,
        42,
        {},
      ];
      for (const g of garbage) {
        expect(() => sealer.unseal(g as string, 'session-1')).not.toThrow();
        expect(sealer.unseal(g as string, 'session-1')).toBeUndefined();
      }
    });

    it('for a ciphertext sealed under a different secret that claims our kid', () => {
      const other = createSealer(SECRET_B);
      const parts = other.seal(TOKENS, 'session-1').split('.');
      parts[1] = sealer.keyIds[0]!;
      expect(sealer.unseal(parts.join('.'), 'session-1')).toBeUndefined();
    });
  });
});

describe('session/seal opens()', () => {
  const secret = 'opens-secret-0123456789abcdefghijklmnopqrstuv';

  it('agrees with unseal, also for values it remembered under another aad or before an alteration', () => {
    const sealer = createSealer(secret);
    const sealed = sealer.seal({ access_token: 'a' }, 'aad-1');
    expect(sealer.opens(sealed, 'aad-1')).toBe(true);
    expect(sealer.opens(sealed, 'aad-1')).toBe(true); // remembered
    expect(sealer.opens(sealed, 'aad-2')).toBe(false);
    const parts = sealed.split('.');
    parts[3] = `${parts[3]!.slice(0, -2)}${parts[3]!.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(sealer.opens(parts.join('.'), 'aad-1')).toBe(false);
    expect(sealer.opens(sealed.slice(0, -1), 'aad-1')).toBe(false);
    expect(sealer.opens(undefined, 'aad-1')).toBe(false);
    expect(createSealer('another-secret-0123456789abcdefghijklmnopq').opens(sealed, 'aad-1')).toBe(false);
  });

  it('forgets the oldest values beyond its bound and still answers right for them', () => {
    const sealer = createSealer(secret);
    const values = Array.from({ length: 2100 }, (_, i) => sealer.seal({ i }));
    for (const value of values) expect(sealer.opens(value)).toBe(true);
    // The first ones were forgotten: asking again decrypts, and still says yes.
    expect(sealer.opens(values[0])).toBe(true);
    expect(sealer.unseal(values[0]!)).toEqual({ i: 0 });
  });
});
