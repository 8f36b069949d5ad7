/**
 * ARCHITECTURE.md, "Performance shortcuts": the guard puts a request in V8's dictionary mode
 * before it sets `req.auth` (src/util/dictionary-mode.ts). With the shortcut and without it
 * (`shortcuts.dictionaryMode = false`), the same requests get the same answers and the app sees
 * the same `req.auth` and URL. That the switch takes effect shows in the order of the request's
 * own keys: the shortcut sets `url` again, after the properties Express added.
 */
import express, { type Request } from 'express';
import request from 'supertest';
import { requireBearer, requiredScopes } from '../../src/bearer/middleware.js';
import { shortcuts, withShortcuts } from '../../src/config/shortcuts.js';
import { startJwksServer, type JwksServer } from '../support/jwks-server.js';
import { mintToken } from '../support/tokens.js';
import { AUDIENCE, memoryLogger } from './fixtures.js';

let jwks: JwksServer;
beforeAll(async () => {
  jwks = await startJwksServer({ algorithms: ['RS256', 'ES256'] });
});
afterAll(async () => {
  await jwks.close();
});

const mint = (alg: 'RS256' | 'ES256', claims: Record<string, unknown>) =>
  mintToken({ key: jwks.keys.find((k) => k.alg === alg)!, issuer: jwks.issuer, audience: AUDIENCE, claims });

/** An API whose answer shows what the guard left on the request. */
function api(): express.Express {
  const guard = requireBearer({ issuer: jwks.issuer, jwksUri: jwks.jwksUri, audience: AUDIENCE, logger: memoryLogger() });
  const app = express();
  const echo = (req: Request, res: express.Response) => {
    const keys = Object.keys(req);
    res.json({
      sub: req.auth?.payload.sub,
      scopes: req.auth?.scopes,
      url: req.url,
      originalUrl: req.originalUrl,
      query: req.query,
      urlAfterMethod: keys.indexOf('url') > keys.indexOf('method'),
    });
  };
  app.get('/api/me', guard, echo);
  app.get('/api/admin', guard, requiredScopes('admin'), echo);
  return app;
}

it('answers the same requests the same way with the shortcut and without it', async () => {
  const on = api();
  const off = withShortcuts({ dictionaryMode: false }, api);
  expect(shortcuts.dictionaryMode).toBe(true);
  const reader = await mint('ES256', { sub: 'reader', scope: 'read' });
  const rsa = await mint('RS256', { sub: 'rsa-reader', scope: 'read write' });
  const requests: Array<[string, string | undefined]> = [
    ['/api/me?x=1', reader], // first seen
    ['/api/me?x=1', reader], // from the cache
    ['/api/me', rsa],
    ['/api/me', rsa],
    ['/api/admin', reader], // refused after the guard: 403
    ['/api/me', undefined], // no credentials: 401
    ['/api/me', `${reader}x`], // a bad signature: 401
  ];
  const answers = { on: [] as unknown[], off: [] as unknown[] };
  const order = { on: [] as boolean[], off: [] as boolean[] };
  for (const [path, token] of requests) {
    for (const [name, app] of [
      ['on', on],
      ['off', off],
    ] as const) {
      const test = request(app).get(path);
      const res = await (token === undefined ? test : test.set('authorization', `Bearer ${token}`));
      const { urlAfterMethod, ...body } = (res.body ?? {}) as { urlAfterMethod?: boolean };
      answers[name].push({ status: res.status, body, challenge: res.headers['www-authenticate'] });
      if (urlAfterMethod !== undefined) order[name].push(urlAfterMethod);
    }
  }
  expect(answers.on).toEqual(answers.off);
  // The table bites: accepted (first-seen and cached), refused for scope, missing and bad tokens.
  expect(answers.off.map((a) => (a as { status: number }).status)).toEqual([200, 200, 200, 200, 403, 401, 401]);
  expect(answers.off[0]).toMatchObject({ body: { sub: 'reader', url: '/api/me?x=1', query: { x: '1' } } });
  // The switch took effect: with it, `url` was set again after the guard accepted the token.
  expect(order.on).toEqual([true, true, true, true]);
  expect(order.off).toEqual([false, false, false, false]);
});
