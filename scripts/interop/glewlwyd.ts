/**
 * Sets up and runs Glewlwyd (Debian package `glewlwyd`, 2.7.x), an OpenID Provider nobody here
 * wrote, for the interop suite (test/interop/). No manual step; safe to run again on the same
 * directory: each step replaces what an earlier run left.
 *
 * What it does, and why (the probe's findings in issue 16, part D):
 * - the database comes from the package's own `init.sqlite3.sql.gz` (it holds admin/password);
 * - the config binds 127.0.0.1 on a free port; `external_url` has no trailing slash (Glewlwyd
 *   appends paths to it); no `use_secure_connection=false` line (with it Glewlwyd still demands
 *   certificate files); `cookie_secure=0` because the browser reaches it over plain http;
 * - the package's `webapp/config.json` is a symlink to a directory; the web app is copied and the
 *   real file put in its place, so the login page loads;
 * - the service does not start itself here: the binary is spawned and stopped by its pid;
 * - everything else goes through the admin REST API (`POST /api/auth/` as admin first): the client
 *   store learns the `post_logout_redirect_uris` field (its field list only has the singular),
 *   scopes, a user, an `oidc` plugin with an RSA key and resource indicators, a confidential client
 *   with redirect, post-logout and back-channel logout URIs, and the user's consent.
 *
 * CLI: `tsx scripts/interop/glewlwyd.ts start <dir> <app base URL>` prints the example app's
 * environment and leaves Glewlwyd running; `tsx scripts/interop/glewlwyd.ts stop <dir>` stops it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

const BINARY = '/usr/bin/glewlwyd';
const INIT_SQL = '/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz';
const WEBAPP = '/usr/share/glewlwyd/webapp';
/** The package's real web app config (its `webapp/config.json` symlink points at this directory). */
const WEBAPP_CONFIG = '/etc/glewlwyd/config-2.7.json/config.json';
const LIB = '/usr/lib/glewlwyd';
const ADMIN = { username: 'admin', password: 'password' };
/** The oidc plugin's defaults, as the package's admin web app (webapp/admin.js) sends them. */
const PLUGIN_DEFAULTS = path.join(import.meta.dirname, 'glewlwyd-oidc-defaults.json');

export const PLUGIN_NAME = 'oidc';
export const CLIENT_ID = 'interop-app';
export const SCOPES = ['openid', 'profile', 'email', 'offline_access', 'api'];
export const USER = { username: 'alice', password: 'alice-interop-pw', name: 'Alice Interop', email: 'alice@interop.test' };

export interface GlewlwydSetup {
  /** Where the database, config, web app copy, log and pid file live. */
  dir: string;
  /** The relying party's base URL: redirect `/callback`, post-logout `/`, back-channel `/backchannel-logout`. */
  appBaseURL: string;
  /** The resource (RFC 8707) the access tokens are for: their `aud`. */
  audience: string;
  /** Port to bind; default: a free one. */
  port?: number;
  /** Access token lifetime, in seconds (default 3600). */
  accessTokenTtl?: number;
  /** Where Glewlwyd posts logout tokens (default `<appBaseURL>/backchannel-logout`). */
  backchannelLogoutURI?: string;
  /** More relying parties sharing the client: their `/callback` and `/` are registered too. */
  moreAppBaseURLs?: string[];
  /** Let Glewlwyd outlive this process (the CLI); default false. */
  detached?: boolean;
}

export interface RunningGlewlwyd {
  /** `http://127.0.0.1:<port>`: the web app and the admin API. */
  url: string;
  /** The issuer: `<url>/api/oidc` (discovery at `<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientID: string;
  clientSecret: string;
  pid: number;
  /** What Glewlwyd printed (its log), for diagnosing a failed run. */
  log(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function configFile(dir: string, port: number): string {
  const mime = [
    ['.html', 'text/html'],
    ['.css', 'text/css'],
    ['.js', 'application/javascript'],
    ['.json', 'application/json'],
    ['.png', 'image/png'],
    ['.jpg', 'image/jpeg'],
    ['.svg', 'image/svg+xml'],
    ['.ico', 'image/x-icon'],
    ['.woff', 'font/woff'],
    ['.woff2', 'font/woff2'],
    ['.ttf', 'font/ttf'],
    ['.eot', 'application/vnd.ms-fontobject'],
  ];
  return `port=${port}
bind_address="127.0.0.1"
external_url="http://127.0.0.1:${port}"
login_url="login.html"
api_prefix="api"
static_files_path="${path.join(dir, 'webapp')}/"
allow_origin="*"
log_mode="console"
log_level="WARNING"
cookie_secure=0
cookie_same_site="empty"
session_expiration=2419200
session_key="GLEWLWYD2_SESSION_ID"
admin_session_authentication="cookie"
profile_session_authentication="cookie"
allow_multiple_user_per_session=true
login_api_enabled=true
plugin_api_run_enabled=""
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="${LIB}/user"
user_middleware_module_path="${LIB}/user_middleware"
client_module_path="${LIB}/client"
user_auth_scheme_module_path="${LIB}/scheme"
plugin_module_path="${LIB}/plugin"
hash_algorithm="SHA512"
database =
{
  type = "sqlite3"
  path = "${path.join(dir, 'glewlwyd.db')}"
};
static_files_mime_types =
(
${mime.map(([ext, type]) => `  { extension = "${ext}" mime_type = "${type}" }`).join(',\n')}
)
`;
}

/**
 * Copies a directory, following symlinks (the package links jQuery, Bootstrap and the fonts from
 * other packages with relative paths, which break in a copy) and skipping dangling ones and the
 * `config.json` link (a directory; the real file is written instead).
 */
function copyResolved(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    const source = path.join(from, entry);
    if (source === path.join(WEBAPP, 'config.json')) continue;
    let real: string;
    try {
      real = realpathSync(source);
    } catch {
      continue;
    }
    if (statSync(real).isDirectory()) copyResolved(source, path.join(to, entry));
    else copyFileSync(real, path.join(to, entry));
  }
}

/** The files: a fresh database, the config, the web app with a real config.json. */
function prepareFiles(dir: string, port: number): void {
  for (const file of [BINARY, INIT_SQL, WEBAPP_CONFIG]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: apt-get install -y glewlwyd sqlite3`);
  }
  mkdirSync(dir, { recursive: true });
  const db = path.join(dir, 'glewlwyd.db');
  rmSync(db, { force: true });
  const sql = spawnSync('sqlite3', [db], { input: gunzipSync(readFileSync(INIT_SQL)), encoding: 'utf8' });
  if (sql.error || sql.status !== 0) {
    throw new Error(`sqlite3 could not create the database: ${sql.error?.message ?? sql.stderr}`);
  }
  const webapp = path.join(dir, 'webapp');
  rmSync(webapp, { recursive: true, force: true });
  copyResolved(WEBAPP, webapp);
  const webConfig = JSON.parse(readFileSync(WEBAPP_CONFIG, 'utf8')) as Record<string, unknown>;
  writeFileSync(path.join(webapp, 'config.json'), JSON.stringify({ ...webConfig, GlewlwydUrl: `http://127.0.0.1:${port}/` }, null, 2));
  writeFileSync(path.join(dir, 'glewlwyd.conf'), configFile(dir, port));
}

/** Stops a Glewlwyd an earlier run left in `dir` (by its pid file). */
export async function stopGlewlwyd(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'glewlwyd.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !isGlewlwyd(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid is still our Glewlwyd (not a recycled pid of something else). */
function isGlewlwyd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === BINARY;
  } catch {
    return false;
  }
}

/** A tiny cookie-keeping client for the admin and user APIs. */
class Api {
  private cookie = '';
  constructor(private readonly base: string) {}

  async call(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.base}/api${route}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.cookie ? { cookie: this.cookie } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    const set = res.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .filter((pair) => pair && !pair.endsWith('='));
    if (set.length > 0) this.cookie = set.join('; ');
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** Calls and insists on a 2xx answer. */
  async ok(method: string, route: string, body?: unknown): Promise<unknown> {
    const res = await this.call(method, route, body);
    if (res.status < 200 || res.status > 299) {
      throw new Error(`Glewlwyd ${method} /api${route} answered ${res.status}: ${JSON.stringify(res.body).slice(0, 500)}`);
    }
    return res.body;
  }

  /** Creates, or replaces when it exists (GET answers 200). */
  async upsert(collection: string, id: string, value: unknown): Promise<void> {
    const existing = await this.call('GET', `${collection}${encodeURIComponent(id)}`);
    if (existing.status === 200) await this.ok('PUT', `${collection}${encodeURIComponent(id)}`, value);
    else await this.ok('POST', collection, value);
  }
}

async function waitUntilUp(url: string, child: { exitCode: number | null }, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Glewlwyd exited with code ${child.exitCode}:\n${log().slice(-2000)}`);
    try {
      const res = await fetch(`${url}/config`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`Glewlwyd did not answer on ${url} within 20 s:\n${log().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function rsaJwks(): { jwks: string; kid: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `interop-${randomBytes(4).toString('hex')}`;
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { jwks: JSON.stringify({ keys: [jwk] }), kid };
}

function pluginParameters(issuer: string, setup: GlewlwydSetup): Record<string, unknown> {
  const defaults = JSON.parse(readFileSync(PLUGIN_DEFAULTS, 'utf8')) as Record<string, unknown>;
  const { jwks, kid } = rsaJwks();
  return {
    ...defaults,
    iss: issuer,
    'jwt-type': 'rsa',
    'jwt-key-size': '256',
    'jwks-private': jwks,
    'default-kid': kid,
    'access-token-duration': setup.accessTokenTtl ?? 3600,
    'refresh-token-rolling': true,
    'allowed-scope': SCOPES,
    'auth-type-code-enabled': true,
    'auth-type-refresh-enabled': true,
    'auth-type-client-enabled': true,
    // Glewlwyd only serves client_credentials (the tests' direct tokens) to "non-OIDC" requests.
    'allow-non-oidc': true,
    'auth-type-token-enabled': false,
    'auth-type-id-token-enabled': false,
    'auth-type-none-enabled': false,
    'pkce-allowed': true,
    'oauth-as-iss-id': true,
    'name-claim': 'mandatory',
    'email-claim': 'mandatory',
    'introspection-revocation-allowed': true,
    'introspection-revocation-allow-target-client': true,
    // Without resource indicators Glewlwyd puts the granted scopes in the access token's `aud`.
    'resource-allowed': true,
    'resource-client-property': 'resource',
    'session-management-allowed': true,
    'back-channel-logout-allowed': true,
    'front-channel-logout-allowed': true, // the logout page's session lookup answers 400 without it
  };
}

/** Configures a running Glewlwyd through its admin API (every step replaces an earlier one). */
async function configure(url: string, issuer: string, clientSecret: string, setup: GlewlwydSetup): Promise<void> {
  const admin = new Api(url);
  await admin.ok('POST', '/auth/', ADMIN);

  // The client store keeps only the fields it lists; it lists `post_logout_redirect_uri` but the
  // oidc plugin reads `post_logout_redirect_uris`.
  const modules = (await admin.ok('GET', '/mod/client/')) as Array<{
    name: string;
    parameters: { 'data-format': Record<string, unknown> };
  }>;
  const store = modules.find((module) => module.name === 'database');
  if (!store) throw new Error('Glewlwyd has no "database" client module');
  store.parameters['data-format'].post_logout_redirect_uris = { multiple: true, read: true, write: true };
  await admin.ok('PUT', '/mod/client/database', store);
  // The store reads its field list when it starts: restart it.
  await admin.ok('PUT', '/mod/client/database/reset');

  for (const scope of SCOPES.filter((name) => name !== 'openid')) {
    await admin.upsert('/scope/', scope, {
      name: scope,
      display_name: scope,
      description: `interop scope ${scope}`,
      password_required: true,
      password_max_age: 0,
      scheme: {},
    });
  }
  await admin.upsert('/user/', USER.username, {
    username: USER.username,
    name: USER.name,
    email: USER.email,
    password: USER.password,
    scope: SCOPES,
    enabled: true,
  });
  await admin.upsert('/mod/plugin/', PLUGIN_NAME, {
    module: 'oidc',
    name: PLUGIN_NAME,
    display_name: 'OpenID Connect',
    enabled: true,
    parameters: pluginParameters(issuer, setup),
  });
  await admin.upsert('/client/', CLIENT_ID, {
    client_id: CLIENT_ID,
    name: 'express-oidc-guard interop',
    enabled: true,
    confidential: true,
    // `password` authenticates the client at the token endpoint; `client_secret` keys HS* tokens.
    password: clientSecret,
    client_secret: clientSecret,
    token_endpoint_auth_method: ['client_secret_basic', 'client_secret_post'],
    authorization_type: ['code', 'refresh_token', 'client_credentials'],
    scope: SCOPES,
    redirect_uri: [setup.appBaseURL, ...(setup.moreAppBaseURLs ?? [])].map((app) => `${app}/callback`),
    post_logout_redirect_uris: [setup.appBaseURL, ...(setup.moreAppBaseURLs ?? [])],
    backchannel_logout_uri: setup.backchannelLogoutURI ?? `${setup.appBaseURL}/backchannel-logout`,
    backchannel_logout_session_required: 'true',
    resource: [setup.audience],
  });

  // The user's consent, given once ahead (Glewlwyd asks for it on its login page otherwise).
  const user = new Api(url);
  await user.ok('POST', '/auth/', { username: USER.username, password: USER.password });
  await user.ok('PUT', `/auth/grant/${CLIENT_ID}`, { scope: SCOPES.join(' ') });
}

/**
 * Starts Glewlwyd in `setup.dir` (stopping one an earlier run left there) and configures it.
 * Resolves once discovery answers.
 */
export async function startGlewlwyd(setup: GlewlwydSetup): Promise<RunningGlewlwyd> {
  await stopGlewlwyd(setup.dir);
  const port = setup.port ?? (await freePort());
  prepareFiles(setup.dir, port);
  const url = `http://127.0.0.1:${port}`;
  const issuer = `${url}/api/${PLUGIN_NAME}`;
  const logFile = path.join(setup.dir, 'glewlwyd.log');
  const out = openSync(logFile, 'w');
  const child = spawn(BINARY, ['-c', path.join(setup.dir, 'glewlwyd.conf')], {
    stdio: ['ignore', out, out],
    detached: setup.detached ?? false,
  });
  if (child.pid === undefined) throw new Error('Glewlwyd did not start');
  const pid = child.pid;
  writeFileSync(path.join(setup.dir, 'glewlwyd.pid'), `${pid}\n`);
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const clientSecret = randomBytes(24).toString('base64url');
  try {
    await waitUntilUp(url, child, log);
    await configure(url, issuer, clientSecret, setup);
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
    if (!discovery.ok) throw new Error(`discovery answered ${discovery.status}`);
  } catch (err) {
    await stopGlewlwyd(setup.dir);
    throw err instanceof Error ? new Error(`${err.message}\n--- glewlwyd log ---\n${log().slice(-3000)}`) : err;
  }
  return { url, issuer, clientID: CLIENT_ID, clientSecret, pid, log, stop: () => stopGlewlwyd(setup.dir) };
}

const [command, dir, appBaseURL] = process.argv.slice(2);
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  if (command === 'start' && dir && appBaseURL) {
    const idp = await startGlewlwyd({ dir: path.resolve(dir), appBaseURL, audience: `${appBaseURL}/api`, detached: true });
    process.stdout.write(
      `ISSUER_BASE_URL=${idp.issuer}\nCLIENT_ID=${idp.clientID}\nCLIENT_SECRET=${idp.clientSecret}\nAUDIENCE=${appBaseURL}/api\n` +
        `BASE_URL=${appBaseURL}\n# glewlwyd pid ${idp.pid}; user ${USER.username} / ${USER.password}\n`,
    );
    // Leave it running: the child outlives this script.
    process.exit(0);
  } else if (command === 'stop' && dir) {
    await stopGlewlwyd(path.resolve(dir));
  } else {
    process.stderr.write('usage: tsx scripts/interop/glewlwyd.ts start <dir> <app base URL> | stop <dir>\n');
    process.exit(2);
  }
}
