import fc from 'fast-check';
import { checkTokenCharacters, extractAccessToken, extractBearerToken, extractForGuard } from '../../src/bearer/extract.js';
import { InvalidRequestError } from '../../src/errors/index.js';

function refusal(fn: () => unknown): { code: string; status: number; description: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    const e = err as InvalidRequestError;
    return { code: e.code, status: e.status, description: e.description };
  }
  throw new Error('expected a refusal');
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('extractBearerToken()', () => {
  describe('RFC 6750 §2.1 Authorization request header', () => {
    it('returns the token of "Bearer <token>"', () => {
      expect(extractBearerToken({ headers: { authorization: 'Bearer abc.DEF-_~+/=' } })).toBe('abc.DEF-_~+/=');
    });
    it('matches the scheme case-insensitively', () => {
      for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
        expect(extractBearerToken({ headers: { authorization: `${scheme} tok` } })).toBe('tok');
      }
    });
    it('accepts several spaces between scheme and token (1*SP)', () => {
      expect(extractBearerToken({ headers: { authorization: 'Bearer   tok' } })).toBe('tok');
    });
    it('accepts trailing "=" padding only at the end', () => {
      expect(extractBearerToken({ headers: { authorization: 'Bearer abc==' } })).toBe('abc==');
      expect(refusal(() => extractBearerToken({ headers: { authorization: 'Bearer a=bc' } })).description).toBe(
        'access token has illegal characters',
      );
    });
    it('returns undefined without an Authorization header', () => {
      expect(extractBearerToken({ headers: {} })).toBeUndefined();
      expect(extractBearerToken({ headers: { authorization: '' } })).toBeUndefined();
    });
    it('returns undefined for another scheme (Basic, DPoP)', () => {
      expect(extractBearerToken({ headers: { authorization: 'Basic dXNlcjpwYXNz' } })).toBeUndefined();
      expect(extractBearerToken({ headers: { authorization: 'DPoP abc' } })).toBeUndefined();
      expect(extractBearerToken({ headers: { authorization: 'Bearerabc' } })).toBeUndefined();
    });
    it('refuses "Bearer" without a token', () => {
      expect(refusal(() => extractBearerToken({ headers: { authorization: 'Bearer' } }))).toEqual({
        code: 'invalid_request',
        status: 400,
        description: 'Bearer credentials without a token',
      });
      expect(refusal(() => extractBearerToken({ headers: { authorization: 'Bearer    ' } })).description).toBe(
        'Bearer credentials without a token',
      );
    });
    it('refuses two tokens in the header', () => {
      expect(refusal(() => extractBearerToken({ headers: { authorization: 'Bearer a b' } })).description).toBe(
        'more than one token in the Authorization header',
      );
    });
    it('refuses two Authorization headers', () => {
      expect(refusal(() => extractBearerToken({ headers: { authorization: ['Bearer a', 'Bearer b'] } })).description).toBe(
        'more than one Authorization header',
      );
    });
    it.each([['a,b'], ['a"b'], ['a\tb'], ['tök'], ['a;b'], ['=abc']])('refuses the illegal token %j', (token) => {
      expect(refusal(() => extractBearerToken({ headers: { authorization: `Bearer ${token}` } })).description).toBe(
        'access token has illegal characters',
      );
    });
    it('refuses a header over maxTokenLength (default 16 KiB) without looking further', () => {
      const header = `Bearer ${'a'.repeat(17_000)}`;
      expect(refusal(() => extractBearerToken({ headers: { authorization: header } })).description).toBe('Authorization header too large');
    });
  });

  describe('RFC 6750 §2.2 form-encoded body parameter', () => {
    const body = { access_token: 'tok' };
    it('ignores the body unless allowFormBody is set', () => {
      expect(extractBearerToken({ headers: form, body, method: 'POST' })).toBeUndefined();
    });
    it('returns the body token when enabled and the body is application/x-www-form-urlencoded', () => {
      expect(extractBearerToken({ headers: form, body, method: 'POST' }, { allowFormBody: true })).toBe('tok');
      expect(
        extractBearerToken(
          { headers: { 'content-type': 'Application/X-WWW-Form-Urlencoded; charset=utf-8' }, body, method: 'POST' },
          { allowFormBody: true },
        ),
      ).toBe('tok');
    });
    it('ignores the body for another content type (JSON)', () => {
      expect(
        extractBearerToken({ headers: { 'content-type': 'application/json' }, body, method: 'POST' }, { allowFormBody: true }),
      ).toBeUndefined();
    });
    it('ignores the body on GET', () => {
      expect(extractBearerToken({ headers: form, body, method: 'GET' }, { allowFormBody: true })).toBeUndefined();
    });
    it('refuses two body tokens, an empty one and a non-string one', () => {
      const run = (value: unknown) =>
        refusal(() => extractBearerToken({ headers: form, body: { access_token: value }, method: 'POST' }, { allowFormBody: true }))
          .description;
      expect(run(['a', 'b'])).toBe('more than one access_token in the body');
      expect(run('')).toBe('access_token in the body is empty');
      expect(run({ a: 1 })).toBe('access_token in the body is not a string');
      expect(run('a b')).toBe('access token has illegal characters');
    });
    it('refuses a token in the header and in the body at once', () => {
      expect(
        refusal(() =>
          extractBearerToken({ headers: { ...form, authorization: 'Bearer a' }, body, method: 'POST' }, { allowFormBody: true }),
        ).description,
      ).toBe('token sent in more than one place');
    });
    it('refuses an oversized body token', () => {
      expect(
        refusal(() =>
          extractBearerToken({ headers: form, body: { access_token: 'a'.repeat(17_000) }, method: 'POST' }, { allowFormBody: true }),
        ).description,
      ).toBe('access token too large');
    });
    it('uses the body token next to a non-Bearer Authorization header', () => {
      expect(extractBearerToken({ headers: { ...form, authorization: 'Basic eDp5' }, body, method: 'POST' }, { allowFormBody: true })).toBe(
        'tok',
      );
    });
  });

  describe('RFC 6750 §2.3 URI query parameter (refused by design)', () => {
    it.each([
      ['a raw query string', 'access_token=tok'],
      ['a raw query string with "?"', '?x=1&access_token=tok'],
      ['parsed parameters', { access_token: 'tok' }],
      ['URLSearchParams', new URLSearchParams('access_token=')],
    ])('refuses a query access_token given as %s', (_label, query) => {
      expect(refusal(() => extractBearerToken({ headers: {}, query })).description).toBe('tokens in the query string are not accepted');
    });
    it('refuses a query token even next to a valid header', () => {
      expect(refusal(() => extractBearerToken({ headers: { authorization: 'Bearer a' }, query: 'access_token=a' })).description).toBe(
        'tokens in the query string are not accepted',
      );
    });
    it('ignores other query parameters', () => {
      expect(extractBearerToken({ headers: { authorization: 'Bearer a' }, query: 'token=a&access_tokenx=1' })).toBe('a');
    });
  });
});

describe("extractForGuard() (the guard's deferred character check)", () => {
  it("leaves a header token's characters to the caller, and checkTokenCharacters() refuses them as extraction would", () => {
    const parts = { headers: { authorization: 'Bearer abc,def' } };
    expect(extractForGuard(parts, {})).toEqual({ token: 'abc,def', scheme: 'Bearer' });
    expect(refusal(() => checkTokenCharacters('abc,def')).description).toBe('access token has illegal characters');
    expect(refusal(() => extractAccessToken(parts, {})).description).toBe('access token has illegal characters');
    expect(() => checkTokenCharacters('abc.DEF-_~+/=')).not.toThrow();
  });
  it('still refuses everything else at once: a query token, two tokens, no token, an oversized header', () => {
    const cases: Array<[Parameters<typeof extractForGuard>[0], string]> = [
      [{ headers: { authorization: 'Bearer a,b' }, query: 'access_token=x' }, 'tokens in the query string are not accepted'],
      [{ headers: { authorization: 'Bearer a, b' } }, 'more than one token in the Authorization header'],
      [{ headers: { authorization: 'Bearer' } }, 'Bearer credentials without a token'],
      [{ headers: { authorization: `Bearer ${'a'.repeat(17 * 1024)}` } }, 'Authorization header too large'],
    ];
    for (const [parts, description] of cases) expect(refusal(() => extractForGuard(parts, {})).description).toBe(description);
  });
  it('checks at once with allowFormBody, so a header and a body token are judged as by extractAccessToken()', () => {
    const parts = { headers: { authorization: 'Bearer a,b', ...form }, body: { access_token: 'c' }, method: 'POST' };
    expect(refusal(() => extractForGuard(parts, { allowFormBody: true })).description).toBe('access token has illegal characters');
  });
});

describe('the header fast path for "Bearer <token>" (extract.ts)', () => {
  /** The general parse of an Authorization header, as it was before the fast path: the reference. */
  function reference(value: string, dpop: boolean, max = 16384): { token: string; scheme: string } | string | undefined {
    if (value.length > max + 64) return 'Authorization header too large';
    const trimmed = value.trim();
    if (trimmed === '') return undefined;
    const space = trimmed.indexOf(' ');
    const given = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
    const scheme = given === 'bearer' ? 'Bearer' : given === 'dpop' && dpop ? 'DPoP' : undefined;
    if (scheme === undefined) return undefined;
    const rest = space === -1 ? '' : trimmed.slice(space + 1).replace(/^ +/, '');
    if (rest === '') return `${scheme} credentials without a token`;
    if (rest.includes(' ')) return 'more than one token in the Authorization header';
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(rest)) return 'access token has illegal characters';
    return { token: rest, scheme };
  }
  function actual(value: string, dpop: boolean, guard: boolean): { token: string; scheme: string } | string | undefined {
    try {
      const parts = { headers: { authorization: value } };
      const found = guard ? extractForGuard(parts, { dpop }) : extractAccessToken(parts, { dpop });
      if (found !== undefined && guard) checkTokenCharacters(found.token);
      return found && { token: found.token, scheme: found.scheme };
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidRequestError);
      return (err as InvalidRequestError).description;
    }
  }

  it("answers every header as the general parse does (property, with and without the guard's deferred check)", () => {
    const piece = fc.constantFrom(
      'Bearer',
      'bearer',
      'DPoP',
      'Basic',
      ' ',
      '  ',
      '\t',
      '\n',
      '\u00a0',
      '\ufeff',
      'a',
      'Z9',
      '.',
      '-_~+/',
      '=',
      '==',
      '%',
      'é',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), fc.boolean(), (pieces, dpop, guard) => {
        const value = pieces.join('');
        expect(actual(value, dpop, guard)).toEqual(reference(value, dpop));
        const bearer = `Bearer ${value}`;
        expect(actual(bearer, dpop, guard)).toEqual(reference(bearer, dpop));
      }),
      { numRuns: 1000 },
    );
  });
});
