import type { ServerResponse } from 'node:http';

/**
 * Marks a response as never to be cached or stored (RFC 9111 §5.2.2.5; `Pragma` for HTTP/1.0
 * caches, RFC 6749 §5.1): sign-in pages, redirects carrying state, and error answers.
 */
export function noStore(res: Pick<ServerResponse, 'setHeader'>): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}
