/**
 * Shared by the in-process guard micro benchmarks (bench/micro/guard-*.ts): one request through
 * a guard without HTTP, with the least of Express's `req`/`res` a guard reads.
 */
import type { Request, RequestHandler, Response } from 'express';

/** A response the guard must not answer: answering it (a refusal) calls `refused`. */
export function benchResponse(refused: () => void): Response {
  const res = {
    statusCode: 200,
    headersSent: false,
    setHeader() {},
    getHeader() {},
    set: () => res,
    status: () => res,
    end: refused,
    json: refused,
  };
  return res as unknown as Response;
}

/** What every bench request inherits: the accessors of Express's `req`, shared, so a request costs one small object. */
const REQUEST_METHODS = {
  is: () => false,
  get(this: { headers: Record<string, string> }, name: string) {
    return this.headers[name.toLowerCase()];
  },
  header(this: { headers: Record<string, string> }, name: string) {
    return this.headers[name.toLowerCase()];
  },
};

/** A `GET /api` request carrying `authorization`, with the members a guard may read. */
export function benchRequest(authorization: string): Request {
  const req = Object.create(REQUEST_METHODS) as Record<string, unknown>;
  req.headers = { authorization, host: '127.0.0.1:3000' };
  req.method = 'GET';
  req.url = '/api';
  req.originalUrl = '/api';
  req.protocol = 'http';
  req.query = {};
  req.body = undefined;
  return req as unknown as Request;
}

/** Resolves when the guard calls `next()`, rejects when it answers (a refusal) or passes an error. */
export function runGuard(guard: RequestHandler, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const res = benchResponse(() => reject(new Error('refused')));
    guard(benchRequest(`Bearer ${token}`), res, (err?: unknown) => (err ? reject(err as Error) : resolve()));
  });
}
