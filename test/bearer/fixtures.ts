/** Shared pieces of the Bearer guard tests: an app around the guard, and the one refusal assertion. */
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { Server } from 'node:http';
import request, { type Response as TestResponse } from 'supertest';
import { requireBearer } from '../../src/bearer/middleware.js';
import type { BearerOptions } from '../../src/bearer/types.js';

export const AUDIENCE = 'https://api.example.test';

/** A logger that keeps what it is told, so tests can check nothing secret is logged. */
export function memoryLogger(): {
  lines: string[];
  debug(m: string, f?: unknown): void;
  info(m: string, f?: unknown): void;
  warn(m: string, f?: unknown): void;
  error(m: string, f?: unknown): void;
} {
  const lines: string[] = [];
  const push =
    (level: string) =>
    (message: string, fields?: unknown): void =>
      void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

/**
 * An Express app with `requireBearer(options)` on `/api` and a few routes:
 * `GET|POST /api/me` answers `req.auth` as JSON; `extra` routes are mounted after the guard.
 */
export function guardedApp(options: BearerOptions, extra?: (app: express.Express) => void) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(express.json());
  const guard = requireBearer({ logger: memoryLogger(), ...options });
  app.use('/api', guard);
  const me: RequestHandler = (req, res) => {
    res.json({
      present: req.auth !== undefined,
      sub: req.auth?.payload.sub,
      scopes: req.auth?.scopes,
      kind: req.auth?.kind,
      issuer: req.auth?.issuer,
      kid: req.auth?.header?.kid,
      tokenMatches:
        req.auth === undefined
          ? null
          : req.auth.token === String(req.headers.authorization ?? '').replace(/^bearer +/i, '') ||
            req.auth.token === (req.body as { access_token?: string } | undefined)?.access_token,
    });
  };
  app.get('/api/me', me);
  app.post('/api/me', me);
  extra?.(app);
  const onError: ErrorRequestHandler = (err: { status?: number; code?: string }, _req, res, _next) => {
    res.status(err.status ?? 500).json({ passed: true, code: err.code ?? 'unknown' });
  };
  app.use(onError);
  return { app, guard };
}

/**
 * `guardedApp(options)` listening on 127.0.0.1 (a real HTTP server), with a supertest agent;
 * `close()` stops it.
 */
export function listenGuarded(options: BearerOptions): {
  agent: ReturnType<typeof request>;
  guard: ReturnType<typeof guardedApp>['guard'];
  close(): Promise<void>;
} {
  const { app, guard } = guardedApp(options);
  const server: Server = app.listen(0, '127.0.0.1');
  return {
    agent: request(server),
    guard,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Asserts a refusal completely: status, the whole `WWW-Authenticate` value (or its absence),
 * `Cache-Control: no-store`, and the JSON body `{ error, error_description }`.
 */
export function expectRefusal(
  res: TestResponse,
  status: number,
  challenge: string | undefined,
  body: { error: string; error_description: string },
): void {
  expect({ status: res.status, challenge: res.headers['www-authenticate'], body: res.body as unknown }).toEqual({
    status,
    challenge,
    body,
  });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['content-type']).toMatch(/^application\/json/);
}

/** The challenge for an error with a description, realm "api". */
export function challengeFor(error: string, description: string, realm = 'api'): string {
  return `Bearer realm="${realm}", error="${error}", error_description="${description}"`;
}
