/**
 * The one place that reads environment variables: the names users of express-openid-connect and
 * express-oauth2-jwt-bearer already set. Explicit options always win over these.
 */

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** `auth()` fallbacks: ISSUER_BASE_URL, CLIENT_ID, CLIENT_SECRET, BASE_URL, SECRET. */
export function loginEnv(): {
  issuerBaseURL?: string;
  clientID?: string;
  clientSecret?: string;
  baseURL?: string;
  secret?: string;
} {
  const out: Record<string, string> = {};
  const pairs: [string, string][] = [
    ['issuerBaseURL', 'ISSUER_BASE_URL'],
    ['clientID', 'CLIENT_ID'],
    ['clientSecret', 'CLIENT_SECRET'],
    ['baseURL', 'BASE_URL'],
    ['secret', 'SECRET'],
  ];
  for (const [key, name] of pairs) {
    const value = env(name);
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** `requireBearer()` fallbacks: ISSUER_BASE_URL, AUDIENCE. */
export function bearerEnv(): { issuerBaseURL?: string; audience?: string } {
  const out: { issuerBaseURL?: string; audience?: string } = {};
  const issuer = env('ISSUER_BASE_URL');
  const audience = env('AUDIENCE');
  if (issuer !== undefined) out.issuerBaseURL = issuer;
  if (audience !== undefined) out.audience = audience;
  return out;
}
