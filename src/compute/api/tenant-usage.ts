/**
 * os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py): what projects' servers
 * used in a window (`start`, `end`: now when absent), deleted servers included.
 *
 *   GET /os-simple-tenant-usage[?start&end&detailed=1]   every project's   admin
 *   GET /os-simple-tenant-usage/{project}[?start&end]    one project's     its readers; others: admin
 *
 * From 2.40 a page holds `limit` servers (at most MAX_LIMIT) after `marker`, and a full page has a
 * next link; before, the first MAX_LIMIT servers. From 2.75 unknown query parameters are a 400.
 */
import { Router, Request } from 'express';
import { badRequest } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { limitParam, queryParam } from '../../http/query';
import { MAX_LIMIT } from '../max-limit';
import { atLeast } from '../microversion';
import { TenantUsageService, usageWindow } from '../services/tenant-usage';
import { nextPageLinks } from '../views/common';
import { tenantUsageListView, tenantUsageShowView } from '../views/tenant-usage';

export interface TenantUsageRouterDeps {
  usage: TenantUsageService;
  publicUrl: string;
}

/** The first value of a query parameter, as Nova's parse_qs(...)[0]. */
function first(req: Request, name: string): string | undefined {
  const v = req.query[name];
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' ? one : undefined;
}

/** Window, paging and the 2.75 check of the query, common to both calls. */
function parseQuery(req: Request, allowed: string[]) {
  const paged = atLeast(req, '2.40');
  if (atLeast(req, '2.75')) {
    const known = [...allowed, 'limit', 'marker'];
    for (const k of Object.keys(req.query)) {
      if (!known.includes(k)) throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
    }
  }
  const window = usageWindow(first(req, 'start'), first(req, 'end'));
  const limit = paged ? (limitParam(req, MAX_LIMIT) ?? MAX_LIMIT) : MAX_LIMIT;
  const marker = paged ? queryParam(req, 'marker') : undefined;
  return { window, paged, limit, marker };
}

export function tenantUsageRouter({ usage, publicUrl }: TenantUsageRouterDeps): Router {
  // Strict: `/os-simple-tenant-usage/` (an empty project id) is no route, a 404 as in Nova.
  const router = Router({ strict: true });

  router.route('/os-simple-tenant-usage')
    .get(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-simple-tenant-usage:list');
      const q = parseQuery(req, ['start', 'end', 'detailed']);
      const detailed = first(req, 'detailed') === '1';
      const { tenants, servers } = await usage.usage(q.window, { detailed, limit: q.limit, marker: q.marker });
      const links = q.paged ? nextPageLinks(publicUrl, 'os-simple-tenant-usage', req.query, servers.length, servers[servers.length - 1]?.instance_id) : [];
      res.status(200).json(tenantUsageListView(tenants, links));
    }))
    .all(methodNotAllowed());

  router.route('/os-simple-tenant-usage/:projectId')
    .get(handle(async (req, res) => {
      const ctx = ctxOf(req);
      const projectId = String(req.params.projectId);
      if (projectId !== ctx.projectId) requireAdmin(ctx, 'os_compute_api:os-simple-tenant-usage:show');
      const q = parseQuery(req, ['start', 'end']);
      const { tenants, servers } = await usage.usage(q.window, { projectId, detailed: true, limit: q.limit, marker: q.marker });
      const path = `os-simple-tenant-usage/${encodeURIComponent(projectId)}`;
      const links = q.paged ? nextPageLinks(publicUrl, path, req.query, servers.length, servers[servers.length - 1]?.instance_id) : [];
      res.status(200).json(tenantUsageShowView(tenants[0], links));
    }))
    .all(methodNotAllowed());

  return router;
}
