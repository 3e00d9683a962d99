/**
 * /compute/v2.1/os-keypairs — SSH key pairs per user (nova/api/openstack/compute/keypairs.py).
 * Mounted by computeRouter after the token, microversion and JSON-body middleware.
 *
 *   GET    /         list the user's key pairs (2.10: ?user_id= for admins; 2.35: limit/marker)
 *   POST   /         generate (private_key returned once) or import (public_key) a key pair
 *   GET    /{name}   show
 *   DELETE /{name}   delete (202 at 2.1, 204 from 2.2)
 *
 * Microversions: 2.2 adds `type` (ssh|x509) and answers create with 201; 2.10 lets admins act
 * for another user; 2.35 pages the list; 2.92 forbids generation (public_key required) and
 * allows '@' and '.' in names.
 */
import { Router, Request } from 'express';
import { forbidden } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { canWrite, RequestContext } from '../../http/context';
import { methodNotAllowed } from '../../http/errors';
import { limitParam, queryParam } from '../../http/query';
import { validate } from '../../http/validation';
import type { KeypairType } from '../services/keypairs';
import { MAX_LIMIT } from '../max-limit';
import { atLeast, mvOf } from '../microversion';
import type { KeypairService } from '../services/keypairs';
import { keypairCreatedView, keypairListView, keypairView } from '../views/keypairs';
import * as schemas from '../schemas/keypairs';

export interface KeypairsRouterDeps {
  keypairs: KeypairService;
  /** Base of the absolute links (the list's "next" link). */
  publicUrl: string;
}

/**
 * The user a request acts for: `user_id` (query or body, from 2.10) when given, else the caller.
 * Acting for someone else is an admin's right (Nova: "admin_api or user_id:%(user_id)s").
 */
function targetUser(req: Request, ctx: RequestContext, action: string, fromBody?: string): string {
  let userId = fromBody;
  if (userId === undefined && atLeast(req, '2.10')) userId = queryParam(req, 'user_id');
  if (!atLeast(req, '2.10') || userId === undefined) return ctx.userId;
  if (userId !== ctx.userId && !ctx.isAdmin) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:${action} to be performed.`);
  return userId;
}

function requireWrite(ctx: RequestContext, action: string): void {
  if (!canWrite(ctx)) throw forbidden(`Policy doesn't allow os_compute_api:os-keypairs:${action} to be performed.`);
}

interface CreateBody { keypair: { name: string; public_key?: string; type?: KeypairType; user_id?: string } }

export function keypairsRouter({ keypairs, publicUrl }: KeypairsRouterDeps): Router {
  const router = Router();

  router.route('/')
    .get(handle(async (req, res) => {
      const ctx = ctxOf(req);
      const userId = targetUser(req, ctx, 'index');
      const paged = atLeast(req, '2.35');
      const page = paged ? { limit: limitParam(req, MAX_LIMIT), marker: queryParam(req, 'marker') } : {};
      const list = await keypairs.list(userId, page);
      res.status(200).json(keypairListView(mvOf(req), publicUrl, list, paged, req.query));
    }))
    .post(handle(async (req, res) => {
      const { keypair: k } = validate<CreateBody>(schemas.createKeypairSchema(mvOf(req)), req.body);
      const ctx = ctxOf(req);
      requireWrite(ctx, 'create');
      const userId = targetUser(req, ctx, 'create', k.user_id);
      const { keypair, privateKey } = await keypairs.create(ctx.projectId, userId, k.name, k.type ?? 'ssh', k.public_key);
      res.status(atLeast(req, '2.2') ? 201 : 200).json(keypairCreatedView(mvOf(req), keypair, privateKey));
    }))
    .all(methodNotAllowed());

  router.route('/:name')
    .get(handle(async (req, res) => {
      const ctx = ctxOf(req);
      const userId = targetUser(req, ctx, 'show');
      res.status(200).json(keypairView(mvOf(req), await keypairs.get(userId, req.params.name)));
    }))
    .delete(handle(async (req, res) => {
      const ctx = ctxOf(req);
      requireWrite(ctx, 'delete');
      const userId = targetUser(req, ctx, 'delete');
      await keypairs.delete(userId, req.params.name);
      res.status(atLeast(req, '2.2') ? 204 : 202).end();
    }))
    .all(methodNotAllowed());

  return router;
}
