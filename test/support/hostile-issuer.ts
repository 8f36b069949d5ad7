/**
 * A small scriptable authorization server on node:http + jose, for the answers a real server never
 * gives: bad signatures, wrong claims, `alg: none`, rotated keys, broken or slow token endpoints,
 * a wrong RFC 9207 `iss`. Its authorization endpoint approves at once (302 back with code, state
 * and iss); its token endpoint answers what the test scripted, or a valid answer by default.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: PrivateKey;
  publicJwk: JWK;
}

/** What the authorization endpoint saw, and the code it issued. */
export interface AuthorizationRecord {
  code: string;
  params: Record<string, string>;
}

/** One request to the token endpoint, as received. */
export interface TokenRequestRecord {
  form: Record<string, string>;
  headers: IncomingMessage['headers'];
  /** The authorization request the code belongs to (code grant). */
  authorization?: AuthorizationRecord;
}

/** A scripted answer. `body` objects are sent as JSON, strings as they are. */
export interface ScriptedAnswer {
  status?: number;
  body?: unknown;
  contentType?: string;
  /** Wait this long before answering (to outlast the client's timeout). */
  delayMs?: number;
  /** Drop the connection without an answer. */
  destroy?: boolean;
  /** More response headers (e.g. `DPoP-Nonce`). */
  headers?: Record<string, string>;
}

export interface TokenContext {
  request: TokenRequestRecord;
  /** The answer a correct server would give (fresh tokens, valid ID token). */
  valid(): Promise<Record<string, unknown>>;
  /** Signs an ID token like `valid()` would, with claim overrides (undefined deletes). */
  idToken(overrides?: Record<string, unknown>, options?: IdTokenOptions): Promise<string>;
}

export interface IdTokenOptions {
  /** Sign with this key instead of the current one. */
  key?: SigningKey;
  /** The header kid (default the key's). */
  kid?: string;
  /** 'none': an unsecured JWT (RFC 7519 §6). 'HS256': keyed with `hmacSecret`. */
  alg?: 'none' | 'HS256';
  hmacSecret?: string;
  /** The access token, for at_hash. */
  accessToken?: string;
}

export interface HostileIssuer {
  issuer: string;
  clientId: string;
  /** Members merged into the discovery document (undefined deletes). */
  metadata: Record<string, unknown>;
  /** The `iss` the authorization endpoint sends back; `null` leaves it out. Default: the issuer. */
  authorizationIss: string | null;
  /** Scripts the token endpoint; unset: valid answers. */
  onToken: ((ctx: TokenContext) => Promise<ScriptedAnswer> | ScriptedAnswer) | undefined;
  /** Scripts the JWKS endpoint; unset: the public keys of `jwksKeys`. */
  onJwks: (() => ScriptedAnswer) | undefined;
  /** Whether the discovery document is served (false: 503). */
  up: boolean;
  tokenRequests: TokenRequestRecord[];
  authorizations: AuthorizationRecord[];
  jwksFetches: number;
  /** The key new tokens are signed with. */
  currentKey: SigningKey;
  /** Keys the JWKS endpoint publishes. */
  jwksKeys: SigningKey[];
  /** Makes a new key (new kid) the current one; `keepOld` keeps the old one in the JWKS. */
  rotateKey(keepOld?: boolean): Promise<SigningKey>;
  newKey(kid?: string): Promise<SigningKey>;
  /** Signs any JWT with the current key (logout tokens). */
  sign(payload: JWTPayload, options?: { key?: SigningKey; typ?: string }): Promise<string>;
  /** The subject of the ID tokens it issues. */
  sub: string;
  sid: string;
  close(): Promise<void>;
}

function leftHalf(value: string): string {
  const digest = createHash('sha256').update(value, 'ascii').digest();
  return digest.subarray(0, 16).toString('base64url');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startHostileIssuer(options: { clientId?: string } = {}): Promise<HostileIssuer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = options.clientId ?? 'hostile-client';
  let kidCounter = 0;

  async function newKey(kid?: string): Promise<SigningKey> {
    // ES256: key generation is quick enough to do inside a scripted answer.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    kidCounter += 1;
    const id = kid ?? `key-${kidCounter}`;
    return { kid: id, alg: 'ES256', privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: id, alg: 'ES256', use: 'sig' } };
  }

  const first = await newKey();
  const pendingHangs = new Set<ServerResponse>();

  const state: HostileIssuer = {
    issuer,
    clientId,
    metadata: {},
    authorizationIss: issuer,
    onToken: undefined,
    onJwks: undefined,
    up: true,
    tokenRequests: [],
    authorizations: [],
    jwksFetches: 0,
    currentKey: first,
    jwksKeys: [first],
    sub: 'hostile-user',
    sid: 'op-session-1',
    newKey,
    async rotateKey(keepOld = false) {
      const key = await newKey();
      state.jwksKeys = keepOld ? [...state.jwksKeys, key] : [key];
      state.currentKey = key;
      return key;
    },
    async sign(payload, signOptions = {}) {
      const key = signOptions.key ?? state.currentKey;
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, ...(signOptions.typ ? { typ: signOptions.typ } : {}) })
        .sign(key.privateKey);
    },
    async close() {
      for (const res of pendingHangs) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  async function idToken(
    authorization: AuthorizationRecord | undefined,
    overrides: Record<string, unknown> = {},
    o: IdTokenOptions = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: issuer,
      sub: state.sub,
      aud: clientId,
      exp: now + 300,
      iat: now,
      sid: state.sid,
      name: 'Hostile User',
      ...(authorization?.params.nonce ? { nonce: authorization.params.nonce } : {}),
      ...(o.accessToken ? { at_hash: leftHalf(o.accessToken) } : {}),
    };
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete claims[name];
      else claims[name] = value;
    }
    if (o.alg === 'none') {
      const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return `${encode({ alg: 'none' })}.${encode(claims)}.`;
    }
    if (o.alg === 'HS256') {
      return new SignJWT(claims as JWTPayload)
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(o.hmacSecret ?? 'secret'));
    }
    const key = o.key ?? state.currentKey;
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid }).sign(key.privateKey);
  }

  async function validAnswer(request: TokenRequestRecord): Promise<Record<string, unknown>> {
    const accessToken = `at-${randomBytes(16).toString('base64url')}`;
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: `rt-${randomBytes(16).toString('base64url')}`,
      id_token: await idToken(request.authorization, {}, { accessToken }),
    };
  }

  function send(res: ServerResponse, answer: ScriptedAnswer): void {
    if (answer.destroy) {
      res.socket?.destroy();
      return;
    }
    const body = answer.body;
    res.statusCode = answer.status ?? 200;
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    if (typeof body === 'string') {
      res.setHeader('content-type', answer.contentType ?? 'text/html');
      res.end(body);
    } else {
      res.setHeader('content-type', answer.contentType ?? 'application/json');
      res.end(body === undefined ? '' : JSON.stringify(body));
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/.well-known/openid-configuration') {
        if (!state.up) return send(res, { status: 503, body: { error: 'down' } });
        const doc: Record<string, unknown> = {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          end_session_endpoint: `${issuer}/logout`,
          response_types_supported: ['code'],
          id_token_signing_alg_values_supported: ['ES256'],
          authorization_response_iss_parameter_supported: true,
          ...state.metadata,
        };
        for (const [k, v] of Object.entries(state.metadata)) if (v === undefined) delete doc[k];
        return send(res, { body: doc });
      }
      if (url.pathname === '/jwks') {
        state.jwksFetches += 1;
        if (state.onJwks) return send(res, state.onJwks());
        return send(res, { body: { keys: state.jwksKeys.map((k) => k.publicJwk) } });
      }
      if (url.pathname === '/authorize') {
        const params = Object.fromEntries(url.searchParams);
        const record: AuthorizationRecord = { code: `code-${randomBytes(12).toString('base64url')}`, params };
        state.authorizations.push(record);
        const back = new URL(params.redirect_uri!);
        back.searchParams.set('code', record.code);
        if (params.state) back.searchParams.set('state', params.state);
        if (state.authorizationIss !== null) back.searchParams.set('iss', state.authorizationIss);
        res.statusCode = 302;
        res.setHeader('location', back.href);
        return res.end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        const form = Object.fromEntries(new URLSearchParams(await readBody(req)));
        const authorization = form.code ? state.authorizations.find((a) => a.code === form.code) : undefined;
        const request: TokenRequestRecord = { form, headers: req.headers, ...(authorization ? { authorization } : {}) };
        state.tokenRequests.push(request);
        const answer: ScriptedAnswer = state.onToken
          ? await state.onToken({ request, valid: () => validAnswer(request), idToken: (o, io) => idToken(authorization, o, io) })
          : { body: await validAnswer(request) };
        if (answer.delayMs) {
          pendingHangs.add(res);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, answer.delayMs);
            res.on('close', () => {
              clearTimeout(timer);
              resolve();
            });
          });
          pendingHangs.delete(res);
          if (res.destroyed) return;
        }
        return send(res, answer);
      }
      send(res, { status: 404, body: { error: 'not_found' } });
    })().catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });

  return state;
}
