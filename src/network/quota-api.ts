/**
 * The network service's quota API (Neutron's quotasv2 and quota_details extensions): a member
 * reads its own project's limits; an admin reads and sets any project's. Shapes as Neutron's:
 * `{"quota": {"network": 100, …}}`, details `{"quota": {"network": {"limit", "used", "reserved"}}}`.
 */
import type { RequestContext } from '../http/context';
import { neutron, neutronCore } from './errors';
import { NETWORK_QUOTA_DEFAULTS, NETWORK_QUOTA_RESOURCES, NetworkQuotaResource, NetworkQuotas } from './quotas';
import { BOOL, resourceBody, ResourceSpec } from './validation';

const LIMIT = { type: 'integer', minimum: -1, maximum: 2147483647 };
const QUOTA_SPEC: ResourceSpec = {
  ...Object.fromEntries(NETWORK_QUOTA_RESOURCES.map((r) => [r, { schema: LIMIT, put: true }])),
  // OSC's `quota set --force` / `--check-limit`
  force: { schema: BOOL, put: true },
  check_limit: { schema: BOOL, put: true },
};

export class QuotaApi {
  constructor(private readonly quotas: NetworkQuotas, private readonly projectExists: (id: string) => Promise<boolean>) {}

  private mayRead(ctx: RequestContext, projectId: string): void {
    if (!ctx.isAdmin && projectId !== ctx.projectId) throw neutron.policy('get_quota');
  }

  async list(ctx: RequestContext): Promise<Record<string, unknown>[]> {
    if (!ctx.isAdmin) return [{ ...(await this.quotas.limits(ctx.projectId)), project_id: ctx.projectId, tenant_id: ctx.projectId }];
    return [];
  }

  async show(ctx: RequestContext, projectId: string): Promise<Record<string, unknown>> {
    this.mayRead(ctx, projectId);
    return { ...(await this.quotas.limits(projectId)) };
  }

  async defaults(ctx: RequestContext, projectId: string): Promise<Record<string, unknown>> {
    this.mayRead(ctx, projectId);
    return { ...NETWORK_QUOTA_DEFAULTS };
  }

  async details(ctx: RequestContext, projectId: string): Promise<Record<string, unknown>> {
    this.mayRead(ctx, projectId);
    const [limits, used] = await Promise.all([this.quotas.limits(projectId), this.quotas.used(projectId)]);
    return Object.fromEntries(NETWORK_QUOTA_RESOURCES.map((r) => [r, { limit: limits[r], used: used[r], reserved: 0 }]));
  }

  async update(ctx: RequestContext, projectId: string, body: unknown): Promise<Record<string, unknown>> {
    const a = resourceBody(body, 'quota', QUOTA_SPEC, 'put');
    if (!ctx.isAdmin) throw neutron.policy('update_quota');
    if (!(await this.projectExists(projectId))) throw neutronCore.badRequest(`Project ${projectId} could not be found`);
    const values: Partial<Record<NetworkQuotaResource, number>> = {};
    for (const r of NETWORK_QUOTA_RESOURCES) if (a[r] !== undefined) values[r] = a[r] as number;
    await this.quotas.set(projectId, values);
    return { ...(await this.quotas.limits(projectId)) };
  }

  async reset(ctx: RequestContext, projectId: string): Promise<void> {
    if (!ctx.isAdmin) throw neutron.policy('delete_quota');
    await this.quotas.reset(projectId);
  }
}
