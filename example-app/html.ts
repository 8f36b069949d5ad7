/**
 * Server-rendered HTML for the example app and its development IdP: one layout, one escape
 * function. Every value that did not come from this file goes through {@link escapeHtml}.
 */

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Markup that is already safe (built by this module or from escaped parts). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/**
 * Tagged template that escapes every interpolated value unless it is {@link Html} (or an array
 * of it), so pages are safe by construction.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

const STYLE = `
  :root { color-scheme: light; --fg: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --accent: #2457c5; --bg: #f6f7f9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { background: #fff; border-bottom: 1px solid var(--line); }
  header .bar { max-width: 52rem; margin: 0 auto; padding: .75rem 1.25rem; display: flex; align-items: center; gap: 1rem; }
  header .brand { font-weight: 600; text-decoration: none; color: var(--fg); }
  header nav { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
  main { max-width: 52rem; margin: 2rem auto; padding: 0 1.25rem; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem 1.5rem; margin-bottom: 1.25rem; }
  .narrow { max-width: 28rem; margin-left: auto; margin-right: auto; }
  h1 { font-size: 1.5rem; margin: 0 0 .75rem; }
  h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
  p { margin: .5rem 0; }
  .muted { color: var(--muted); }
  h2 .muted { font-weight: 400; font-size: .95rem; }
  a { color: var(--accent); }
  .button, button { display: inline-block; font: inherit; font-weight: 600; padding: .5rem 1rem; border-radius: 6px;
    border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
  .button.secondary, button.secondary { background: #fff; color: var(--accent); }
  form.inline { display: inline; margin: 0; }
  label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
  input[type=text], input[type=password] { width: 100%; font: inherit; padding: .5rem .6rem; border: 1px solid var(--line); border-radius: 6px; }
  .actions { display: flex; gap: .75rem; margin-top: 1.25rem; }
  .error { color: #a61b1b; background: #fdecec; border: 1px solid #f5c2c2; border-radius: 6px; padding: .5rem .75rem; }
  pre { background: #0f172a; color: #e2e8f0; padding: .9rem 1rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; margin: .5rem 0 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem; margin: 0; }
  dt { font-weight: 600; } dd { margin: 0; word-break: break-all; }
  ul.scopes { padding-left: 1.25rem; }
`;

/** Security headers for every HTML page: no scripts at all, no framing, no referrer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** A whole page: the shared layout around `body`, with an optional header navigation. */
export function page(options: { title: string; brand: string; nav?: Html; body: Html }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<header><div class="bar"><a class="brand" href="/">${options.brand}</a><nav>${options.nav ?? ''}</nav></div></header>
<main>
${options.body}
</main>
</body>
</html>
`.value;
}
