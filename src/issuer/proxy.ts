/**
 * The proxy settings of the environment, as curl and undici's `EnvHttpProxyAgent` read them:
 * `HTTPS_PROXY` for https URLs (falling back to `HTTP_PROXY`), `HTTP_PROXY` for http URLs, and
 * `NO_PROXY` for the hosts reached directly. Node 20's global `fetch` ignores all three.
 */

/** The proxies of `HTTP_PROXY`, `HTTPS_PROXY` and the exceptions of `NO_PROXY`, parsed. */
export interface ProxySettings {
  /** For http URLs. */
  http: URL | undefined;
  /** For https URLs. */
  https: URL | undefined;
  /** `NO_PROXY` entries: a host (its subdomains too) and an optional port; `*` is every host. */
  noProxy: Array<{ host: string; port: string | undefined }>;
}

/** The variables as read (the lower-case name wins over the upper-case one, as in curl). */
export interface ProxyEnv {
  httpProxy?: string | undefined;
  httpsProxy?: string | undefined;
  noProxy?: string | undefined;
}

/** A proxy variable's URL: `http://` or `https://`, the scheme optional (`proxy.corp:3128`). */
function proxyUrl(name: string, value: string | undefined): URL | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new TypeError(`The ${name} environment variable must be a proxy URL (http://host:port).`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`The ${name} environment variable must be an http:// or https:// proxy URL.`);
  }
  return url;
}

/** `NO_PROXY`: entries split on commas and spaces; a leading `.` or `*.` is the same as none. */
function noProxyEntries(value: string | undefined): ProxySettings['noProxy'] {
  const entries: ProxySettings['noProxy'] = [];
  for (const raw of (value ?? '').split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      entries.push({ host: '*', port: undefined });
      continue;
    }
    entry = entry.replace(/^\*?\./, '');
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entries.push({ host: bracketed[1]!, port: bracketed[2] });
      continue;
    }
    const colon = entry.lastIndexOf(':');
    if (colon > 0 && entry.indexOf(':') === colon && /^\d+$/.test(entry.slice(colon + 1))) {
      entries.push({ host: entry.slice(0, colon), port: entry.slice(colon + 1) });
    } else {
      entries.push({ host: entry, port: undefined });
    }
  }
  return entries;
}

/**
 * The settings of the environment's variables, or `undefined` when no proxy is set.
 *
 * @throws TypeError naming the variable when a proxy URL cannot be parsed.
 */
export function proxySettings(env: ProxyEnv): ProxySettings | undefined {
  const http = proxyUrl('HTTP_PROXY', env.httpProxy);
  const https = proxyUrl('HTTPS_PROXY', env.httpsProxy) ?? http;
  if (http === undefined && https === undefined) return undefined;
  return { http, https, noProxy: noProxyEntries(env.noProxy) };
}

/** The proxy to send a request for `url` through, or `undefined` to connect directly. */
export function proxyFor(settings: ProxySettings | undefined, url: URL): URL | undefined {
  if (settings === undefined) return undefined;
  const proxy = url.protocol === 'https:' ? settings.https : url.protocol === 'http:' ? settings.http : undefined;
  if (proxy === undefined) return undefined;
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (const entry of settings.noProxy) {
    if (entry.host === '*') return undefined;
    if (entry.port !== undefined && entry.port !== port) continue;
    if (host === entry.host || host.endsWith(`.${entry.host}`)) return undefined;
  }
  return proxy;
}
