/**
 * A signed-in page behind the sign-in middleware named by BENCH_VARIANT, in its own process:
 * - none: the page with no authentication (the baseline);
 * - ours: auth() from this package, sessions in Redis (connect-redis 8 through session.redis);
 * - eoidc: express-openid-connect's auth() in code flow, sessions in the same Redis through
 *   connect-redis 8's RedisStore (its `session.store` option);
 * - exsess: express-session with connect-redis 8 on the same Redis (no OpenID Connect: the session
 *   is seeded by GET /__seed), the session layer most Express apps use, for page views only.
 * Both sign in at BENCH_ISSUER (bench/servers/login-issuer-server.ts). Keys go under BENCH_PREFIX; the Redis
 * connection is named BENCH_REDIS_NAME (so the parent can find it in MONITOR output).
 *
 * Routes: GET /page answers `{ sub }` of the signed-in user; GET /token (ours) answers a digest of
 * `await req.oidc.getAccessToken()` (refreshing first when needed); the control routes (GET /__cpu,
 * GET /__rss, BENCH_CPU_PROFILE) are in ./control.ts. Prints `ready <url>`.
 */
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { mountControl, timeLayer, writeProfile } from './control.js';
import { Redis } from 'ioredis';
// The package as users run it: the built JavaScript (`npm run bench` builds first), typed from the sources.
// BENCH_DIST: another build's entry (an absolute path), for A/B rounds of two builds (bench/micro/ab-login.ts).
const distEntry = process.env.BENCH_DIST
  ? new URL(`file://${process.env.BENCH_DIST}`).href
  : new URL('../../dist/esm/index.js', import.meta.url).href;
const { auth } = (await import(distEntry)) as typeof import('../../src/index.js');
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_SECRET, REDIS_URL } from '../suite/login-shared.js';

const variant = process.env.BENCH_VARIANT ?? 'none';
const issuer = process.env.BENCH_ISSUER!;
const prefix = process.env.BENCH_PREFIX ?? 'bench:login:';
const connectionName = process.env.BENCH_REDIS_NAME ?? `bench-${variant}-${process.pid}`;

const app = express();
const server = createServer(app);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

mountControl(app);

const redis =
  variant === 'none' || variant === 'floor'
    ? undefined
    : new Redis(REDIS_URL, { connectionName, maxRetriesPerRequest: 2, enableAutoPipelining: process.env.BENCH_AUTOPIPELINE === '1' });
let closeAuth: (() => Promise<void>) | undefined;

type Sub = (req: Request) => unknown;

/** What the `floor-redis` variant adds to `floor`: the store and the ID token check the mission asks of a sign-in. */
interface Durable {
  redis: Redis;
  /** Whether the ID token's signature verifies with the issuer's key (one crypto.verify). */
  signatureOk(idToken: string): boolean;
}

/** The ES256 key of the bench issuer's JWKS, for `floor-redis`'s one signature check. */
async function idTokenChecker(): Promise<Durable['signatureOk']> {
  const { keys } = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: Array<Record<string, unknown>> };
  const key = createPublicKey({ key: keys[0] as never, format: 'jwk' });
  return (idToken) => {
    const dot = idToken.lastIndexOf('.');
    return verify(
      'sha256',
      Buffer.from(idToken.slice(0, dot)),
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(idToken.slice(dot + 1), 'base64url'),
    );
  };
}

/**
 * The `floor` and `floor-redis` variants' routes (see their case below); answers how a page finds
 * its user. With `durable`, the sign-in state lives in Redis (SET with a TTL, one GETDEL) and so
 * does the session (one SET; pages read this process's copy, as ours does from its local cache),
 * and the ID token's signature is checked: three Redis commands and one verify per sign-in.
 */
function mountFloor(on: express.Express, durable?: Durable): Sub {
  const transactions = new Map<string, { verifier: string }>();
  const sessions = new Map<string, { sub: unknown }>();
  const redirectUri = `${baseURL}/callback`;
  const basic = `Basic ${Buffer.from(`${BENCH_CLIENT_ID}:${BENCH_CLIENT_SECRET}`).toString('base64')}`;
  const cookieOf = (req: Request, name: string) => {
    const header = req.headers.cookie ?? '';
    const at = header.indexOf(`${name}=`);
    return at === -1 ? undefined : header.slice(at + name.length + 1).split(';', 1)[0];
  };
  on.get('/login', async (_req, res) => {
    const state = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    if (durable) await durable.redis.set(`${prefix}floor:tx:${state}`, verifier, 'EX', 600);
    else transactions.set(state, { verifier });
    const url = new URL(`${issuer}/authorize`);
    url.search = new URLSearchParams({
      client_id: BENCH_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid',
      state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    res.cookie('floor_tx', state, { httpOnly: true, sameSite: 'lax' }).redirect(url.href);
  });
  on.get('/callback', async (req, res, next) => {
    try {
      const state = cookieOf(req, 'floor_tx');
      let tx: { verifier: string } | undefined;
      if (state !== undefined && req.query.state === state) {
        if (durable) {
          const verifier = await durable.redis.getdel(`${prefix}floor:tx:${state}`);
          tx = verifier === null ? undefined : { verifier };
        } else {
          tx = transactions.get(state);
          transactions.delete(state);
        }
      }
      if (!tx) return void res.status(400).end();
      const answer = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: String(req.query.code),
          redirect_uri: redirectUri,
          code_verifier: tx.verifier,
        }),
      });
      const tokens = (await answer.json()) as { id_token: string };
      if (durable && !durable.signatureOk(tokens.id_token)) return void res.status(401).end();
      const payload = JSON.parse(Buffer.from(tokens.id_token.split('.')[1]!, 'base64url').toString()) as { sub: unknown };
      const id = randomBytes(24).toString('base64url');
      sessions.set(id, { sub: payload.sub });
      if (durable) await durable.redis.set(`${prefix}floor:s:${id}`, JSON.stringify({ sub: payload.sub }), 'EX', 3600);
      res.clearCookie('floor_tx').cookie('floor_sid', id, { httpOnly: true, sameSite: 'lax' }).redirect('/page');
    } catch (err) {
      next(err);
    }
  });
  return (req) => {
    const id = cookieOf(req, 'floor_sid');
    return id === undefined ? undefined : sessions.get(id)?.sub;
  };
}
let subOf: Sub = () => 'anonymous';

// What both sign-in variants are configured with alike.
const client = {
  issuerBaseURL: issuer,
  baseURL,
  clientID: BENCH_CLIENT_ID,
  clientSecret: BENCH_CLIENT_SECRET,
  secret: BENCH_SECRET,
  authRequired: true,
  idpLogout: false,
};

switch (variant) {
  case 'none':
    break;
  case 'ours': {
    const router = auth({
      ...client,
      // BENCH_ROLLING=0: no touch per request (for profiling what the rolling renewal costs).
      // BENCH_LOCAL_CACHE=0: read Redis on every view (session.localCache: false), for comparison.
      session: { redis: redis!, prefix, rolling: process.env.BENCH_ROLLING !== '0', localCache: process.env.BENCH_LOCAL_CACHE !== '0' },
    });
    closeAuth = () => router.close();
    // The auth() layer timed in place (a page view from the local cache never waits; see timeLayer()).
    app.use(timeLayer(router));
    subOf = (req) => req.oidc.user?.sub;
    break;
  }
  case 'eoidc': {
    const eoidc = await import('express-openid-connect');
    const { RedisStore } = await import('connect-redis');
    app.use(
      eoidc.auth({
        ...client,
        enableTelemetry: false,
        idTokenSigningAlg: 'ES256',
        authorizationParams: { response_type: 'code', scope: 'openid profile email' },
        session: { store: new RedisStore({ client: redis!, prefix: `${prefix}sess:` }) as never },
      }) as unknown as RequestHandler,
    );
    subOf = (req) => (req as unknown as { oidc: { user?: { sub?: unknown } } }).oidc.user?.sub;
    break;
  }
  case 'exsess': {
    const { default: session } = await import('express-session');
    const { RedisStore } = await import('connect-redis');
    app.use(
      session({
        store: new RedisStore({ client: redis!, prefix: `${prefix}sess:` }),
        secret: BENCH_SECRET,
        resave: false,
        saveUninitialized: false,
        rolling: false,
        name: 'sid',
      }),
    );
    app.get('/__seed', (req, res) => {
      (req.session as unknown as { sub: string }).sub = `user-${process.pid}`;
      res.json({ ok: true });
    });
    app.use('/page', (req, res, next) => {
      if ((req.session as unknown as { sub?: string }).sub) next();
      else res.redirect('/login');
    });
    subOf = (req) => (req.session as unknown as { sub?: string }).sub;
    break;
  }
  case 'floor': {
    // Not a sign-in library: the least any code-flow sign-in with a server-side session does on
    // this stack, measured the same way as the two above. Everything it leaves out makes it
    // cheaper than any real one: sessions and transactions in a Map (no Redis, no sealing), the
    // ID token's payload read without checking its signature (allowed when it comes straight from
    // the token endpoint, OIDC Core §3.1.3.7, but neither library does that), no expiry, no
    // rolling renewal, no nonce, no claims checks; what it keeps is what the protocol makes every
    // client do: a state and PKCE pair, the redirect, one token request over HTTP, a session
    // cookie, and the cookie read back on each page.
    subOf = mountFloor(app);
    break;
  }
  case 'floor-redis':
    // `floor` with what the mission asks of any sign-in: its state and session in Redis, the ID
    // token's signature checked (still no sealing, no claims checks, no rolling renewal).
    subOf = mountFloor(app, { redis: redis!, signatureOk: await idTokenChecker() });
    break;
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
