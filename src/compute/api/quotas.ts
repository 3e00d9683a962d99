/**
 * Quota sets and quota class sets (nova/api/openstack/compute/quota_sets.py, quota_classes.py),
 * kept in the database (src/compute/services/quotas.ts).
 *
 *   GET    /os-quota-sets/{project}[?user_id=]        the limits             own project; others: admin
 *   PUT    /os-quota-sets/{project}[?user_id=]        set limits (`force`)   admin
 *   DELETE /os-quota-sets/{project}[?user_id=]        back to defaults (202) admin
 *   GET    /os-quota-sets/{project}/defaults          the defaults           everyone
 *   GET    /os-quota-sets/{project}/detail[?user_id=] limit, in_use, reserved own project; others: admin
 *   GET    /os-quota-class-sets/{class}               a class's limits       admin
 *   PUT    /os-quota-class-sets/{class}               set them ('default': every project's defaults)  admin
 */
import { Router, Request } from 'express';
import { badRequest } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { queryParam } from '../../http/query';
import { validate } from '../../http/validation';
import { atLeast, mvOf } from '../microversion';
import { toBool } from '../schemas/parameter-types';
import { limitsOf, updateQuotaClassSetSchema, updateQuotaSetSchema } from '../schemas/quotas';
import type { QuotaService } from '../services/quotas';
import { quotaClassSetView, quotaSetDetailView, quotaSetView } from '../views/limits';

export interface QuotasRouterDeps {
  quotas: QuotaService;
}

/** ?user_id= (the last one given); from 2.75 any other query parameter is a 400. */
function userOf(req: Request): string | undefined {
  if (atLeast(req, '2.75')) {
    for (const k of Object.keys(req.query)) {
      if (k !== 'user_id') throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
    }
  }
  return queryParam(req, 'user_id') || undefined;
}

export function quotasRouter({ quotas }: QuotasRouterDeps): Router {
  const router = Router();

  /** Own project for everyone; another project's only for admins (Nova's PROJECT_READER_OR_ADMIN). */
  const readable = (req: Request, what: 'show' | 'detail') => {
    const ctx = ctxOf(req);
    const projectId = String(req.params.projectId);
    if (projectId !== ctx.projectId) requireAdmin(ctx, `os_compute_api:os-quota-sets:${what}`);
    return projectId;
  };

  router.route('/os-quota-sets/:projectId')
    .get(handle(async (req, res) => {
      const projectId = readable(req, 'show');
      res.status(200).json(quotaSetView(mvOf(req), projectId, await quotas.limits(projectId, userOf(req))));
    }))
    .put(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-quota-sets:update');
      const mv = mvOf(req);
      const { quota_set: body } = validate<{ quota_set: Record<string, unknown> }>(updateQuotaSetSchema(mv), req.body);
      const force = body.force !== undefined && toBool(body.force);
      const set = await quotas.update(String(req.params.projectId), userOf(req), limitsOf(body), force);
      // NOTE(openstack): the update's answer has no id (quota_sets.py update).
      res.status(200).json(quotaSetView(mv, undefined, set));
    }))
    .delete(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-quota-sets:delete');
      await quotas.reset(String(req.params.projectId), userOf(req));
      res.status(202).end();
    }))
    .all(methodNotAllowed());

  router.route('/os-quota-sets/:projectId/defaults')
    .get(handle(async (req, res) => {
      res.status(200).json(quotaSetView(mvOf(req), String(req.params.projectId), await quotas.defaults()));
    }))
    .all(methodNotAllowed());

  router.route('/os-quota-sets/:projectId/detail')
    .get(handle(async (req, res) => {
      const projectId = readable(req, 'detail');
      res.status(200).json(quotaSetDetailView(mvOf(req), projectId, await quotas.detail(projectId, userOf(req))));
    }))
    .all(methodNotAllowed());

  router.route('/os-quota-class-sets/:className')
    .get(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-quota-class-sets:show');
      const className = String(req.params.className);
      res.status(200).json(quotaClassSetView(mvOf(req), className, await quotas.classLimits(className)));
    }))
    .put(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-quota-class-sets:update');
      const mv = mvOf(req);
      const { quota_class_set: body } = validate<{ quota_class_set: Record<string, unknown> }>(updateQuotaClassSetSchema(mv), req.body);
      res.status(200).json(quotaClassSetView(mv, undefined, await quotas.updateClass(String(req.params.className), limitsOf(body))));
    }))
    .all(methodNotAllowed());

  return router;
}
