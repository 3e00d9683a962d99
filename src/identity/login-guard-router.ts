/**
 * Issue 18 part 4, the HTTP side of the login guard, mounted on /identity ahead of the Keystone
 * router:
 * - POST /v3/auth/tokens: failed logins (401s) are counted per client address
 *   (express-rate-limit; successes are not counted); past the limit the request is answered 429
 *   with Retry-After before any password is hashed, in Keystone's error shape, and slowed: the
 *   answer comes a second late (failureLimit.delayMs), so a client that ignores Retry-After and asks again
 *   at once sends one request a second instead of as many as the loop can answer. The body is
 *   read first (the same parser the Keystone router uses, which then finds it parsed), so that
 *   the connection stays open: closing it would make every refused guess a new connection;
 * - PATCH /v3/users/{user_id}: Keystone's update user, for what unlocks a user: `enabled`.
 */
import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { DomainError } from '../errors';
import { handle } from '../http/async';
import { ctxOf, requireToken } from '../http/auth';
import { errorHandler } from '../http/errors';
import { validate } from '../http/validation';
import type { TokenService } from './token-service';
import type { LoginGuard, LoginUser } from './login-guard';

export interface LoginGuardRouterDeps {
  publicUrl: string;
  tokens: TokenService;
  logins: LoginGuard;
  /** Failed logins per client address per window (0: no limit). */
  failureLimit: { failures: number; windowSeconds: number; delayMs: number };
}

/** keystone/identity/schema.py user_update_request: a user object of at least one property. */
const USER_UPDATE = {
  type: 'object',
  properties: {
    user: { type: 'object', properties: { enabled: { type: 'boolean' } }, minProperties: 1 },
  },
  required: ['user'],
  additionalProperties: false,
};

/** Keystone's user body. */
export function userView(base: string, u: LoginUser) {
  return {
    id: u.id, name: u.name, domain_id: u.domain_id, enabled: Boolean(u.enabled), password_expires_at: null, options: {},
    ...(u.default_project_id ? { default_project_id: u.default_project_id } : {}),
    links: { self: `${base}/v3/users/${u.id}` },
  };
}

export function loginGuardRouter(deps: LoginGuardRouterDeps, log: Logger): Router {
  const r = Router();
  const base = `${deps.publicUrl}/identity`;
  const { failures, windowSeconds, delayMs } = deps.failureLimit;
  const json = express.json({ limit: '64kb', type: () => true });
  if (failures > 0) {
    r.post('/v3/auth/tokens', json, rateLimit({
      windowMs: windowSeconds * 1000,
      limit: failures,
      // Only failed credentials count: a client that logs in fine is never slowed.
      skipSuccessfulRequests: true,
      requestWasSuccessful: (_req, res) => res.statusCode !== 401,
      standardHeaders: false,
      legacyHeaders: false,
      handler: (req, _res, next) => {
        const reset = (req as { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
        const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : windowSeconds;
        const err = new DomainError('tooManyRequests', `Too many failed authentication attempts from this address. Retry after ${seconds} seconds.`, { 'Retry-After': String(seconds) });
        if (delayMs > 0) setTimeout(() => next(err), delayMs).unref();
        else next(err);
      },
    }));
  }
  r.patch('/v3/users/:id', json, requireToken(deps.tokens), handle(async (req, res) => {
    const body = validate<{ user: Record<string, unknown> }>(USER_UPDATE, req.body);
    const user = await deps.logins.update(ctxOf(req), String(req.params.id), body.user);
    res.json({ user: userView(base, user) });
  }));
  r.use(errorHandler('identity', log, deps.publicUrl));
  return r;
}
