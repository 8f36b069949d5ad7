/**
 * A fast OpenID Provider for the sign-in benchmarks, in its own process (node:http + jose, one
 * ES256 key). It does just enough of OIDC Core for both clients under test to sign in:
 * - discovery (`/.well-known/openid-configuration`) and the JWKS;
 * - `/authorize` approves at once: a 302 to `redirect_uri` with `code`, `state` and `iss`
 *   (RFC 9207), a new `sub` and `sid` per authorization;
 * - `/token`: the code grant (client_secret_basic or _post, one use per code, PKCE S256 checked
 *   when a challenge was sent, nonce echoed, `at_hash`) and the refresh grant (rotation: the old
 *   refresh token stops working);
 * - `/end_session`: a 302 to `post_logout_redirect_uri`.
 * Control: GET /__stats answers the counters; POST /__config sets token lifetimes (JSON body).
 * Prints `ready <url>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, type IssuerConfig, type IssuerStats } from '../suite/login-shared.js';

interface Grant {
  sub: string;
  sid: string;
  nonce: string | undefined;
  challenge: string | undefined;
  redirectUri: string;
}

function leftHalf(value: string): string {
  return createHash('sha256').update(value, 'ascii').digest().subarray(0, 16).toString('base64url');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

async function main(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-es256', alg: 'ES256', use: 'sig' }] };
  const stats: IssuerStats = { authorizations: 0, codeGrants: 0, refreshGrants: 0, refused: 0 };
  const config: IssuerConfig = { codeExpiresIn: 3600, refreshExpiresIn: 3600, refreshDelayMs: 0 };
  const codes = new Map<string, Grant>();
  const refreshTokens = new Map<string, Grant>();
  let counter = 0;

  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const discovery = JSON.stringify({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    end_session_endpoint: `${issuer}/end_session`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    authorization_response_iss_parameter_supported: true,
  });

  function clientOk(req: IncomingMessage, form: URLSearchParams): boolean {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1]!, 'base64')
        .toString('utf8')
        .split(':')
        .map((s) => decodeURIComponent(s));
      return id === BENCH_CLIENT_ID && secret === BENCH_CLIENT_SECRET;
    }
    return form.get('client_id') === BENCH_CLIENT_ID && form.get('client_secret') === BENCH_CLIENT_SECRET;
  }

  async function tokens(grant: Grant, expiresIn: number, withNonce: boolean): Promise<Record<string, unknown>> {
    const accessToken = `at-${randomBytes(24).toString('base64url')}`;
    const refreshToken = `rt-${randomBytes(24).toString('base64url')}`;
    refreshTokens.set(refreshToken, grant);
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({
      sid: grant.sid,
      name: `Bench ${grant.sub}`,
      email: `${grant.sub}@bench.example`,
      at_hash: leftHalf(accessToken),
      ...(withNonce && grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'bench-es256' })
      .setIssuer(issuer)
      .setAudience(BENCH_CLIENT_ID)
      .setSubject(grant.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: expiresIn,
      refresh_token: refreshToken,
      id_token: idToken,
      scope: 'openid profile email',
    };
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams(await readBody(req));
    if (!clientOk(req, form)) {
      stats.refused += 1;
      return json(res, 401, { error: 'invalid_client' });
    }
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code') {
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier');
      const pkceOk =
        grant?.challenge === undefined ||
        (verifier !== null && createHash('sha256').update(verifier).digest('base64url') === grant.challenge);
      if (!grant || !pkceOk || form.get('redirect_uri') !== grant.redirectUri) {
        stats.refused += 1;
        return json(res, 400, { error: 'invalid_grant' });
      }
      stats.codeGrants += 1;
      return json(res, 200, await tokens(grant, config.codeExpiresIn, true));
    }
    if (grantType === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      const grant = refreshTokens.get(presented);
      refreshTokens.delete(presented); // rotation: a second use is refused
      if (!grant) {
        stats.refused += 1;
        return json(res, 400, { error: 'invalid_grant' });
      }
      stats.refreshGrants += 1;
      if (config.refreshDelayMs > 0) await new Promise((r) => setTimeout(r, config.refreshDelayMs));
      return json(res, 200, await tokens(grant, config.refreshExpiresIn, false));
    }
    stats.refused += 1;
    return json(res, 400, { error: 'unsupported_grant_type' });
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      switch (url.pathname) {
        case '/.well-known/openid-configuration':
          res.setHeader('content-type', 'application/json');
          return void res.end(discovery);
        case '/jwks':
          return json(res, 200, jwks);
        case '/authorize': {
          const p = url.searchParams;
          const redirectUri = p.get('redirect_uri');
          if (p.get('client_id') !== BENCH_CLIENT_ID || !redirectUri || p.get('response_type') !== 'code') {
            stats.refused += 1;
            return json(res, 400, { error: 'invalid_request' });
          }
          counter += 1;
          stats.authorizations += 1;
          const code = randomBytes(24).toString('base64url');
          codes.set(code, {
            sub: `user-${counter}`,
            sid: `sid-${counter}`,
            nonce: p.get('nonce') ?? undefined,
            challenge: p.get('code_challenge_method') === 'S256' ? (p.get('code_challenge') ?? undefined) : undefined,
            redirectUri,
          });
          const back = new URL(redirectUri);
          back.searchParams.set('code', code);
          if (p.get('state') !== null) back.searchParams.set('state', p.get('state')!);
          back.searchParams.set('iss', issuer);
          res.statusCode = 302;
          res.setHeader('location', back.href);
          return void res.end();
        }
        case '/token':
          if (req.method !== 'POST') return json(res, 405, { error: 'invalid_request' });
          return token(req, res);
        case '/end_session': {
          const target = url.searchParams.get('post_logout_redirect_uri');
          res.statusCode = target ? 302 : 200;
          if (target) res.setHeader('location', target);
          return void res.end();
        }
        case '/__stats':
          return json(res, 200, stats);
        case '/__config': {
          const body = JSON.parse((await readBody(req)) || '{}') as Partial<IssuerConfig>;
          Object.assign(config, body);
          return json(res, 200, config);
        }
        default:
          return json(res, 404, { error: 'not_found' });
      }
    })().catch(() => {
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
    });
  });

  process.stdout.write(`ready ${issuer}\n`);
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

await main();
