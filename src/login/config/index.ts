import {
  assertObject,
  optionError,
  optionalBoolean,
  optionalFunction,
  optionalNumber,
  optionalStringList,
  rejectUnknown,
  requiredString,
  requiredUrl,
} from '../../config/assert.js';
import { loginEnv } from '../../config/from-env.js';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import { transportConfig } from '../../issuer/transport.js';
import { defaultLogger, type Logger } from '../../util/logger.js';
import type { AfterCallback, AuthOptions, LoginConfig } from '../options.js';
import { clientConfig, requestObjectConfig } from './client.js';
import { checkAuthorizationParams, tokenEndpointParamsConfig } from './params.js';
import { checkLogoutParams } from '../logout.js';
import { routesConfig } from './routes.js';
import { backchannelLogoutConfig } from './backchannel.js';
import { seconds, sessionConfig } from './session.js';

/** Every top-level option: the compiler makes a new member of `AuthOptions` appear here too. */
const TOP_LEVEL: Record<keyof AuthOptions, true> = {
  issuerBaseURL: true,
  baseURL: true,
  clientID: true,
  clientSecret: true,
  secret: true,
  authRequired: true,
  authorizationParams: true,
  routes: true,
  idpLogout: true,
  revokeOnLogout: true,
  clientAuthMethod: true,
  clientAssertionSigningKey: true,
  clientAssertionSigningAlg: true,
  afterCallback: true,
  getLoginState: true,
  tokenEndpointParams: true,
  pushedAuthorizationRequests: true,
  requestObject: true,
  dpop: true,
  mtls: true,
  idTokenSigningAlgs: true,
  mergeUserInfo: true,
  clockTolerance: true,
  httpTimeout: true,
  fetch: true,
  refreshMargin: true,
  session: true,
  useExistingSession: true,
  allowInsecureHttp: true,
  logger: true,
  errorHandler: true,
  renderLogoutConfirm: true,
  logoutParams: true,
  onLogoutToken: true,
  discovery: true,
  backchannelLogout: true,
};
const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(Object.keys(TOP_LEVEL));

/** express-openid-connect's options this package does not have, and what to do instead. */
const INSTEAD = new Map([
  ['auth0Logout', 'Auth0 advertises its end_session_endpoint when RP-Initiated Logout is on for the tenant, and "idpLogout" follows it.'],
  ['idTokenSigningAlg', 'use "idTokenSigningAlgs", a list (default: what the issuer supports, without "none" and HS*).'],
  ['discoveryCacheMaxAge', 'use "discovery.cacheMaxAgeMs".'],
  ['enableTelemetry', 'no telemetry is ever sent; remove it.'],
  ['httpUserAgent', "requests carry Node's own User-Agent; remove it."],
  ['useMtls', 'use "mtls" (the client certificate) with "clientAuthMethod: \'tls_client_auth\'".'],
  ['errorOnRequiredAuth', 'requiresAuth() already answers 401 to requests that prefer JSON and redirects browsers.'],
  ['attemptSilentLogin', 'mount the attemptSilentLogin() middleware after auth().'],
  [
    'identityClaimFilter',
    'req.oidc.user holds the ID token claims without nonce, at_hash, c_hash and s_hash; drop others in "afterCallback".',
  ],
  ['legacySameSiteCookie', 'there are no transaction cookies (the pending sign-in lives in the session); remove it.'],
  ['transactionCookie', 'there is no transaction cookie (the pending sign-in lives in the session); remove it.'],
  ['requestObjectSigningKey', 'use "requestObject.signingKey".'],
  ['requestObjectSigningAlg', 'use "requestObject.alg".'],
  ['requestObjectSigningKeyId', 'the JWK\'s "kid" goes into the header.'],
]);
const DISCOVERY_KEYS = new Set(['retryMinDelayMs', 'retryMaxDelayMs', 'cacheMaxAgeMs', 'jwksCooldownMs']);

/**
 * express-oauth2-jwt-bearer's `auth({ audience, issuerBaseURL })` protects an API; ours signs
 * users in. Someone migrating calls it with an `audience` and no `baseURL`: say where to go.
 */
function refuseGuardOptions(options: AuthOptions, baseURL: string | undefined): void {
  if ((options as Record<string, unknown>).audience !== undefined && baseURL === undefined) {
    throw new TypeError(
      'auth() signs users in (it needs "baseURL"). To protect an API with Bearer tokens, as express-oauth2-jwt-bearer\'s auth() does, use requireBearer({ issuerBaseURL, audience }).',
    );
  }
}

function loggerConfig(value: unknown): Logger {
  const logger = (value ?? defaultLogger) as Logger;
  for (const method of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof logger[method] !== 'function') throw optionError('logger', 'an object with debug, info, warn and error functions');
  }
  return logger;
}

/** `discovery`: retry delays and cache lifetimes of the issuer's metadata and keys, in ms. */
function discoveryConfig(value: unknown): LoginConfig['discovery'] {
  const raw: unknown = value ?? {};
  assertObject('discovery', raw);
  rejectUnknown('discovery.', raw, DISCOVERY_KEYS);
  const ms = (name: string, max: number) => optionalNumber(`discovery.${name}`, raw[name], 0, max, 'milliseconds');
  return {
    retryMinDelayMs: ms('retryMinDelayMs', 600_000),
    retryMaxDelayMs: ms('retryMaxDelayMs', 3_600_000),
    cacheMaxAgeMs: ms('cacheMaxAgeMs', 7 * 86_400_000),
    jwksCooldownMs: ms('jwksCooldownMs', 3_600_000) ?? LOGIN_DEFAULTS.jwksCooldownMs,
  };
}

/** `secret`: one or more strings of 32+ characters (the first seals, all open). */
function secretsConfig(input: unknown): string[] {
  const secrets = optionalStringList('secret', input);
  if (secrets === undefined)
    throw optionError('secret', 'set', 'Set it (at least 32 random characters), or the SECRET environment variable');
  secrets.forEach((s, i) => {
    if (s.length < 32)
      throw optionError(
        Array.isArray(input) ? `secret[${i}]` : 'secret',
        'a string of at least 32 characters',
        'Use e.g. the output of "openssl rand -base64 48"',
      );
  });
  return secrets;
}

/** `idTokenSigningAlgs`: never `none`; `HS*` only with a client secret to key them. */
function idTokenAlgsConfig(value: unknown, clientSecret: string | undefined): string[] | undefined {
  const algs = optionalStringList('idTokenSigningAlgs', value);
  if (algs?.some((alg) => alg.toLowerCase() === 'none')) throw optionError('idTokenSigningAlgs', 'a list of JWS algorithms without "none"');
  if (algs?.some((alg) => /^HS/i.test(alg)) && clientSecret === undefined)
    throw optionError('clientSecret', 'set', 'HS* ID token algorithms are keyed with the client secret');
  return algs;
}

/** The plain options of `auth()`: booleans, numbers and functions with their defaults. */
function behaviourConfig(options: AuthOptions) {
  return {
    authRequired: optionalBoolean('authRequired', options.authRequired) ?? LOGIN_DEFAULTS.authRequired,
    idpLogout: optionalBoolean('idpLogout', options.idpLogout),
    revokeOnLogout: optionalBoolean('revokeOnLogout', options.revokeOnLogout),
    afterCallback: optionalFunction<AfterCallback>('afterCallback', options.afterCallback),
    getLoginState: optionalFunction<NonNullable<AuthOptions['getLoginState']>>('getLoginState', options.getLoginState),
    pushedAuthorizationRequests:
      optionalBoolean('pushedAuthorizationRequests', options.pushedAuthorizationRequests) ?? LOGIN_DEFAULTS.pushedAuthorizationRequests,
    dpop: optionalBoolean('dpop', options.dpop) ?? LOGIN_DEFAULTS.dpop,
    mergeUserInfo: optionalBoolean('mergeUserInfo', options.mergeUserInfo) ?? LOGIN_DEFAULTS.mergeUserInfo,
    clockTolerance: seconds('clockTolerance', options.clockTolerance, LOGIN_DEFAULTS.clockToleranceSeconds, 0, 600),
    httpTimeout: optionalNumber('httpTimeout', options.httpTimeout, 100, 120_000, 'milliseconds') ?? LOGIN_DEFAULTS.httpTimeoutMs,
    transport: transportConfig(options.fetch),
    refreshMargin: seconds('refreshMargin', options.refreshMargin, LOGIN_DEFAULTS.refreshMarginSeconds, 0, 3600),
    errorHandler: optionalFunction<NonNullable<AuthOptions['errorHandler']>>('errorHandler', options.errorHandler),
    renderLogoutConfirm: optionalFunction<NonNullable<AuthOptions['renderLogoutConfirm']>>(
      'renderLogoutConfirm',
      options.renderLogoutConfirm,
    ),
    logoutParams: checkLogoutParams('logoutParams', options.logoutParams),
    onLogoutToken: optionalFunction<NonNullable<AuthOptions['onLogoutToken']>>('onLogoutToken', options.onLogoutToken),
  };
}

/**
 * Checks `auth()` options once, at start-up, and completes them from the environment
 * (`loginEnv()`) and `LOGIN_DEFAULTS`: one resolver per section (client, secrets, routes,
 * session, discovery, request objects, parameters), unknown keys refused at every level.
 *
 * @throws TypeError naming the option by its dotted path and what it must be.
 */
export function resolveLoginConfig(input: AuthOptions | undefined): LoginConfig {
  const raw: unknown = input ?? {};
  assertObject('options', raw);
  const options = raw as AuthOptions;
  const env = loginEnv();
  refuseGuardOptions(options, options.baseURL ?? env.baseURL);
  rejectUnknown('', raw, TOP_LEVEL_KEYS, INSTEAD);
  const allowInsecureHttp = optionalBoolean('allowInsecureHttp', options.allowInsecureHttp) ?? false;
  const logger = loggerConfig(options.logger);
  const issuerUrl = requiredUrl(
    'issuerBaseURL',
    options.issuerBaseURL ?? env.issuerBaseURL,
    allowInsecureHttp,
    'Set it, or the ISSUER_BASE_URL environment variable',
  );
  const base = requiredUrl('baseURL', options.baseURL ?? env.baseURL, allowInsecureHttp, 'Set it, or the BASE_URL environment variable');
  if (base.search) throw optionError('baseURL', 'a URL without a query string');
  const baseURL = (options.baseURL ?? env.baseURL ?? '').replace(/\/+$/, '');
  const clientID = requiredString('clientID', options.clientID ?? env.clientID, 'Set it, or the CLIENT_ID environment variable');
  const client = clientConfig(options, env.clientSecret);
  const secrets = secretsConfig(options.secret ?? env.secret);
  const params = checkAuthorizationParams('authorizationParams', options.authorizationParams ?? {});
  const routes = routesConfig(options.routes, baseURL, base, allowInsecureHttp);
  const https = base.protocol === 'https:';
  const sessions = sessionConfig(options, https);
  const idTokenSigningAlgs = idTokenAlgsConfig(options.idTokenSigningAlgs, client.clientSecret);
  const discovery = discoveryConfig(options.discovery);
  const tokenEndpointParams = tokenEndpointParamsConfig(options.tokenEndpointParams);
  const requestObject = requestObjectConfig(options.requestObject);
  return {
    issuerBaseURL: options.issuerBaseURL ?? env.issuerBaseURL ?? issuerUrl.href,
    baseURL,
    ...routes,
    redirectUri: `${baseURL}${routes.routes.callback}`,
    https,
    clientID,
    ...client,
    secrets,
    scope: params.scope ?? LOGIN_DEFAULTS.scope,
    responseMode: params.responseMode ?? LOGIN_DEFAULTS.responseMode,
    extraAuthorizationParams: params.extra,
    maxAge: params.maxAge,
    ...behaviourConfig(options),
    backchannelLogout: backchannelLogoutConfig(options.backchannelLogout),
    tokenEndpointParams,
    requestObject,
    idTokenSigningAlgs,
    ...sessions,
    allowInsecureHttp,
    logger,
    discovery,
  };
}
