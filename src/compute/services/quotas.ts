/**
 * Quotas (nova/quota.py DbQuotaDriver, the legacy driver): the limit of a resource for a user in
 * a project is the first that is set of
 *
 *   the user's (within the project) → the project's → class 'default' → the config's quotas
 *                                                                          (and Nova's defaults)
 *
 * Every quota check of compute (boot, rebuild and server metadata, key pairs, server groups and
 * their members) and /limits read their limits here, from the database each time: a limit set
 * through one novadock process holds in all the others sharing the database at once.
 *
 * User limits are stored and shown as Nova shows them (GET ?user_id=); enforcement counts
 * per project, as the user limits' maximum is the project's.
 */
import type { QuotaConfig } from '../../config';
import { badRequest } from '../../errors';
import type { LimitRows, QuotaRepository } from '../../db/quota-repo';
import type { QuotaUsage } from '../views/limits';

/** Every resource Nova's quota driver knows (nova/quota.py QUOTAS), in its order. */
export const QUOTA_RESOURCES = [
  'instances', 'cores', 'ram', 'metadata_items', 'injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes',
  'key_pairs', 'server_groups', 'server_group_members', 'floating_ips', 'fixed_ips', 'security_groups', 'security_group_rules',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
/** A limit for every resource (-1: unlimited). */
export type QuotaSet = QuotaConfig & Record<QuotaResource, number>;
/** One resource of GET /os-quota-sets/{project}/detail. */
export interface QuotaDetail { limit: number; in_use: number; reserved: number }

/** Nova's defaults (nova/conf/quota.py) for what novadock's config has no setting for. */
export const NOVA_DEFAULT_QUOTAS = {
  floating_ips: 10, fixed_ips: -1, security_groups: 10, security_group_rules: 20,
  injected_files: 5, injected_file_content_bytes: 10240, injected_file_path_bytes: 255,
} as const;

/** The class every project starts from (Nova's only effective quota class). */
export const DEFAULT_QUOTA_CLASS = 'default';

/** What quota checks need: a project's (or a user's) current limits. */
export interface QuotaLimitsPort {
  limits(projectId: string, userId?: string): Promise<QuotaSet>;
}

export interface QuotaServiceDeps {
  repo: QuotaRepository;
  /** The config's quotas: the defaults before any class 'default' limit is set. */
  defaults: QuotaConfig;
  /** What a project (or one user of it) uses now. */
  usage(projectId: string, userId?: string): Promise<QuotaUsage>;
}

const overlay = (base: QuotaSet, rows: LimitRows): QuotaSet => {
  const out = { ...base };
  for (const r of QUOTA_RESOURCES) if (rows[r] !== undefined) out[r] = rows[r];
  return out;
};

/** -1 is unlimited: larger than any number. */
const inf = (v: number) => (v === -1 ? Number.POSITIVE_INFINITY : v);

export class QuotaService implements QuotaLimitsPort {
  constructor(private readonly deps: QuotaServiceDeps) {}

  /** A quota class's limits (Nova's get_class_quotas): its own over class 'default''s. */
  async classLimits(className: string): Promise<QuotaSet> {
    const base: QuotaSet = { ...NOVA_DEFAULT_QUOTAS, ...this.deps.defaults };
    const defaults = overlay(base, await this.deps.repo.classLimits(DEFAULT_QUOTA_CLASS));
    return className === DEFAULT_QUOTA_CLASS ? defaults : overlay(defaults, await this.deps.repo.classLimits(className));
  }

  /** The limits a new project has (GET …/defaults). */
  defaults(): Promise<QuotaSet> {
    return this.classLimits(DEFAULT_QUOTA_CLASS);
  }

  /** The project's limits, or the user's within it. */
  async limits(projectId: string, userId?: string): Promise<QuotaSet> {
    const project = overlay(await this.defaults(), await this.deps.repo.limits(projectId));
    return userId === undefined ? project : overlay(project, await this.deps.repo.limits(projectId, userId));
  }

  /** Each limit with what is in use (nothing is ever reserved). key_pairs and server_group_members count per user: 0 here, as in Nova. */
  async detail(projectId: string, userId?: string): Promise<Record<QuotaResource, QuotaDetail>> {
    const [limits, used] = await Promise.all([this.limits(projectId, userId), this.deps.usage(projectId, userId)]);
    const out = {} as Record<QuotaResource, QuotaDetail>;
    for (const r of QUOTA_RESOURCES) out[r] = { limit: limits[r], in_use: (used as unknown as Record<string, number>)[r] ?? 0, reserved: 0 };
    return out;
  }

  /**
   * Sets the project's limits (or the user's within it), Nova's QuotaSetsController.update:
   * unless `force`, every value is checked first (none is written when one is refused) against
   * what is in use (and, for a project, the limits its users hold), and a user's against what
   * the project leaves.
   */
  async update(projectId: string, userId: string | undefined, values: Partial<Record<QuotaResource, number>>, force: boolean): Promise<QuotaSet> {
    const wanted = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as LimitRows;
    if (!force) {
      const detail = await this.detail(projectId, userId);
      const userSums = await this.deps.repo.userLimitSums(projectId);
      const project = userId === undefined ? undefined : await this.limits(projectId);
      const mine = userId === undefined ? {} : await this.deps.repo.limits(projectId, userId);
      for (const [resource, limit] of Object.entries(wanted)) {
        const r = resource as QuotaResource;
        const minimum = userId === undefined ? Math.max(detail[r].in_use, userSums[r] ?? 0) : detail[r].in_use;
        if (inf(limit) < inf(minimum)) {
          throw badRequest(`Quota limit ${limit} for ${r} must be greater than or equal to already used and reserved ${minimum}.`);
        }
        // NOTE(openstack): a user's maximum is what the project's limit leaves after its users' limits, plus the user's own.
        const maximum = project === undefined || project[r] === -1 ? -1 : project[r] - (userSums[r] ?? 0) + (mine[r] ?? 0);
        if (inf(limit) > inf(maximum)) throw badRequest(`Quota limit ${limit} for ${r} must be less than or equal to ${maximum}.`);
      }
    }
    await this.deps.repo.setLimits(projectId, userId, wanted);
    return this.limits(projectId, userId);
  }

  /** Back to the defaults: the user's limits, or the project's and its users' (Nova's delete). */
  async reset(projectId: string, userId?: string): Promise<void> {
    await this.deps.repo.deleteLimits(projectId, userId);
  }

  /** Sets a quota class's limits (class 'default': the defaults of every project). */
  async updateClass(className: string, values: Partial<Record<QuotaResource, number>>): Promise<QuotaSet> {
    if (className.length < 1 || className.length > 255) {
      throw badRequest(`quota_class_name has ${className.length} characters, ${className.length < 1 ? 'less than 1' : 'more than 255'}.`);
    }
    await this.deps.repo.setClassLimits(className, Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as LimitRows);
    return this.classLimits(className);
  }
}
