import type { IncomingMessage, ServerResponse } from 'node:http';
import { noStore } from '../util/no-store.js';
import { AuthorizationResponseError, type AuthError } from './index.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * True when the client prefers JSON over HTML: an `Accept` that names JSON before (or without)
 * HTML, or an XHR/fetch marker. Browsers navigating send `text/html` first.
 */
export function wantsJson(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? '').toLowerCase();
  if (req.headers['x-requested-with'] === 'XMLHttpRequest') return true;
  const json = accept.indexOf('json');
  if (json === -1) return false;
  const html = accept.indexOf('text/html');
  return html === -1 || json < html;
}

/** What the error page may link to. */
export interface RenderErrorOptions {
  /** The login route's path (`auth()` passes it when it has one): a "Log in again" link. */
  loginPath?: string;
}

/**
 * Writes an error as a short page (or JSON when the client asks for it): the status, the
 * error's own headers and its fixed public description. Never a stack trace, a token or a
 * library's message. A sign-in the user cancelled at the issuer (`access_denied`, RFC 6749
 * §4.1.2.1) reads "Sign-in cancelled", with a "Log in again" link when `options.loginPath` is given.
 */
export function renderError(req: IncomingMessage, res: ServerResponse, err: AuthError, options: RenderErrorOptions = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = err.status;
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  noStore(res);
  if (wantsJson(req)) {
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(err.toJSON()));
    return;
  }
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
  if (err instanceof AuthorizationResponseError && err.cancelled) {
    const again = options.loginPath === undefined ? '' : `<a href="${escapeHtml(options.loginPath)}">Log in again</a> · `;
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in cancelled</title>` +
        `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
        `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">` +
        `<h1>Sign-in cancelled</h1><p>You cancelled the sign-in, so you are not signed in.</p>` +
        `<p><code>${escapeHtml(err.code)}</code></p><p>${again}<a href="/">Home</a></p></body></html>`,
    );
    return;
  }
  const title = err.status >= 500 ? 'Service unavailable' : 'Sign-in failed';
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${err.status} ${title}</title>` +
      `<meta name="viewport" content="width=device-width, initial-scale=1"></head>` +
      `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">` +
      `<h1>${err.status} ${escapeHtml(title)}</h1><p>${escapeHtml(err.description)}</p>` +
      `<p><code>${escapeHtml(err.code)}</code></p><p><a href="/">Home</a></p></body></html>`,
  );
}
