import { closestName, rejectUnknown } from '../../src/config/assert.js';

describe('rejectUnknown(): option names that are not options', () => {
  const known = new Set(['redis', 'store', 'rolling', 'rollingDuration']);

  it('refuses a typo with its dotted path and the closest known name', () => {
    expect(() => rejectUnknown('session.', { reddis: 'redis://x' }, known)).toThrow(
      new TypeError('Option "session.reddis" is not a known option. Did you mean "session.redis"?'),
    );
  });

  it('refuses a name close to none without a suggestion', () => {
    expect(() => rejectUnknown('', { somethingElse: 1 }, known)).toThrow(new TypeError('Option "somethingElse" is not a known option.'));
  });

  it('names what to use instead for an option deliberately not offered', () => {
    const instead = new Map([['genid', 'sessions use random ids of 24 bytes.']]);
    expect(() => rejectUnknown('session.', { genid: () => 'x' }, known, instead)).toThrow(
      new TypeError('Option "session.genid" is not supported: sessions use random ids of 24 bytes.'),
    );
  });

  it('accepts known keys', () => {
    expect(() => rejectUnknown('session.', { redis: 'x', rolling: true }, known)).not.toThrow();
  });
});

describe('closestName()', () => {
  it.each([
    ['authRequierd', 'authRequired'],
    ['clientSecert', 'clientSecret'],
    ['clientId', 'clientID'],
    ['baseUrl', 'baseURL'],
  ])('reads %s as %s', (typo, meant) => {
    expect(closestName(typo, ['authRequired', 'clientSecret', 'clientID', 'baseURL', 'issuerBaseURL'])).toBe(meant);
  });

  it('suggests nothing for a short name far from every option', () => {
    expect(closestName('xy', ['authRequired', 'secret'])).toBeUndefined();
  });
});
