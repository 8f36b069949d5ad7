import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Wraps an async handler so a rejection reaches `next(err)`. Express 5 does this itself; Express 4
 * does not, so every async path of this package goes through here and both behave the same.
 */
export function asyncHandler(name: string, fn: (req: Request, res: Response, next: NextFunction) => Promise<void>): RequestHandler {
  const handler = (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res, next).catch(next);
  };
  // A named function keeps stack traces and Express' router debug output readable.
  Object.defineProperty(handler, 'name', { value: name });
  return handler;
}
