import { assertObject, optionError, optionalString, rejectUnknown, requiredUrl } from '../../config/assert.js';
import { LOGIN_DEFAULTS } from '../../config/defaults.js';
import type { LoginConfig, RouteOptions } from '../options.js';

const ROUTE_KEYS = new Set(['login', 'callback', 'logout', 'postLogoutRedirect', 'backchannelLogout']);

function routePath(path: string, value: unknown, fallback: string): string {
  const route = optionalString(path, value) ?? fallback;
  // Plain characters only: Express would read `:`, `*`, `(`... as route patterns.
  if (!route.startsWith('/') || route.startsWith('//') || !/^[A-Za-z0-9/_.~-]+$/.test(route)) {
    throw optionError(path, 'a path starting with a single "/" made of letters, digits and "/_.~-"');
  }
  return route;
}

/**
 * Where the issuer sends the browser after logout (`post_logout_redirect_uri`), and the local path
 * a logout without the issuer ends on: `baseURL`, a path under it, or an absolute URL.
 */
function postLogoutConfig(
  value: unknown,
  baseURL: string,
  base: URL,
  allowInsecureHttp: boolean,
): Pick<LoginConfig, 'postLogoutRedirectUri' | 'localPostLogoutPath'> {
  const home = `${base.pathname.replace(/\/+$/, '')}/`;
  const postLogout = optionalString('routes.postLogoutRedirect', value);
  if (postLogout === undefined) return { postLogoutRedirectUri: baseURL, localPostLogoutPath: home };
  if (postLogout.startsWith('/') && !postLogout.startsWith('//') && !postLogout.includes('\\')) {
    const uri = `${baseURL}${postLogout}`;
    return { postLogoutRedirectUri: uri, localPostLogoutPath: new URL(uri).pathname };
  }
  const url = requiredUrl('routes.postLogoutRedirect', postLogout, allowInsecureHttp);
  return { postLogoutRedirectUri: url.href, localPostLogoutPath: url.origin === base.origin ? `${url.pathname}${url.search}` : home };
}

/** `routes`: the paths `auth()` serves (plain paths only), and where logout ends. */
export function routesConfig(
  value: unknown,
  baseURL: string,
  base: URL,
  allowInsecureHttp: boolean,
): Pick<LoginConfig, 'routes' | 'postLogoutRedirectUri' | 'localPostLogoutPath'> {
  const raw: unknown = value ?? {};
  assertObject('routes', raw);
  rejectUnknown('routes.', raw, ROUTE_KEYS);
  const input = raw as RouteOptions;
  return {
    routes: {
      login: input.login === false ? false : routePath('routes.login', input.login, LOGIN_DEFAULTS.routes.login),
      callback: routePath('routes.callback', input.callback, LOGIN_DEFAULTS.routes.callback),
      logout: routePath('routes.logout', input.logout, LOGIN_DEFAULTS.routes.logout),
      backchannelLogout:
        input.backchannelLogout === false
          ? false
          : routePath('routes.backchannelLogout', input.backchannelLogout, LOGIN_DEFAULTS.routes.backchannelLogout),
    },
    ...postLogoutConfig(input.postLogoutRedirect, baseURL, base, allowInsecureHttp),
  };
}
