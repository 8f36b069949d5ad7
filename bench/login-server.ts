/**
 * A signed-in page behind the sign-in middleware named by BENCH_VARIANT, in its own process:
 * - none: the page with no authentication (the baseline);
 * - ours: auth() from this package, sessions in Redis (connect-redis 8 through session.redis);
 * - eoidc: express-openid-connect's auth() in code flow, sessions in the same Redis through
 *   connect-redis 8's RedisStore (its `session.store` option).
 * Both sign in at BENCH_ISSUER (bench/login-issuer-server.ts). Keys go under BENCH_PREFIX; the Redis
 * connection is named BENCH_REDIS_NAME (so the parent can find it in MONITOR output).
 *
 * Routes: GET /page answers `{ sub }` of the signed-in user; GET /token (ours) answers a digest of
 * `await req.oidc.getAccessToken()` (refreshing first when needed); GET /__rss answers RSS and heap
 * (`?gc=1` collects garbage first when node runs with --expose-gc). Prints `ready <url>`.
 * With BENCH_CPU_PROFILE=<file>, writes a V8 CPU profile of its whole life there on SIGTERM
 * (open it in Chrome DevTools; NODE_OPTIONS does not accept --cpu-prof).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session as InspectorSession } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { Redis } from 'ioredis';
// The package as users run it: the built JavaScript (`npm run bench` builds first), typed from the sources.
const distEntry = new URL('../dist/esm/index.js', import.meta.url).href;
const { auth } = (await import(distEntry)) as typeof import('../src/index.js');
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_SECRET, REDIS_URL } from './login-shared.js';

const variant = process.env.BENCH_VARIANT ?? 'none';
const issuer = process.env.BENCH_ISSUER!;
const prefix = process.env.BENCH_PREFIX ?? 'bench:login:';
const connectionName = process.env.BENCH_REDIS_NAME ?? `bench-${variant}-${process.pid}`;

const profileFile = process.env.BENCH_CPU_PROFILE;
const inspector = profileFile ? new InspectorSession() : undefined;
if (inspector) {
  inspector.connect();
  await new Promise<void>((resolve, reject) => inspector.post('Profiler.enable', () => inspector.post('Profiler.start', (err) => (err ? reject(err) : resolve()))));
}
async function writeProfile(): Promise<void> {
  if (!inspector || !profileFile) return;
  const profile = await new Promise<unknown>((resolve, reject) =>
    inspector.post('Profiler.stop', (err, result) => (err ? reject(err) : resolve(result.profile))),
  );
  writeFileSync(profileFile, JSON.stringify(profile));
}

const app = express();
const server = createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

app.get('/__rss', (req, res) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (req.query.gc === '1' && gc) gc();
  const { rss, heapUsed } = process.memoryUsage();
  res.json({ rss, heapUsed, gc: Boolean(gc) });
});

const redis = variant === 'none' ? undefined : new Redis(REDIS_URL, { connectionName, maxRetriesPerRequest: 2, enableAutoPipelining: process.env.BENCH_AUTOPIPELINE === '1' });
let closeAuth: (() => Promise<void>) | undefined;

type Sub = (req: Request) => unknown;
let subOf: Sub = () => 'anonymous';

switch (variant) {
  case 'none':
    break;
  case 'floor': {
    // Profiling aid (not in the report): the least a Redis-session page view can do.
    const { readCookie, unsignSessionId } = (await import(new URL('../dist/esm/session/cookie.js', import.meta.url).href)) as typeof import('../src/session/cookie.js');
    app.use((req, res, next) => {
      const id = unsignSessionId(readCookie(req.headers.cookie, process.env.BENCH_FLOOR_COOKIE ?? 'oidc.sid') ?? '', [BENCH_SECRET]);
      if (!id) { res.status(401).end(); return; }
      redis!.get(`${prefix}sess:${id}`, (err, text) => {
        if (err || !text) { res.status(401).end(); return; }
        (req as unknown as { rec: unknown }).rec = JSON.parse(text);
        next();
      });
    });
    subOf = (req) => ((req as unknown as { rec: { oidc: { login: { sub: string } } } }).rec.oidc.login.sub);
    break;
  }
  case 'ours': {
    const router = auth({
      issuerBaseURL: issuer,
      baseURL,
      clientID: BENCH_CLIENT_ID,
      clientSecret: BENCH_CLIENT_SECRET,
      secret: BENCH_SECRET,
      authRequired: true,
      idpLogout: false,
      // BENCH_ROLLING=0: no touch per request (for profiling what the rolling renewal costs).
      // BENCH_LOCAL_CACHE=0: read Redis on every view (session.localCache: false), for comparison.
      session: { redis: redis!, prefix, rolling: process.env.BENCH_ROLLING !== '0', localCache: process.env.BENCH_LOCAL_CACHE !== '0' },
    });
    closeAuth = () => router.close();
    app.use(router);
    subOf = (req) => req.oidc.user?.sub;
    break;
  }
  case 'eoidc': {
    const eoidc = await import('express-openid-connect');
    const { RedisStore } = await import('connect-redis');
    app.use(
      eoidc.auth({
        issuerBaseURL: issuer,
        baseURL,
        clientID: BENCH_CLIENT_ID,
        clientSecret: BENCH_CLIENT_SECRET,
        secret: BENCH_SECRET,
        authRequired: true,
        idpLogout: false,
        enableTelemetry: false,
        idTokenSigningAlg: 'ES256',
        authorizationParams: { response_type: 'code', scope: 'openid profile email' },
        session: { store: new RedisStore({ client: redis!, prefix: `${prefix}sess:` }) as never },
      }) as unknown as RequestHandler,
    );
    subOf = (req) => (req as unknown as { oidc: { user?: { sub?: unknown } } }).oidc.user?.sub;
    break;
  }
  default:
    throw new Error(`unknown BENCH_VARIANT ${variant}`);
}

app.get('/page', (req, res) => {
  res.json({ sub: subOf(req) });
});
app.get('/token', async (req, res) => {
  const token = await req.oidc.getAccessToken();
  res.json({ sub: subOf(req), token: createHash('sha256').update(token).digest('base64url').slice(0, 16) });
});
let reported = 0;
app.use(((err, _req, res, _next) => {
  if (reported++ < 5) process.stderr.write(`[login-server ${variant}] ${(err as Error)?.stack ?? String(err)}\n`);
  res.status((err as { status?: number }).status ?? 500).json({ error: 'error' });
}) as ErrorRequestHandler);

process.stdout.write(`ready ${baseURL}\n`);
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => {
    void (async () => {
      await writeProfile();
      await closeAuth?.();
      await redis?.quit().catch(() => undefined);
      process.exit(0);
    })();
  });
});
