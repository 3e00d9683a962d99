/**
 * Quotas of the network service (Neutron's quota resources and defaults), kept in the `quotas`
 * table beside compute's (Neutron's names do not meet Nova's). A create is counted and inserted in
 * one transaction serialized per project and resource, so two concurrent creates cannot both take
 * the last unit. Limit -1: unlimited.
 */
import type { Knex } from 'knex';
import type { NetworkQuotaRepository } from '../db/network-quota-repo';
import type { QuotaRepository } from '../db/quota-repo';
import { neutron } from './errors';

/** Neutron's resources and default limits (neutron/conf/quota.py). */
export const NETWORK_QUOTA_DEFAULTS = {
  network: 100, subnet: 100, port: 500, security_group: 10, security_group_rule: 100, floatingip: 50, router: 10,
} as const;
export type NetworkQuotaResource = keyof typeof NETWORK_QUOTA_DEFAULTS;
export const NETWORK_QUOTA_RESOURCES = Object.keys(NETWORK_QUOTA_DEFAULTS) as NetworkQuotaResource[];

/** Where each resource's rows are counted. */
const TABLE_OF: Record<NetworkQuotaResource, string> = {
  network: 'networks', subnet: 'subnets', port: 'ports', security_group: 'security_groups', security_group_rule: 'security_group_rules', floatingip: 'floating_ips', router: 'routers',
};

export type QuotaLimits = Record<NetworkQuotaResource, number>;

export class NetworkQuotas {
  constructor(private readonly repo: NetworkQuotaRepository, private readonly limitsRepo: QuotaRepository) {}

  /** The project's limits: its own where set, else Neutron's defaults. */
  async limits(projectId: string, trx?: Knex.Transaction): Promise<QuotaLimits> {
    return { ...NETWORK_QUOTA_DEFAULTS, ...(await this.repo.limits(projectId, NETWORK_QUOTA_RESOURCES, trx)) } as QuotaLimits;
  }

  async used(projectId: string): Promise<QuotaLimits> {
    const out = {} as QuotaLimits;
    for (const r of NETWORK_QUOTA_RESOURCES) out[r] = await this.repo.count(TABLE_OF[r], projectId);
    return out;
  }

  /**
   * Inside `trx` (one that holds the project's turn for `resource`: see `inserting`): throws
   * OverQuota when `adding` more would exceed the project's limit.
   */
  async check(projectId: string, resource: NetworkQuotaResource, trx: Knex.Transaction, adding = 1): Promise<void> {
    const limit = (await this.limits(projectId, trx))[resource];
    if (limit >= 0 && (await this.repo.count(TABLE_OF[resource], projectId, trx)) + adding > limit) throw neutron.overQuota(resource);
  }

  /** Runs `insert` in a transaction serialized per project and resource, after a quota check of one more. */
  async inserting<T>(projectId: string, resource: NetworkQuotaResource, insert: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.repo.serialized(`network-quota:${projectId}:${resource}`, async (trx) => {
      await this.check(projectId, resource, trx);
      return insert(trx);
    });
  }

  async set(projectId: string, values: Partial<QuotaLimits>): Promise<void> {
    await this.limitsRepo.setLimits(projectId, undefined, values as Record<string, number>);
  }

  /** Back to the defaults: forgets the project's network limits only (compute's stay). */
  async reset(projectId: string): Promise<void> {
    await this.repo.reset(projectId, NETWORK_QUOTA_RESOURCES);
  }
}
