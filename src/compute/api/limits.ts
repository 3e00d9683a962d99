/**
 * Limits and quota sets (nova/api/openstack/compute/limits.py, quota_sets.py). Quotas come from
 * the config (one set for every project): they are shown here, never changed.
 *
 *   GET  /limits                                 quotas and usage    everyone (tenant_id=: admin)
 *   GET  /os-quota-sets/{project}                the quota set       own project; others: admin
 *   GET  /os-quota-sets/{project}/defaults       the defaults        everyone
 *   GET  /os-quota-sets/{project}/detail         limits with usage   own project; others: admin
 *   PUT  /os-quota-sets/{project}                501 (set in NOVADOCK_CONFIG)  admin
 */
import { Router, Request } from 'express';
import { notImplemented } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { queryParam } from '../../http/query';
import type { QuotaConfig } from '../../config';
import { mvOf } from '../microversion';
import { QuotaUsage, limitsView, quotaSetDetailView, quotaSetView } from '../views/limits';

export interface LimitsRouterDeps {
  /** The quotas of every project. */
  quotas: QuotaConfig;
  /** What a project's servers use (ServerQueries.usage). */
  usage(projectId: string): Promise<QuotaUsage>;
}

export function limitsRouter({ quotas, usage }: LimitsRouterDeps): Router {
  const router = Router();

  router.get('/limits', handle(async (req, res) => {
    const ctx = ctxOf(req);
    let projectId = ctx.projectId;
    const tenant = queryParam(req, 'tenant_id');
    if (tenant !== undefined && tenant !== ctx.projectId) {
      requireAdmin(ctx, 'os_compute_api:limits:other_project');
      projectId = tenant;
    }
    res.status(200).json(limitsView(mvOf(req), quotas, await usage(projectId)));
  }));
  router.all('/limits', methodNotAllowed());

  /** Own project for everyone; another project's only for admins (Nova's os-quota-sets:show policy). */
  const quotaProject = (req: Request) => {
    const ctx = ctxOf(req);
    const projectId = String(req.params.projectId);
    if (projectId !== ctx.projectId) requireAdmin(ctx, 'os_compute_api:os-quota-sets:show');
    return projectId;
  };
  router.get('/os-quota-sets/:projectId', handle(async (req, res) => {
    res.status(200).json(quotaSetView(mvOf(req), quotaProject(req), quotas));
  }));
  router.get('/os-quota-sets/:projectId/defaults', handle(async (req, res) => {
    res.status(200).json(quotaSetView(mvOf(req), String(req.params.projectId), quotas));
  }));
  router.get('/os-quota-sets/:projectId/detail', handle(async (req, res) => {
    const id = quotaProject(req);
    res.status(200).json(quotaSetDetailView(mvOf(req), id, quotas, await usage(id)));
  }));
  router.put('/os-quota-sets/:projectId', handle(async (req) => {
    requireAdmin(ctxOf(req), 'os_compute_api:os-quota-sets:update');
    throw notImplemented('Quotas are set in the novadock config file (NOVADOCK_CONFIG "quotas"), not through the API.');
  }));
  router.all(['/os-quota-sets/:projectId', '/os-quota-sets/:projectId/defaults', '/os-quota-sets/:projectId/detail'], methodNotAllowed());

  return router;
}
