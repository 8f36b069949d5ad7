/**
 * One protected route behind the guard named by BENCH_VARIANT, in its own process:
 * - none: the route unprotected (the baseline);
 * - ours: requireBearer() from this package;
 * - eojb: express-oauth2-jwt-bearer's auth();
 * - expressjwt: express-jwt with jwks-rsa;
 * - noop: a middleware that only calls next(), the floor any guard starts from (one more
 *   handler in the route's stack).
 * Prints `ready <url>`; the control routes (GET /__cpu, GET /__rss, POST /__verify) are in
 * ./control.ts.
 */
import express, { type RequestHandler } from 'express';
import { mountControl, writeProfile } from './control.js';
// The package as users run it: the built JavaScript (`npm run bench` builds first), typed from the sources.
const { requireBearer } = (await import(new URL('../../dist/esm/index.js', import.meta.url).href)) as typeof import('../../src/index.js');

const variant = process.env.BENCH_VARIANT ?? 'none';
const issuer = process.env.BENCH_ISSUER!;
const audience = process.env.BENCH_AUDIENCE!;
const jwksUri = `${issuer}/jwks`;
const algorithms = ['RS256', 'ES256'];

async function guard(): Promise<RequestHandler | undefined> {
  switch (variant) {
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
const g = await guard();
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
