/**
 * The one place that reads environment variables: the names users of express-openid-connect and
 * express-oauth2-jwt-bearer already set. Explicit options always win over these.
 */

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The set variables of `pairs` (option name, variable name), by option name. */
function readAll<K extends string>(pairs: Array<[K, string]>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const [key, name] of pairs) {
    const value = env(name);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `auth()` fallbacks: ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, BASE_URL, SECRET. */
export function loginEnv(): {
  issuerBaseURL?: string;
  clientID?: string;
  clientSecret?: string;
  baseURL?: string;
  secret?: string;
} {
  return readAll([
    ['issuerBaseURL', 'ISSUER_BASE_URL'],
    ['clientID', 'CLIENT_ID'],
    ['clientSecret', 'CLIENT_SECRET'],
    ['baseURL', 'BASE_URL'],
    ['secret', 'SECRET'],
  ]);
}

/** What `bearerEnv()` read, by the `requireBearer()` option each one stands for. */
export interface BearerEnv {
  issuerBaseURL?: string;
  audience?: string;
  issuer?: string;
  jwksUri?: string;
  /** Used only with an HMAC `algorithms` (TOKEN_SIGNING_ALG): SECRET is also `auth()`'s session secret. */
  secret?: string;
  /** One algorithm name (express-oauth2-jwt-bearer's `tokenSigningAlg`). */
  algorithms?: string;
}

/**
 * `requireBearer()` fallbacks, express-oauth2-jwt-bearer's names: ISSUER_BASE_URL, AUDIENCE,
 * ISSUER, JWKS_URI, SECRET, TOKEN_SIGNING_ALG.
 */
export function bearerEnv(): BearerEnv {
  return readAll<keyof BearerEnv>([
    ['issuerBaseURL', 'ISSUER_BASE_URL'],
    ['audience', 'AUDIENCE'],
    ['issuer', 'ISSUER'],
    ['jwksUri', 'JWKS_URI'],
    ['secret', 'SECRET'],
    ['algorithms', 'TOKEN_SIGNING_ALG'],
  ]);
}

/**
 * The proxy variables of both halves' issuer calls, as curl and undici read them: `https_proxy`,
 * `http_proxy`, `no_proxy`, each lower-case name first, then its upper-case one (`HTTPS_PROXY`,
 * `HTTP_PROXY`, `NO_PROXY`). Read once, when `auth()` or `requireBearer()` is called.
 */
export function proxyEnv(): { httpProxy?: string; httpsProxy?: string; noProxy?: string } {
  // Not options' fallbacks, so not in the README's option tables: its "fetch and proxies" section names them.
  const either = (lower: string): string | undefined => process.env[lower] ?? process.env[lower.toUpperCase()];
  const out: { httpProxy?: string; httpsProxy?: string; noProxy?: string } = {};
  const httpProxy = either('http_proxy');
  const httpsProxy = either('https_proxy');
  const noProxy = either('no_proxy');
  if (httpProxy !== undefined) out.httpProxy = httpProxy;
  if (httpsProxy !== undefined) out.httpsProxy = httpsProxy;
  if (noProxy !== undefined) out.noProxy = noProxy;
  return out;
}
