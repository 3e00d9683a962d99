/**
 * Limits (nova/api/openstack/compute/limits.py): the project's quotas (src/compute/services/
 * quotas.ts) and what it uses. Quota sets live in quotas.ts.
 *
 *   GET  /limits                                 quotas and usage    everyone (tenant_id=: admin)
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { queryParam } from '../../http/query';
import { mvOf } from '../microversion';
import type { QuotaLimitsPort } from '../services/quotas';
import { QuotaUsage, limitsView } from '../views/limits';

export interface LimitsRouterDeps {
  /** Every project's quotas. */
  quotas: QuotaLimitsPort;
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
    const [limits, used] = await Promise.all([quotas.limits(projectId), usage(projectId)]);
    res.status(200).json(limitsView(mvOf(req), limits, used));
  }));
  router.all('/limits', methodNotAllowed());

  return router;
}
