/**
 * Issue 17 §2: one spelling of the client id. `auth()` takes `clientID` (express-openid-connect's
 * name); the guard's `introspection.clientID` is spelt the same, and `introspection.clientId`
 * stays accepted as its older alias.
 */
import { resolveBearerOptions } from '../../src/bearer/config.js';
import type { BearerOptions } from '../../src/bearer/types.js';
import type { Logger } from '../../src/util/logger.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const base: BearerOptions = {
  issuer: 'https://issuer.example',
  jwksUri: 'https://issuer.example/jwks',
  audience: 'https://api.example',
  logger: silent,
};
const endpoint = 'https://issuer.example/introspect';

const clientOf = (introspection: Record<string, unknown>): string | undefined =>
  resolveBearerOptions({ ...base, introspection: { endpoint, clientSecret: 's', ...introspection } } as BearerOptions).issuers[0]
    ?.introspection?.clientID;

describe('requireBearer() introspection.clientID', () => {
  it('resolves the documented spelling clientID', () => {
    expect(clientOf({ clientID: 'rs' })).toBe('rs');
  });

  it('accepts the older spelling clientId as an alias of clientID', () => {
    expect(clientOf({ clientId: 'rs' })).toBe('rs');
  });

  it('accepts both spellings when they agree', () => {
    expect(clientOf({ clientID: 'rs', clientId: 'rs' })).toBe('rs');
  });

  it('refuses both spellings with different values, naming the alias', () => {
    expect(() => clientOf({ clientID: 'rs', clientId: 'other' })).toThrow(
      new TypeError('Option "introspection.clientId" must be left out, or the same as "clientID". It is the older spelling of "clientID"'),
    );
  });

  it('names the documented spelling when neither is given', () => {
    expect(() => clientOf({})).toThrow(/^Option "introspection\.clientID" must be set/);
  });
});
