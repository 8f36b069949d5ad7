import { safeReturnTo } from '../../src/login/return-to.js';

describe('safeReturnTo (RFC 9700 §4.11 open redirectors)', () => {
  it.each([
    ['/', '/'],
    ['/profile', '/profile'],
    ['/orders?page=2&sort=desc', '/orders?page=2&sort=desc'],
    ['/a/b#section', '/a/b#section'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/caf%C3%A9', '/caf%C3%A9'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    ['an absolute URL', 'https://evil.example/'],
    ['a scheme-relative URL', '//evil.example'],
    ['a scheme-relative URL with a path', '//evil.example/profile'],
    ['a backslash host', '/\\evil.example'],
    ['two backslashes', '\\\\evil.example'],
    ['a backslash later in the path', '/a\\b'],
    ['javascript:', 'javascript:alert(1)'],
    ['data:', 'data:text/html,<script>alert(1)</script>'],
    ['a relative path', 'profile'],
    ['a dot path', './profile'],
    ['a dot-segment that normalises to //host', '/.//evil.example'],
    ['a tab', '/\t/evil.example'],
    ['a newline (header splitting)', '/a\r\nSet-Cookie: x=1'],
    ['a NUL', '/a\u0000b'],
    ['a leading space', ' /profile'],
    ['an empty string', ''],
    ['a non-breaking space', '/\u00a0/evil.example'],
    ['a very long value', `/${'a'.repeat(3000)}`],
  ])('refuses %s', (_name, input) => {
    expect(safeReturnTo(input)).toBeUndefined();
  });

  it.each([[undefined], [null], [42], [['/a', '/b']], [{ path: '/' }]])(
    'refuses the non-string %p (repeated or nested query parameters)',
    (input) => {
      expect(safeReturnTo(input)).toBeUndefined();
    },
  );
});
