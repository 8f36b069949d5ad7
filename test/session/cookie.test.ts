import { createRequire } from 'node:module';
import fc from 'fast-check';
import { readCookie, signSessionId, unsignSessionId } from '../../src/session/cookie.js';

// Untyped CommonJS packages, loaded as express-session loads them: its own (older) copy of
// cookie-signature, and the cookie package; plus the top-level cookie-signature.
interface Signature {
  sign(value: string, secret: string): string;
  unsign(value: string, secret: string): string | false;
}
interface CookiePackage {
  parse(header: string, options?: { decode?: (value: string) => string }): Record<string, string>;
  serialize(name: string, value: string, options?: object): string;
}
const require = createRequire(import.meta.url);
const fromSession = createRequire(require.resolve('express-session'));
const sessionSignature = fromSession('cookie-signature') as Signature;
const cookie = fromSession('cookie') as CookiePackage;
const signature = require('cookie-signature') as Signature;

const ids = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }),
  fc.base64String({ minLength: 4, maxLength: 48 }),
);
const secrets = fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }));

/** What express-session's getcookie() makes of a cookie value: the id, or undefined. */
function expressSessionUnsign(value: string, secretList: readonly string[]): string | undefined {
  if (!value.startsWith('s:')) return undefined;
  for (const secret of secretList) {
    const id = sessionSignature.unsign(value.slice(2), secret);
    if (id !== false) return id;
  }
  return undefined;
}

describe('session/cookie: signing in the cookie-signature format', () => {
  it('signs exactly as cookie-signature (both copies) does, with the s: prefix', () => {
    fc.assert(
      fc.property(ids, secrets, (id, secret) => {
        const signed = signSessionId(id, secret);
        expect(signed).toBe(`s:${signature.sign(id, secret)}`);
        expect(signed).toBe(`s:${sessionSignature.sign(id, secret)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('unsigns what cookie-signature signed, and what it signs, it unsigns', () => {
    fc.assert(
      fc.property(ids, secrets, (id, secret) => {
        expect(unsignSessionId(`s:${signature.sign(id, secret)}`, [secret])).toBe(id);
        expect(signature.unsign(signSessionId(id, secret).slice(2), secret)).toBe(id);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with express-session on arbitrary cookie values (accept and reject alike)', () => {
    const secretList = ['first-secret', 'second-secret'];
    const signedish = fc.tuple(ids, fc.constantFrom(...secretList, 'foreign')).map(([id, secret]) => signSessionId(id, secret));
    const mutated = fc.tuple(signedish, fc.nat(), fc.string({ minLength: 0, maxLength: 3 })).map(([value, at, insert]) => {
      const i = at % (value.length + 1);
      return value.slice(0, i) + insert + value.slice(i + 1);
    });
    fc.assert(
      fc.property(
        fc.oneof(
          signedish,
          mutated,
          fc.string(),
          fc.string().map((v) => `s:${v}`),
        ),
        (value) => {
          expect(unsignSessionId(value, secretList)).toBe(expressSessionUnsign(value, secretList));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('verifies with any configured secret (rotation) and signs with the one given', () => {
    const id = 'abcDEF123_-';
    const old = signSessionId(id, 'old-secret');
    expect(unsignSessionId(old, ['new-secret', 'old-secret'])).toBe(id);
    expect(unsignSessionId(old, ['new-secret'])).toBeUndefined();
    expect(unsignSessionId(signSessionId(id, 'new-secret'), ['new-secret', 'old-secret'])).toBe(id);
    expect(signSessionId(id, 'new-secret')).not.toBe(old);
  });

  it('rejects tampered, truncated, foreign and unsigned values', () => {
    const secret = 'the-secret';
    const id = 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5';
    const good = signSessionId(id, secret);
    const mac = good.slice(good.lastIndexOf('.') + 1);
    expect(unsignSessionId(good, [secret])).toBe(id);
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const bad = [
      flip(good, 3), // the id
      flip(good, good.length - 1), // the mac
      good.slice(0, -1), // truncated mac
      good.slice(0, good.lastIndexOf('.')), // no mac
      `${good}=`, // padded mac
      `${good}x`,
      `s:${id}x.${mac}`, // another id, same mac
      `s:${id}.${mac.toLowerCase()}`,
      signSessionId(id, 'foreign-secret'),
      good.slice(2), // no s: prefix
      `j:${good.slice(2)}`,
      id, // unsigned
      's:',
      's:.',
      '',
      `s:${id}.${Buffer.from(mac, 'base64').toString('base64url')}`, // the mac in base64url
    ];
    for (const value of bad) expect(unsignSessionId(value, [secret])).toBeUndefined();
    expect(unsignSessionId(good, [])).toBeUndefined();
  });
});

describe('session/cookie: readCookie', () => {
  /** cookie.parse's first value of `name`, with readCookie's one deliberate difference: an undecodable value is undefined. */
  function reference(header: string, name: string): string | undefined {
    const raw = cookie.parse(header, { decode: (v) => v });
    if (!Object.prototype.hasOwnProperty.call(raw, name)) return undefined;
    const value = raw[name]!;
    if (!value.includes('%')) return value;
    try {
      const decoded = decodeURIComponent(value);
      expect(cookie.parse(header)[name]).toBe(decoded);
      return decoded;
    } catch {
      return undefined;
    }
  }

  const nameChars = fc.constantFrom(...'sidabc'.split(''));
  const names = fc.string({ unit: nameChars, minLength: 1, maxLength: 4 });
  const valueChars = fc.oneof(
    fc.constantFrom(...'sid:.%"= \tAZaz09+/-_\u00a0\u00e9'.split('')),
    fc.constantFrom('%3A', '%2F', '%2B', '%25', '%E9', '%C3%A9', '%ZZ', '%'),
  );
  const values = fc.array(valueChars, { maxLength: 12 }).map((parts) => parts.join(''));
  const blanks = fc.constantFrom('', ' ', '  ', '\t', ' \t');
  const pair = fc.tuple(blanks, names, blanks, values, blanks).map(([a, n, b, v, c]) => `${a}${n}${b}=${v}${c}`);
  const segment = fc.oneof({ weight: 5, arbitrary: pair }, { weight: 1, arbitrary: fc.string({ unit: nameChars, maxLength: 3 }) });
  const headers = fc.oneof(
    fc.array(segment, { maxLength: 8 }).chain((parts) => fc.constantFrom(';', '; ', ' ;').map((sep) => parts.join(sep))),
    fc.string({ unit: fc.constantFrom(...'sid=;" %\t3Aa\u00a0'.split('')), maxLength: 40 }),
  );

  it('reads the first value of a name as the cookie package does, on random headers', () => {
    fc.assert(
      fc.property(headers, names, (header, name) => {
        expect(readCookie(header, name)).toBe(reference(header, name));
      }),
      { numRuns: 5000 },
    );
  });

  it('takes the first of repeated names', () => {
    expect(readCookie('sid=first; sid=second', 'sid')).toBe('first');
    expect(readCookie('other=1;sid=first;sid=second', 'sid')).toBe('first');
    expect(readCookie('sidx=1; xsid=2; sid=3', 'sid')).toBe('3');
  });

  it('unquotes a quoted value and decodes %-escapes', () => {
    expect(readCookie('sid="s%3Aabc.def"', 'sid')).toBe('s:abc.def');
    expect(readCookie('sid="', 'sid')).toBe('');
    expect(readCookie('sid=""', 'sid')).toBe('');
    expect(readCookie('sid="abc', 'sid')).toBe('"abc');
    expect(readCookie('sid=s%3Aab%2Bc%2Fd.mac', 'sid')).toBe('s:ab+c/d.mac');
    expect(readCookie('sid=%C3%A9t%C3%A9', 'sid')).toBe('été');
  });

  it('trims spaces and tabs only, around names and values', () => {
    expect(readCookie(' \tsid \t= \tvalue \t; x=1', 'sid')).toBe('value');
    // A non-breaking space (a Latin-1 byte in a header) is part of the name or value, as in `cookie`.
    expect(readCookie('\u00a0sid=value', 'sid')).toBeUndefined();
    expect(readCookie('sid=\u00a0value\u00a0', 'sid')).toBe('\u00a0value\u00a0');
  });

  it('answers undefined for a bad %-sequence, an absent name, and an empty header', () => {
    expect(readCookie('sid=s%3Aabc%ZZ.mac', 'sid')).toBeUndefined();
    expect(readCookie('sid=%', 'sid')).toBeUndefined();
    expect(readCookie('sid=%E9', 'sid')).toBeUndefined();
    expect(readCookie('other=1', 'sid')).toBeUndefined();
    expect(readCookie('sid', 'sid')).toBeUndefined();
    expect(readCookie('', 'sid')).toBeUndefined();
    expect(readCookie(undefined, 'sid')).toBeUndefined();
  });

  it('reads past pairs without "=" (and does so in linear time)', () => {
    expect(readCookie('junk; more junk;sid=v', 'sid')).toBe('v');
    expect(readCookie('a;b=;sid=v', 'sid')).toBe('v');
    // 8000 pairs without '=' (a 16 KB header): a rescan from every ';' would take ~64M steps.
    const header = `${'a;'.repeat(8000)}sid=v`;
    const started = process.hrtime.bigint();
    for (let i = 0; i < 50; i++) expect(readCookie(header, 'sid')).toBe('v');
    const perCallMs = Number(process.hrtime.bigint() - started) / 1e6 / 50;
    // Linear: well under a millisecond; the quadratic scan took ~3 ms per call on the same machine.
    expect(perCallMs).toBeLessThan(1);
  });

  it('reads the cookie express-session writes (cookie.serialize of a signed id)', () => {
    fc.assert(
      fc.property(fc.base64String({ minLength: 4, maxLength: 48 }), secrets, (id, secret) => {
        const line = cookie.serialize('sid', signSessionId(id, secret));
        const header = `a=b; ${line.slice(0, line.indexOf(';') === -1 ? undefined : line.indexOf(';'))}; c=d`;
        expect(unsignSessionId(readCookie(header, 'sid')!, [secret])).toBe(id);
      }),
    );
  });
});
