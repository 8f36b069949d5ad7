/**
 * One protected route behind the guard named by BENCH_VARIANT, in its own process:
 * - none: the route unprotected (the baseline);
 * - ours: requireBearer() from this package;
 * - eojb: express-oauth2-jwt-bearer's auth();
 * - expressjwt: express-jwt with jwks-rsa;
 * - noop: a middleware that only calls next(), the floor any guard starts from (one more
 *   handler in the route's stack);
 * - hashauth: the least a guard with a hashed verified-token cache does for a repeated token: the
 *   header read, the query looked at, one SHA-256 of the token and `req.auth` set (no lookup);
 * - lookupauth: the least any guard with a cache does for a repeated token, if it kept raw
 *   tokens: the header read, the query looked at, one Map lookup keyed by the token itself (the
 *   first request of a token adds it) and `req.auth` set;
 * - verifyauth: the least any guard does for a first-seen token: the header read, the query
 *   looked at, the JWS header decoded for its `kid`, one `crypto.verify()` of the signature and
 *   `req.auth` set (no claims, no cache).
 * The last two are not guards (they check nothing else): they are floors, measured the same
 * way, that show what Express and node:crypto cost around any guard on this machine.
 * Prints `ready <url>`; the control routes (GET /__cpu, GET /__rss, POST /__verify) are in
 * ./control.ts.
 */
import { createPublicKey, hash, verify, type KeyObject } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { mountControl, timeLayer, writeProfile } from './control.js';
// The package as users run it: the built JavaScript (`npm run bench` builds first), typed from the sources.
const { requireBearer } = (await import(new URL('../../dist/esm/index.js', import.meta.url).href)) as typeof import('../../src/index.js');

const variant = process.env.BENCH_VARIANT ?? 'none';
const issuer = process.env.BENCH_ISSUER!;
const audience = process.env.BENCH_AUDIENCE!;
const jwksUri = `${issuer}/jwks`;
const algorithms = ['RS256', 'ES256'];

/** What a floor variant puts on `req.auth`: one shared object (a guard would make one per request). */
const FLOOR_AUTH = Object.freeze({ payload: Object.freeze({}) });

function headerToken(req: express.Request): string | undefined {
  const value = req.headers.authorization;
  if (req.originalUrl.includes('?') || value === undefined || !value.startsWith('Bearer ')) return undefined;
  return value.slice(7);
}

async function verifyFloor(): Promise<RequestHandler> {
  const { keys } = (await (await fetch(jwksUri)).json()) as { keys: Array<Record<string, unknown> & { kid: string; alg: string }> };
  const byKid = new Map<string, { key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' } }>();
  for (const jwk of keys) {
    const key = createPublicKey({ key: jwk as never, format: 'jwk' });
    byKid.set(jwk.kid, { key: jwk.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key });
  }
  return (req, res, next) => {
    const token = headerToken(req);
    const dot = token?.indexOf('.') ?? -1;
    const last = token?.lastIndexOf('.') ?? -1;
    const kid = dot > 0 ? (JSON.parse(Buffer.from(token!.slice(0, dot), 'base64url').toString()) as { kid?: string }).kid : undefined;
    const known = kid === undefined ? undefined : byKid.get(kid);
    if (!known || !verify('sha256', Buffer.from(token!.slice(0, last)), known.key, Buffer.from(token!.slice(last + 1), 'base64url'))) {
      res.status(401).end();
      return;
    }
    req.auth = FLOOR_AUTH as never;
    next();
  };
}

async function guard(): Promise<RequestHandler | undefined> {
  switch (variant) {
    case 'hashauth':
      return (req, res, next) => {
        const token = headerToken(req);
        if (token === undefined || hash('sha256', token, 'base64url').length !== 43) {
          res.status(401).end();
          return;
        }
        req.auth = FLOOR_AUTH as never;
        next();
      };
    case 'lookupauth': {
      const seen = new Map<string, typeof FLOOR_AUTH>();
      return (req, res, next) => {
        const token = headerToken(req);
        if (token === undefined) {
          res.status(401).end();
          return;
        }
        let auth = seen.get(token);
        if (auth === undefined) seen.set(token, (auth = FLOOR_AUTH));
        req.auth = auth as never;
        next();
      };
    }
    case 'verifyauth':
      return verifyFloor();
    case 'none':
      return undefined;
    case 'noop':
      return (_req, _res, next) => next();
    case 'ours':
      return requireBearer({ issuer, jwksUri, audience, algorithms });
    case 'eojb': {
      const { auth } = await import('express-oauth2-jwt-bearer');
      return auth({ issuer, jwksUri, audience, tokenSigningAlg: undefined }) as unknown as RequestHandler;
    }
    case 'expressjwt': {
      const { expressjwt } = await import('express-jwt');
      const jwksRsa = await import('jwks-rsa');
      return expressjwt({
        secret: jwksRsa.expressJwtSecret({ jwksUri, cache: true, cacheMaxEntries: 10, rateLimit: true }) as never,
        audience,
        issuer,
        algorithms: algorithms as never,
      }) as unknown as RequestHandler;
    }
    default:
      throw new Error(`unknown BENCH_VARIANT ${variant}`);
  }
}

const app = express();
mountControl(app);
// Every guard, the next()-only floor included, timed in place (see timeLayer()).
const bare = await guard();
const g = bare && timeLayer(bare);
const handler: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};
if (g) app.get('/api', g, handler);
else app.get('/api', handler);
app.use(((err, _req, res, _next) => {
  res.status((err as { status?: number }).status ?? 500).json({ error: 'error' });
}) as express.ErrorRequestHandler);

const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address() as { port: number };
  process.stdout.write(`ready http://127.0.0.1:${addr.port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void writeProfile().then(() => process.exit(0)));
});
