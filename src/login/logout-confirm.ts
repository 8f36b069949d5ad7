import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { escapeHtml } from '../errors/render.js';
import { noStore } from '../util/no-store.js';

/** The form a logout confirmation page must hold: one button that POSTs to `action`. */
export interface LogoutConfirmForm {
  /** The logout route (path under `baseURL`), the form's `action`. */
  action: string;
  /** Always `'post'`. */
  method: 'post';
}

function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}

/**
 * True when a request says another site started it (a cross-site request forgery of a logout):
 * `Sec-Fetch-Site: cross-site` (W3C Fetch Metadata). A browser that sends no Fetch Metadata but
 * an `Origin` other than the app's (`null` included: sandboxed frames) counts as cross-site too;
 * a request with neither header (older browsers on a link, scripts) does not.
 * `same-site` (a sibling subdomain) and `none` (typed or bookmarked) are not cross-site.
 */
export function startedCrossSite(headers: IncomingHttpHeaders, appOrigin: string): boolean {
  const site = singleHeader(headers, 'sec-fetch-site');
  if (site !== undefined) return site === 'cross-site';
  const origin = singleHeader(headers, 'origin');
  return origin !== undefined && origin !== appOrigin.toLowerCase();
}

/**
 * Headers of a confirmation page: never cached, never framed (a framed page could trick the
 * click; `frame-ancestors` and `X-Frame-Options` for older browsers).
 */
export function setConfirmPageHeaders(res: ServerResponse): void {
  noStore(res);
  res.setHeader('X-Frame-Options', 'DENY');
}

/** The built-in confirmation page: a short HTML page with the POST button and a way back. */
export function renderLogoutConfirm(res: ServerResponse, form: LogoutConfirmForm, home: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Log out?</title>` +
      `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
      `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">` +
      `<h1>Log out?</h1><p>Another site asked to log you out. Log out only if you meant to.</p>` +
      `<form method="post" action="${escapeHtml(form.action)}"><button type="submit">Log out</button></form>` +
      `<p><a href="${escapeHtml(home)}">Stay signed in</a></p></body></html>`,
  );
}
