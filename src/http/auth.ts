/** Every endpoint but version documents needs a valid project-scoped token: 401 otherwise. */
import type { RequestHandler } from 'express';
import { forbidden, unauthorized } from '../errors';
import type { TokenService } from '../identity/token-service';
import { canWrite, RequestContext } from './context';

export function requireToken(tokens: TokenService): RequestHandler {
  return (req, _res, next) => {
    const token = req.header('x-auth-token');
    if (!token) return next(unauthorized());
    tokens.context(token, req.id).then((ctx) => {
      req.context = ctx;
      next();
    }, next);
  };
}

export function ctxOf(req: { context?: RequestContext }): RequestContext {
  if (!req.context) throw unauthorized();
  return req.context;
}

/** Writes need member or admin; reader is read-only (403). */
export function requireWriter(): RequestHandler {
  return (req, _res, next) => {
    const ctx = req.context;
    if (!ctx) return next(unauthorized());
    if (req.method === 'GET' || req.method === 'HEAD') return next();
    if (!canWrite(ctx)) return next(forbidden(`Policy doesn't allow ${req.method} ${req.baseUrl}${req.path} to be performed.`));
    next();
  };
}

export function requireAdmin(ctx: RequestContext, what: string): void {
  if (!ctx.isAdmin) throw forbidden(`Policy doesn't allow ${what} to be performed.`);
}
