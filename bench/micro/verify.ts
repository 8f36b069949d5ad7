/**
 * Micro-benchmark of one first-seen JWT check, in process (no HTTP): jose 6 `jwtVerify` (WebCrypto,
 * as our guard uses it), jose 4.15 `jwtVerify` (the copy inside express-oauth2-jwt-bearer, which
 * verifies with node:crypto's `verify()` on a KeyObject, with a callback: on libuv's threadpool),
 * a bare synchronous node:crypto `verify()`, our `verifyAccessToken()` (jose 6) and our fast path
 * (src/bearer/jws-fast.ts) with the signature checked inline and on the threadpool. CPU is the
 * whole process's (all threads). Each is run sequentially (one await at a time) and with 20 checks in
 * flight (as under 20 HTTP connections).
 *
 * Run: npx tsx bench/micro/verify.ts [amount]
 */
import { createPublicKey, verify as nodeVerify, KeyObject, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemoteKeySet } from '../../src/issuer/jwks.js';
import { acceptPlainJws, acceptPlainJwsLater, parsePlainJws } from '../../src/bearer/jws-fast.js';
import { verifyAccessToken, type JwtVerifyConfig } from '../../src/bearer/verify.js';

const require = createRequire(import.meta.url);
const jose4 = require('../../node_modules/express-oauth2-jwt-bearer/node_modules/jose') as typeof import('jose');
const AMOUNT = Number(process.argv[2] ?? 4000);
const INFLIGHT = 20;
const issuer = 'https://issuer.bench.example';
const audience = 'https://api.bench.example';

/** CPU time of the whole process (all threads, so WebCrypto's threadpool counts) since `from`, in µs. */
function cpuMicros(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}

type Check = (token: string) => Promise<unknown> | unknown;

async function time(name: string, tokens: string[], check: Check): Promise<void> {
  // warm-up
  for (let i = 0; i < 200; i += 1) await check(tokens[i % tokens.length]!);
  let t = performance.now();
  let cpu = process.cpuUsage();
  for (const token of tokens) await check(token);
  const seq = tokens.length / ((performance.now() - t) / 1000);
  const seqCpu = cpuMicros(cpu) / tokens.length;
  t = performance.now();
  cpu = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < tokens.length) await check(tokens[next++]!);
    }),
  );
  const par = tokens.length / ((performance.now() - t) / 1000);
  const parCpu = cpuMicros(cpu) / tokens.length;
  const f = (n: number) => Math.round(n).toString().padStart(6);
  process.stdout.write(
    `${name.padEnd(46)} sequential ${f(seq)}/s ${f(seqCpu)} µs CPU | ${INFLIGHT} in flight ${f(par)}/s ${f(parCpu)} µs CPU\n`,
  );
}

for (const alg of ['RS256', 'ES256'] as const) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg, use: 'sig' };
  const tokens = await Promise.all(
    Array.from({ length: AMOUNT }, () =>
      new SignJWT({ scope: 'read:bench', client_id: 'bench' })
        .setProtectedHeader({ alg, kid: `k-${alg}`, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject('user-1')
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey),
    ),
  );
  const options = { issuer, audience, algorithms: [alg], clockTolerance: 5 };
  const jwks6 = createLocalJWKSet({ keys: [jwk] });
  const jwks4 = jose4.createLocalJWKSet({ keys: [jwk] } as never);
  const keyObject: KeyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
  process.stdout.write(`\n${alg} (${AMOUNT} tokens)\n`);
  await time('jose 6 jwtVerify (local JWKS, WebCrypto)', tokens, (t) => jwtVerify(t, jwks6, options));
  await time('jose 4.15 jwtVerify (local JWKS, KeyObject)', tokens, (t) => jose4.jwtVerify(t, jwks4 as never, options));
  await time('node:crypto verify() only (sync)', tokens, (t) => {
    const dot = t.lastIndexOf('.');
    const ok = nodeVerify(
      'sha256',
      Buffer.from(t.slice(0, dot)),
      alg === 'ES256' ? { key: keyObject, dsaEncoding: 'ieee-p1363' } : keyObject,
      Buffer.from(t.slice(dot + 1), 'base64url'),
    );
    if (!ok) throw new Error('bad signature');
  });
  // Our verifier, with a RemoteKeySet of the same JWKS served on loopback.
  const server = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const keySet = new RemoteKeySet(`http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`);
  const config: JwtVerifyConfig = {
    issuer,
    audience: [audience],
    algorithms: [alg],
    key: keySet.getKey,
    clockTolerance: 5,
    requiredClaims: [],
    strict: true,
  };
  await time('ours verifyAccessToken (jose 6 + RemoteKeySet)', tokens, (t) => verifyAccessToken(t, config));
  const keyFor = (a: string, k: string | undefined) => keySet.keyFor(a, k);
  await time('ours jws-fast, signature inline', tokens, (t) => {
    const jws = parsePlainJws(t);
    if (!jws || !acceptPlainJws(t, jws, config, keyFor, Date.now())) throw new Error('fast path refused a valid token');
  });
  await time('ours jws-fast, signature on the threadpool', tokens, async (t) => {
    const jws = parsePlainJws(t);
    if (!jws || !(await acceptPlainJwsLater(t, jws, config, keyFor, Date.now()))) throw new Error('fast path refused a valid token');
  });
  server.close();
}
