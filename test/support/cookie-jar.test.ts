import { CookieJar } from './cookie-jar.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('the one cookie jar (RFC 6265, what the tests need)', () => {
  it('sends a cookie to its path and below it, not to a sibling sharing the prefix', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['a=1; Path=/auth']);
    expect(jar.header('http://app.test/auth')).toBe('a=1');
    expect(jar.header('http://app.test/auth/callback')).toBe('a=1');
    expect(jar.header('http://app.test/authority')).toBeUndefined();
    expect(jar.header('http://app.test/')).toBeUndefined();
  });

  it("defaults the path to the request's directory when Path is absent or not absolute", () => {
    const jar = new CookieJar();
    jar.store('http://app.test/interaction/abc/login', ['a=1', 'b=2; Path=relative']);
    expect(jar.header('http://app.test/interaction/abc/confirm')).toBe('a=1; b=2');
    expect(jar.header('http://app.test/interaction/other')).toBeUndefined();
  });

  it('puts the longer path first, then the older cookie; a replaced cookie keeps its place', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['x=1; Path=/', 'y=1; Path=/', 'z=1; Path=/a/b']);
    jar.store('http://app.test/', ['x=2; Path=/']);
    expect(jar.header('http://app.test/a/b/c')).toBe('z=1; x=2; y=1');
  });

  it('keeps one cookie per name and path', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['s=root; Path=/', 's=deep; Path=/deep']);
    expect(jar.header('http://app.test/deep')).toBe('s=deep; s=root');
    expect(jar.header('http://app.test/')).toBe('s=root');
  });

  it('deletes on Max-Age=0, a past Expires or an empty value, and only at the same path', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['a=1; Path=/', 'b=1; Path=/', 'c=1; Path=/', 'd=1; Path=/'], T0);
    jar.store(
      'http://app.test/',
      ['a=x; Path=/; Max-Age=0', 'b=x; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'c=; Path=/', 'd=; Path=/other'],
      T0,
    );
    expect(jar.header('http://app.test/')).toBe('d=1');
  });

  it('lets Max-Age win over Expires, and forgets a cookie once its time is up', () => {
    const jar = new CookieJar();
    jar.store(
      'http://app.test/',
      ['a=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT', 'b=1; Max-Age=0; Expires=Fri, 01 Jan 2100 00:00:00 GMT'],
      T0,
    );
    expect(jar.matching('http://app.test/', T0 + 59_000).map((c) => c.name)).toEqual(['a']);
    expect(jar.matching('http://app.test/', T0 + 60_000)).toEqual([]);
  });

  it('keeps and sends Secure cookies only over https or to a loopback host', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['plain=1; Secure']);
    expect(jar.header('http://app.test/')).toBeUndefined();
    jar.store('https://app.test/', ['s=1; Secure']);
    expect(jar.header('https://app.test/')).toBe('s=1');
    expect(jar.header('http://app.test/')).toBeUndefined();
    jar.store('http://127.0.0.1:3000/', ['s=1; Secure']);
    jar.store('http://localhost:3000/', ['s=1; Secure']);
    expect(jar.header('http://127.0.0.1:3000/')).toBe('s=1');
    expect(jar.header('http://localhost:3000/')).toBe('s=1');
  });

  it('ignores the port by default; perPort keeps apps on one host apart until shareCookies joins two', () => {
    const byHost = new CookieJar();
    byHost.store('http://127.0.0.1:1001/', ['a=1']);
    expect(byHost.header('http://127.0.0.1:1002/')).toBe('a=1');

    const byPort = new CookieJar({ perPort: true });
    byPort.store('http://127.0.0.1:1001/', ['a=1']);
    expect(byPort.header('http://127.0.0.1:1002/')).toBeUndefined();
    byPort.shareCookies('http://127.0.0.1:1001', 'http://127.0.0.1:1002');
    byPort.store('http://127.0.0.1:1002/', ['b=2']);
    expect(byPort.header('http://127.0.0.1:1001/')).toBe('a=1; b=2');
  });

  it('sends only SameSite=None cookies with a cross-site POST', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['lax=1', 'strict=1; SameSite=Strict', 'none=1; SameSite=None']);
    expect(jar.header('http://app.test/', { crossSitePost: true })).toBe('none=1');
  });

  it('clones into an independent jar', () => {
    const jar = new CookieJar();
    jar.store('http://app.test/', ['a=1']);
    const copy = jar.clone();
    jar.store('http://app.test/', ['a=; Max-Age=0']);
    expect(copy.get('http://app.test/', 'a')).toBe('1');
    expect(jar.get('http://app.test/', 'a')).toBeUndefined();
  });
});
