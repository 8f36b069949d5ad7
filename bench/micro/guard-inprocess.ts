/**
 * The guards' own cost per first-seen token, without HTTP: each middleware is called with a
 * bare request and response object, 20 at a time, and the process CPU (all threads) per token
 * is reported, with ours/eojb. Less exposed to a busy machine than an HTTP benchmark.
 *
 * Run: npx tsx bench/micro/guard-inprocess.ts [amount=4000] [rounds=3]
 */
import type { RequestHandler } from 'express';
import { startBenchIssuer, type Alg } from '../suite/issuer-keys.js';
import { runGuard } from './request.js';
import { requireBearer } from '../../src/index.js';

const [amountText = '4000', roundsText = '3'] = process.argv.slice(2);
const amount = Number(amountText);
const rounds = Number(roundsText);
const issuer = await startBenchIssuer();
const jwksUri = `${issuer.issuer}/jwks`;
const { auth } = await import('express-oauth2-jwt-bearer');
const guards: Record<string, RequestHandler> = {
  ours: requireBearer({ issuer: issuer.issuer, jwksUri, audience: issuer.audience, algorithms: ['RS256', 'ES256'] }),
  eojb: auth({ issuer: issuer.issuer, jwksUri, audience: issuer.audience }) as unknown as RequestHandler,
};

async function measure(guard: RequestHandler, tokens: string[]): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < tokens.length) await runGuard(guard, tokens[next++]!);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { cpu: (cpu.user + cpu.system) / tokens.length, wall: ((performance.now() - t0) * 1000) / tokens.length };
}

for (const alg of ['RS256', 'ES256'] as Alg[]) {
  const warm = await Promise.all(Array.from({ length: 1000 }, () => issuer.mint(alg)));
  for (const g of Object.values(guards)) await measure(g, warm);
  const results: Record<string, number[]> = { ours: [], eojb: [] };
  const walls: Record<string, number[]> = { ours: [], eojb: [] };
  for (let r = 0; r < rounds; r += 1) {
    const tokens = await Promise.all(Array.from({ length: amount }, () => issuer.mint(alg)));
    for (const [name, g] of Object.entries(guards)) {
      const m = await measure(g, tokens);
      results[name]!.push(m.cpu);
      walls[name]!.push(m.wall);
    }
  }
  const med = (x: number[]) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
  process.stdout.write(
    `${alg}: CPU µs/token ours ${med(results.ours!).toFixed(1)} eojb ${med(results.eojb!).toFixed(1)} (eojb/ours ${(med(results.eojb!) / med(results.ours!)).toFixed(2)}); wall µs/token ours ${med(walls.ours!).toFixed(1)} eojb ${med(walls.eojb!).toFixed(1)}\n`,
  );
}
await issuer.close();
process.exit(0);
