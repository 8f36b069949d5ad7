/**
 * A signing issuer for the benchmarks: an RS256 and an ES256 key, a loopback server that serves
 * discovery and the JWKS, and a fast token minter.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

export type Alg = 'RS256' | 'ES256';

export interface BenchIssuer {
  issuer: string;
  audience: string;
  mint(alg: Alg, extra?: Record<string, unknown>): Promise<string>;
  /** The public JWK of `alg`'s key (for the bare verify). */
  jwk(alg: Alg): JWK;
  close(): Promise<void>;
}

export async function startBenchIssuer(): Promise<BenchIssuer> {
  const keys = {
    RS256: await generateKeyPair('RS256', { extractable: true }),
    ES256: await generateKeyPair('ES256', { extractable: true }),
  };
  const jwks: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    jwks.push({ ...(await exportJWK(keys[alg].publicKey)), kid: `k-${alg}`, alg, use: 'sig' });
  }
  let issuer = '';
  const server: Server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/jwks') return void res.end(JSON.stringify({ keys: jwks }));
    if (req.url === '/.well-known/openid-configuration') {
      return void res.end(
        JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256', 'ES256'] }),
      );
    }
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = 'https://api.bench.example';
  return {
    issuer,
    audience,
    mint: (alg, extra = {}) =>
      new SignJWT({ scope: 'read:bench', client_id: 'bench', ...extra })
        .setProtectedHeader({ alg, kid: `k-${alg}`, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject('user-1')
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(keys[alg].privateKey),
    jwk: (alg) => jwks.find((k) => k.alg === alg)!,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
