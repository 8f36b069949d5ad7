/**
 * Shared by the in-process guard micro benchmarks (bench/micro/guard-*.ts): one request through
 * a guard without HTTP, with the least of Express's `req`/`res` a guard reads. Resolves when the
 * guard calls `next()`, rejects when it answers (a refusal) or passes an error.
 */
import type { Request, RequestHandler, Response } from 'express';

export function runGuard(guard: RequestHandler, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const res = {
      statusCode: 200,
      headersSent: false,
      setHeader() {},
      getHeader() {},
      set() {
        return res;
      },
      status() {
        return res;
      },
      end: () => reject(new Error('refused')),
      json: () => reject(new Error('refused')),
    };
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, host: '127.0.0.1:3000' };
    const req = {
      headers,
      method: 'GET',
      url: '/api',
      originalUrl: '/api',
      protocol: 'http',
      query: {},
      is: () => false,
      get: (name: string) => headers[name.toLowerCase()],
      header: (name: string) => headers[name.toLowerCase()],
      body: undefined,
    };
    guard(req as unknown as Request, res as unknown as Response, (err?: unknown) => (err ? reject(err as Error) : resolve()));
  });
}
