import { isPlainObject } from '../config/assert.js';
import { IssuerResponseError } from '../errors/index.js';
import { createDpopProof, type DpopPrivateJwk } from './dpop.js';
import { backChannelFetch, endpointFor } from './mtls.js';
import type { LoginRuntime } from './runtime.js';
import { backChannelError } from './token-endpoint.js';

/**
 * The UserInfo request (OIDC Core §5.3.1) with an access token, and its checked answer (§5.3.2):
 * a JSON object whose `sub` is `expectedSub` (§5.3.4). A DPoP-bound token is sent with the
 * `DPoP` scheme and a proof (RFC 9449 §7.1), with one retry on a `use_dpop_nonce` challenge
 * (§9); with `mtls` the request goes over mutual TLS (RFC 8705 §3). Signed or encrypted UserInfo
 * responses (`application/jwt`) are not read.
 *
 * @throws IssuerResponseError (502) when there is no endpoint, or the answer is not a JSON object
 *   for that user.
 */
export async function userInfoRequest(
  runtime: LoginRuntime,
  token: { accessToken: string; dpopKey?: DpopPrivateJwk | undefined },
  expectedSub: string,
): Promise<Record<string, unknown>> {
  const { accessToken, dpopKey } = token;
  const metadata = await runtime.discovery.metadata();
  const tls = runtime.client.tls;
  const endpoint = endpointFor(metadata, 'userinfo_endpoint', tls);
  if (!endpoint) throw new IssuerResponseError('The authorization server has no UserInfo endpoint.');
  const nonces = runtime.dpopNonces;
  const send = async (nonce: string | undefined) => {
    const headers: Record<string, string> = { authorization: `${dpopKey ? 'DPoP' : 'Bearer'} ${accessToken}` };
    if (dpopKey)
      headers.dpop = await createDpopProof(dpopKey, {
        method: 'GET',
        url: endpoint,
        accessToken,
        ...(nonce !== undefined ? { nonce } : {}),
      });
    try {
      const answer = await backChannelFetch(endpoint, { headers, timeoutMs: runtime.config.httpTimeout }, runtime.client);
      return { answer, fresh: dpopKey ? nonces.remember(endpoint, answer.headers) : undefined };
    } catch (err) {
      throw backChannelError(err, 'UserInfo request');
    }
  };
  let { answer: res, fresh } = await send(dpopKey ? nonces.get(endpoint) : undefined);
  // RFC 9449 §9: a resource server asks for a nonce with a 401 `use_dpop_nonce` challenge.
  if (dpopKey && res.status === 401 && fresh !== undefined && /error="use_dpop_nonce"/.test(res.headers.get('www-authenticate') ?? '')) {
    ({ answer: res } = await send(fresh));
  }
  if (res.status !== 200 || !isPlainObject(res.body)) {
    throw new IssuerResponseError('The UserInfo endpoint gave an invalid answer.', {
      cause: new Error(`userinfo answered HTTP ${res.status}`),
    });
  }
  if (res.body.sub !== expectedSub) throw new IssuerResponseError('The UserInfo response names another user.');
  return res.body;
}
