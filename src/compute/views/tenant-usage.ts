/**
 * Wire shapes of os-simple-tenant-usage (nova/api/openstack/compute/simple_tenant_usage.py,
 * views/usages.py): Nova's naive timestamps with microseconds, `tenant_usages_links` (2.40) when a
 * page is full.
 */
import { isoMicros } from '../../http/wire-time';
import type { ServerUsage, TenantUsage } from '../services/tenant-usage';
import type { Link } from './common';

function serverUsageView(u: ServerUsage) {
  return { ...u, started_at: isoMicros(u.started_at), ended_at: isoMicros(u.ended_at) };
}

function tenantUsageView(t: TenantUsage) {
  const { server_usages, ...totals } = t;
  return { ...totals, start: isoMicros(t.start), stop: isoMicros(t.stop), ...(server_usages ? { server_usages: server_usages.map(serverUsageView) } : {}) };
}

/** GET /os-simple-tenant-usage. */
export function tenantUsageListView(tenants: TenantUsage[], links: Link[]) {
  return { tenant_usages: tenants.map(tenantUsageView), ...(links.length ? { tenant_usages_links: links } : {}) };
}

/** GET /os-simple-tenant-usage/{project}: {} when the project used nothing in the window. */
export function tenantUsageShowView(tenant: TenantUsage | undefined, links: Link[]) {
  return { tenant_usage: tenant ? tenantUsageView(tenant) : {}, ...(links.length ? { tenant_usage_links: links } : {}) };
}
