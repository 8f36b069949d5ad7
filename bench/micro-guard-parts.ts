/**
 * Where our first-seen path spends its CPU, part by part, in process (no HTTP): the whole
 * middleware, `verifyUncached()`, and the pieces around the signature check (token extraction,
 * the cache key, the lookup that misses, the parse, the insert into a full cache). Each part runs
 * alone over first-seen tokens; CPU is the whole process's (all threads). Compare with
 * bench/micro-guard-first-seen.ts (ours against eojb).
 *
 * Run: npx tsx bench/micro-guard-parts.ts [amount=5000] [RS256|ES256]
 */
import { verify as nodeVerify, createPublicKey } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { startBenchIssuer, type Alg } from './issuer-keys.js';
import { runGuard } from './micro-request.js';
import { requireBearer } from '../src/index.js';
import { extractAccessToken } from '../src/bearer/extract.js';
import { parsePlainJws } from '../src/bearer/jws-fast.js';
import type { BearerAuth } from '../src/bearer/types.js';
import type { InternalBearerVerifier } from '../src/bearer/verifier.js';

const [amountText = '5000', algText = 'RS256'] = process.argv.slice(2);
const amount = Number(amountText);
const alg = algText as Alg;
const issuer = await startBenchIssuer();
const jwksUri = `${issuer.issuer}/jwks`;
const guard = requireBearer({ issuer: issuer.issuer, jwksUri, audience: issuer.audience, algorithms: ['RS256', 'ES256'] });
const verifier = guard.verifier as InternalBearerVerifier;


const mint = (n: number) => Promise.all(Array.from({ length: n }, () => issuer.mint(alg)));

/** Times `fn` over `amount` first-seen tokens (each first put through `prepare`, untimed), `inflight` at a time. */
async function part<T>(name: string, prepare: (token: string) => Promise<T> | T, fn: (input: T) => unknown, inflight = 1): Promise<void> {
  const inputs = await Promise.all((await mint(amount)).map(prepare));
  for (const input of await Promise.all((await mint(200)).map(prepare))) await fn(input);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: inflight }, async () => {
    while (next < inputs.length) await fn(inputs[next++]!);
  }));
  const cpu = process.cpuUsage(cpu0);
  const per = (cpu.user + cpu.system) / inputs.length;
  process.stdout.write(`${name.padEnd(44)} ${per.toFixed(1).padStart(6)} µs CPU ${(((performance.now() - t0) * 1000) / inputs.length).toFixed(1).padStart(6)} µs wall\n`);
}
const same = (token: string) => token;

// Fill the cache first, as under load (the HTTP bench sends more first-seen tokens than it keeps).
for (let i = 0; i < 3; i += 1) await Promise.all((await mint(4000)).map((t) => runGuard(guard, t)));
process.stdout.write(`${alg}, ${amount} first-seen tokens per part, cache size ${verifier.cache?.size}\n`);
await part('middleware, 20 in flight', same, (t) => runGuard(guard, t), 20);
await part('middleware, sequential', same, (t) => runGuard(guard, t));
await part('verifyUncached, 20 in flight', same, (t) => verifier.verifyUncached(t), 20);
await part('extractAccessToken', same, (t) => extractAccessToken({ headers: { authorization: `Bearer ${t}` }, query: '' }, { allowFormBody: false, dpop: true }));
await part('cache key (SHA-256)', same, (t) => verifier.cacheKey(t));
await part('cache lookup that misses (key given)', (t) => ({ t, key: verifier.cacheKey(t) }), ({ t, key }) => verifier.cached(t, key));
await part('parsePlainJws', same, (t) => parsePlainJws(t));
await part(
  'cache insert (full cache, key given)',
  async (t) => ({ auth: (await verifier.verifyFast(t)) as BearerAuth, key: verifier.cacheKey(t) }),
  ({ auth, key }) => verifier.cache!.set(auth, Date.now() + 60_000, Date.now(), key),
);
await part('verifyFast (threadpool), 20 in flight', same, (t) => verifier.verifyFast(t), 20);
const jwk = ((await (await fetch(jwksUri)).json()) as { keys: Array<{ alg: string }> }).keys.find((k) => k.alg === alg);
const key = createPublicKey({ key: jwk as never, format: 'jwk' });
await part('node:crypto verify() only (sync)', same, (t) => {
  const dot = t.lastIndexOf('.');
  return nodeVerify('sha256', Buffer.from(t.slice(0, dot)), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(t.slice(dot + 1), 'base64url'));
});
await issuer.close();
process.exit(0);
