/**
 * One protected route behind the guard named by BENCH_VARIANT, in its own process:
 * - none: the route unprotected (the baseline);
 * - ours: requireBearer() from this package;
 * - eojb: express-oauth2-jwt-bearer's auth();
 * - expressjwt: express-jwt with jwks-rsa;
 * - noop: a middleware that only calls next(), the floor any guard starts from (one more
 *   handler in the route's stack).
 * Prints `ready <url>`; GET /__rss answers the process RSS in bytes (for the memory figures), GET
 * /__cpu the process CPU time in µs.
 */
import express, { type RequestHandler } from 'express';
// The package as users run it: the built JavaScript (`npm run bench` builds first), typed from the sources.
const { requireBearer } = (await import(new URL('../dist/esm/index.js', import.meta.url).href)) as typeof import('../src/index.js');

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
app.get('/__rss', (_req, res) => {
  res.json({ rss: process.memoryUsage().rss });
});
// CPU time this process used so far (all threads, so WebCrypto's threadpool counts), in µs: the
// parent divides a delta by the requests sent, a figure less disturbed by a busy machine than req/s.
app.get('/__cpu', (_req, res) => {
  const { user, system } = process.cpuUsage();
  res.json({ micros: user + system });
});
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
process.on('SIGTERM', () => server.close(() => process.exit(0)));
