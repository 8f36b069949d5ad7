import { buildChallenge } from '../../src/errors/www-authenticate.js';
import {
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  ServiceUnavailableError,
  UnauthorizedError,
  isAuthError,
} from '../../src/errors/index.js';

describe('RFC 6750 §3 WWW-Authenticate', () => {
  it('has no error code when the request carried no credentials', () => {
    expect(buildChallenge(new UnauthorizedError(), { realm: 'api' })).toBe('Bearer realm="api"');
  });
  it('names invalid_request and invalid_token with a description', () => {
    expect(buildChallenge(new InvalidRequestError('Two tokens.'), { realm: 'api' })).toBe(
      'Bearer realm="api", error="invalid_request", error_description="Two tokens."',
    );
    expect(buildChallenge(new InvalidTokenError('Expired.'))).toBe('Bearer error="invalid_token", error_description="Expired."');
  });
  it('adds the required scopes for insufficient_scope', () => {
    expect(buildChallenge(new InsufficientScopeError(['read:a', 'admin']), { realm: 'api' })).toBe(
      'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope.", scope="read:a admin"',
    );
  });
  it('never lets a value split or forge the header', () => {
    const header = buildChallenge(new InvalidTokenError('a"b\\c\r\nSet-Cookie: x=1'), { realm: 'r"' });
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toBe('Bearer realm="r", error="invalid_token", error_description="abcSet-Cookie: x=1"');
  });
  it('sends no error code for 5xx answers', () => {
    expect(buildChallenge(new ServiceUnavailableError(), { realm: 'api' })).toBe('Bearer realm="api"');
  });
  it('recognises its errors with status, code and a public description', () => {
    const err = new InvalidTokenError('x', { cause: new Error('secret detail') });
    expect(isAuthError(err)).toBe(true);
    expect(err.toJSON()).toEqual({ error: 'invalid_token', error_description: 'x' });
    expect(err.status).toBe(401);
    expect(isAuthError(new Error('x'))).toBe(false);
  });
});
