/**
 * A real authorization server for the introspection tests: oidc-provider on 127.0.0.1 with
 * client credentials, resource indicators (opaque and JWT access tokens) and RFC 7662
 * introspection enabled.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export const OPAQUE_API = 'https://api.example.test';
export const JWT_API = 'https://jwt-api.example.test';

export const CLIENTS = {
  machine: { id: 'machine', secret: 'machine-secret-0123456789abcdef0123456789' },
  resourceServer: { id: 'resource-server', secret: 'rs-secret-0123456789abcdef0123456789abcd' },
  resourceServerPost: { id: 'resource-server-post', secret: 'rsp-secret-0123456789abcdef0123456789ab' },
};

export interface TestProvider {
  issuer: string;
  /** Requests to the introspection endpoint so far. */
  introspections(): number;
  /** An access token from the client credentials grant for `resource` (opaque or JWT). */
  clientCredentialsToken(resource: string, scope: string): Promise<string>;
  close(): Promise<void>;
}

export async function startProvider(): Promise<TestProvider> {
  const { default: Provider, errors } = await import('oidc-provider');
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'provider-rs256', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    clients: [
      { client_id: CLIENTS.machine.id, client_secret: CLIENTS.machine.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'read admin' },
      { client_id: CLIENTS.resourceServer.id, client_secret: CLIENTS.resourceServer.secret, grant_types: [], response_types: [], redirect_uris: [] },
      {
        client_id: CLIENTS.resourceServerPost.id,
        client_secret: CLIENTS.resourceServerPost.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    scopes: ['read', 'admin'],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: async () => true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OPAQUE_API,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === OPAQUE_API) return { scope: 'read admin', audience: OPAQUE_API, accessTokenFormat: 'opaque', accessTokenTTL: 600 };
          if (resource === JWT_API) return { scope: 'read admin', audience: JWT_API, accessTokenFormat: 'jwt', accessTokenTTL: 600 };
          throw new errors.InvalidTarget();
        },
      },
    },
  } as ConstructorParameters<typeof Provider>[1]);

  let introspections = 0;
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if ((req.url ?? '').startsWith('/token/introspection')) introspections += 1;
    void callback(req, res);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    issuer,
    introspections: () => introspections,
    async clientCredentialsToken(resource, scope) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${CLIENTS.machine.id}:${CLIENTS.machine.secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource }).toString(),
      });
      const body = (await res.json()) as { access_token?: string };
      if (res.status !== 200 || typeof body.access_token !== 'string') throw new Error(`token request failed: ${res.status} ${JSON.stringify(body)}`);
      return body.access_token;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
