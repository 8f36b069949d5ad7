/**
 * The guard's own cost per repeated token (a verified-token cache hit), without HTTP: the
 * middleware is called synchronously with a bare request whose Authorization header is a fresh
 * string each time (as Node's HTTP parser makes one per request), and the time per call is
 * reported against a middleware that only calls next(). In-process, so it shows nanoseconds
 * that an HTTP benchmark's noise hides.
 *
 * Run: npx tsx bench/micro/guard-repeat.ts [RS256|ES256] [calls=300000] [rounds=5]
 * With BENCH_DIST=<folder of another build's index.js> that build's guard runs too, in rounds
 * interleaved with this checkout's, so an optimisation can be judged in one process.
 */
import type { RequestHandler } from 'express';
import { startBenchIssuer, type Alg } from '../suite/issuer-keys.js';
import { benchRequest, benchResponse, runGuard } from './request.js';
type Package = typeof import('../../src/index.js');
const builds: Record<string, Package> = { ours: (await import(new URL('../../dist/esm/index.js', import.meta.url).href)) as Package };
if (process.env.BENCH_DIST) builds.other = (await import(`file://${process.env.BENCH_DIST}/index.js`)) as Package;

const [alg = 'RS256', callsText = '300000', roundsText = '5'] = process.argv.slice(2);
const calls = Number(callsText);
const rounds = Number(roundsText);
const issuer = await startBenchIssuer();
const token = await issuer.mint(alg as Alg);
const guards: Record<string, RequestHandler> = {};
for (const [name, build] of Object.entries(builds)) {
  guards[name] = build.requireBearer({
    issuer: issuer.issuer,
    jwksUri: `${issuer.issuer}/jwks`,
    audience: issuer.audience,
    algorithms: ['RS256', 'ES256'],
  });
  await runGuard(guards[name]!, token);
}
const none: RequestHandler = (_req, _res, next) => next();
const res = benchResponse(() => {
  throw new Error('refused');
});

function measure(mw: RequestHandler): number {
  let passed = 0;
  const next = (err?: unknown): void => {
    if (err) throw err as Error;
    passed += 1;
  };
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i += 1) {
    // A new string per request, whose hash V8 has not computed yet.
    const authorization = `Bearer ${token}${i & 1 ? '' : ' '}`.trimEnd();
    mw(benchRequest(authorization), res, next);
  }
  const ns = Number(process.hrtime.bigint() - t0) / calls;
  if (passed !== calls) throw new Error(`only ${passed} of ${calls} passed`);
  return ns;
}

const results: Record<string, number[]> = { none: [] };
for (const name of Object.keys(guards)) results[name] = [];
measure(none);
for (const g of Object.values(guards)) measure(g);
for (let r = 0; r < rounds; r += 1) {
  results.none!.push(measure(none));
  for (const [name, g] of Object.entries(guards)) results[name]!.push(measure(g));
}
const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
const base = med(results.none!);
const own = Object.keys(guards).map((name) => `${name} ${(med(results[name]!) - base).toFixed(0)}`);
process.stdout.write(
  `${alg} repeat, the guard's own ns per call (median of ${rounds} rounds, a bare next() ${base.toFixed(0)} ns subtracted): ${own.join(', ')}\n`,
);
await issuer.close();
process.exit(0);
