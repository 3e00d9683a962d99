import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Express 4 does not await handlers: forward rejections to the error middleware. */
export function handle(fn: (req: Request, res: Response, next: NextFunction) => Promise<unknown> | unknown): RequestHandler {
  return (req, res, next) => {
    try {
      const r = fn(req, res, next);
      if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).catch(next);
    } catch (e) {
      next(e);
    }
  };
}
