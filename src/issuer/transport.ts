import { optionalFunction } from '../config/assert.js';
import { proxyEnv } from '../config/from-env.js';
import type { FetchFunction, Transport } from './http.js';
import { proxySettings } from './proxy.js';

/**
 * The `fetch` option of either half, resolved once: the app's `fetch` when given (then the proxy
 * variables are its business), else the environment's `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
 * (Node 20's global `fetch` ignores them), else nothing: Node's fetch, direct.
 *
 * @throws TypeError when `fetch` is not a function, or a proxy variable is not a URL.
 */
export function transportConfig(value: unknown): Transport {
  const fetch = optionalFunction<FetchFunction>('fetch', value);
  if (fetch !== undefined) return { fetch };
  const proxy = proxySettings(proxyEnv());
  return proxy !== undefined ? { proxy } : {};
}
