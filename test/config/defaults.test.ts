/**
 * Issue 17 §2: one defaults module in one style. Every default of both halves lives in
 * src/config/defaults.ts, documented, with the unit in the name of every time and size.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEARER_DEFAULTS, ISSUER_DEFAULTS, LOGIN_DEFAULTS } from '../../src/config/defaults.js';
import { LOGIN_DEFAULTS as PUBLIC_LOGIN_DEFAULTS } from '../../src/advanced.js';

const source = readFileSync(fileURLToPath(new URL('../../src/config/defaults.ts', import.meta.url)), 'utf8');

/** Each top-level member of an `export const NAME = { ... }` object with the doc comment above it. */
function documentedMembers(name: string): Array<{ member: string; doc: string }> {
  const start = source.indexOf(`export const ${name} = {`);
  const body = source.slice(start, source.indexOf('\n} as const;', start));
  return [...body.matchAll(/\/\*\*([\s\S]*?)\*\/\n {2}(\w+):/g)].map((m) => ({ member: m[2]!, doc: m[1]!.replace(/\s*\n\s*\*\s*/g, ' ') }));
}

const sections = { LOGIN_DEFAULTS, BEARER_DEFAULTS, ISSUER_DEFAULTS } as const;

describe.each(Object.entries(sections))('%s', (name, values) => {
  const members = documentedMembers(name);

  it('documents every member', () => {
    expect(members.map((m) => m.member).sort()).toEqual(Object.keys(values).sort());
  });

  it('names the unit of every time and size its comment gives in seconds, ms or bytes', () => {
    const misnamed = members.filter(({ member, doc }) => {
      if (/\bin seconds\b/.test(doc) && !member.endsWith('Seconds')) return true;
      if (/\bin ms\b/.test(doc) && !member.endsWith('Ms')) return true;
      if (/\bin bytes\b/.test(doc) && !member.endsWith('Bytes')) return true;
      return false;
    });
    expect(misnamed.map((m) => m.member)).toEqual([]);
  });

  it('says the unit in the comment of every member named after one', () => {
    const unsaid = members.filter(({ member, doc }) => {
      if (member.endsWith('Seconds')) return !/\bin seconds\b|, in seconds/.test(doc);
      if (member.endsWith('Ms')) return !/\bin ms\b/.test(doc);
      if (member.endsWith('Bytes')) return !/\bin bytes\b/.test(doc);
      return false;
    });
    expect(unsaid.map((m) => m.member)).toEqual([]);
  });
});

it('is the LOGIN_DEFAULTS that express-oidc-guard/advanced exports', () => {
  expect(PUBLIC_LOGIN_DEFAULTS).toBe(LOGIN_DEFAULTS);
});

it('gives the guard and sign-in the JWKS defaults of the issuer layer, not copies', () => {
  expect(BEARER_DEFAULTS.jwksCooldownMs).toBe(ISSUER_DEFAULTS.jwksCooldownMs);
  expect(BEARER_DEFAULTS.jwksCacheMaxAgeMs).toBe(ISSUER_DEFAULTS.jwksCacheMaxAgeMs);
  expect(BEARER_DEFAULTS.jwksTimeoutMs).toBe(ISSUER_DEFAULTS.httpTimeoutMs);
  expect(LOGIN_DEFAULTS.jwksCooldownMs).toBe(ISSUER_DEFAULTS.jwksCooldownMs);
});
