import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { shortcuts } from '../config/shortcuts.js';

/**
 * A performance shortcut: the router `auth()` returns, called straight into its one layer while
 * the router holds only that layer. A router's dispatch (its state saved and restored around each
 * layer) costs more than a page view's whole pass through our layer, measured in BENCHMARKS.md.
 *
 * What comes back inherits the router (`Object.setPrototypeOf`), so it still is one: router
 * methods and `stack` work, and a layer the app adds to it later goes through the router as usual
 * (the shortcut then turns itself off).
 *
 * Off switch (internal, for the comparison test): `shortcuts.directDispatch = false` when
 * `auth()` is called returns the router itself (config/shortcuts.ts).
 */
export function directDispatch<T extends Router>(router: T, layer: RequestHandler): T {
  if (!shortcuts.directDispatch) return router;
  const direct = function auth(req: Request, res: Response, next: NextFunction): void {
    if (router.stack.length === 1) void layer(req, res, next);
    else router(req, res, next);
  } as unknown as T;
  Object.setPrototypeOf(direct, router);
  return direct;
}
