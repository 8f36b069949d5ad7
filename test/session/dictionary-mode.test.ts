/**
 * toDictionaryMode() changes how V8 stores a request's properties, never what they hold: the URL
 * Express routes on stays the same string, an own property still, and a request whose `url` is
 * not a plain string is left as it is. (Whether V8 switched modes is not observable from
 * JavaScript without natives syntax; BENCHMARKS.md shows what the switch saves.)
 */
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { toDictionaryMode } from '../../src/util/dictionary-mode.js';

function request(url: string): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.url = url;
  return req;
}

describe('toDictionaryMode', () => {
  it('keeps the URL, query included, as an own property with the same value', () => {
    const req = request('/page?x=1&y=%20');
    const before = Object.keys(req).length;
    toDictionaryMode(req);
    expect(req.url).toBe('/page?x=1&y=%20');
    expect(Object.hasOwn(req, 'url')).toBe(true);
    expect(Object.keys(req)).toHaveLength(before);
    // Still writable as before (Express's router rewrites req.url for mounted paths).
    req.url = '/other';
    expect(req.url).toBe('/other');
  });

  it('leaves a request whose url is not a string alone', () => {
    const req = { url: undefined } as { url?: string };
    toDictionaryMode(req);
    expect(Object.hasOwn(req, 'url')).toBe(true);
    expect(req.url).toBeUndefined();
  });

  it('goes through an inherited accessor rather than replacing it', () => {
    const seen: string[] = [];
    const proto = {
      get url(): string {
        return '/from-accessor';
      },
      set url(value: string) {
        seen.push(value);
      },
    };
    const req = Object.create(proto) as { url?: string };
    toDictionaryMode(req);
    expect(Object.hasOwn(req, 'url')).toBe(false);
    expect(seen).toEqual(['/from-accessor']);
  });
});
