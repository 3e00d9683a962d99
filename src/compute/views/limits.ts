/**
 * Wire shapes of /limits and /os-quota-sets (nova/api/openstack/compute/views/limits.py,
 * quota_sets.py) per microversion: network quotas leave at 2.36, image metadata at 2.39,
 * personality (injected files) at 2.57.
 */
import type { QuotaConfig } from '../../config';
import type { Mv } from './common';

/** Nova's default quotas for what novadock has no config for (nova/conf/quota.py). */
export const NOVA_DEFAULT_QUOTAS = {
  floating_ips: 10,
  security_groups: 10,
  security_group_rules: 20,
  injected_files: 5,
  injected_file_content_bytes: 10240,
} as const;

/** What a project uses, as the compute service counts it. */
export interface QuotaUsage { instances: number; cores: number; ram: number; server_groups: number }

/** GET /limits: the absolute limits and usage; `rate` is always empty (Nova dropped rate limits). */
export function limitsView(mv: Mv, q: QuotaConfig, used: QuotaUsage) {
  const absolute: Record<string, number> = {
    maxTotalInstances: q.instances,
    maxTotalCores: q.cores,
    maxTotalRAMSize: q.ram,
    maxServerMeta: q.metadata_items,
    maxImageMeta: q.metadata_items,
    maxPersonality: NOVA_DEFAULT_QUOTAS.injected_files,
    maxPersonalitySize: NOVA_DEFAULT_QUOTAS.injected_file_content_bytes,
    maxTotalKeypairs: q.key_pairs,
    maxSecurityGroups: NOVA_DEFAULT_QUOTAS.security_groups,
    maxSecurityGroupRules: NOVA_DEFAULT_QUOTAS.security_group_rules,
    maxTotalFloatingIps: NOVA_DEFAULT_QUOTAS.floating_ips,
    maxServerGroups: q.server_groups,
    maxServerGroupMembers: q.server_group_members,
    totalInstancesUsed: used.instances,
    totalCoresUsed: used.cores,
    totalRAMUsed: used.ram,
    // NOTE(openstack): with neutron, Nova reports 0 for what the network service counts.
    totalSecurityGroupsUsed: 0,
    totalFloatingIpsUsed: 0,
    totalServerGroupsUsed: used.server_groups,
  };
  if (mv('2.36')) {
    for (const k of ['maxSecurityGroups', 'maxSecurityGroupRules', 'maxTotalFloatingIps', 'totalSecurityGroupsUsed', 'totalFloatingIpsUsed']) delete absolute[k];
  }
  if (mv('2.39')) delete absolute.maxImageMeta;
  if (mv('2.57')) {
    delete absolute.maxPersonality;
    delete absolute.maxPersonalitySize;
  }
  return { limits: { rate: [], absolute } };
}

/** The quota set's limits at a microversion (one set from the config for every project). */
function quotaLimits(mv: Mv, q: QuotaConfig): Record<string, number> {
  const set: Record<string, number> = {
    instances: q.instances, cores: q.cores, ram: q.ram, metadata_items: q.metadata_items, key_pairs: q.key_pairs,
    floating_ips: NOVA_DEFAULT_QUOTAS.floating_ips, fixed_ips: -1,
    security_groups: NOVA_DEFAULT_QUOTAS.security_groups, security_group_rules: NOVA_DEFAULT_QUOTAS.security_group_rules,
    server_groups: q.server_groups, server_group_members: q.server_group_members,
    injected_files: NOVA_DEFAULT_QUOTAS.injected_files, injected_file_content_bytes: NOVA_DEFAULT_QUOTAS.injected_file_content_bytes,
    injected_file_path_bytes: 255,
  };
  if (mv('2.36')) for (const k of ['floating_ips', 'fixed_ips', 'security_groups', 'security_group_rules']) delete set[k];
  if (mv('2.57')) for (const k of ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes']) delete set[k];
  return set;
}

/** GET /os-quota-sets/{project}[/defaults]. */
export function quotaSetView(mv: Mv, projectId: string, q: QuotaConfig) {
  return { quota_set: { id: projectId, ...quotaLimits(mv, q) } };
}

/**
 * GET /os-quota-sets/{project}/detail: each limit with its use (nothing is ever reserved).
 * NOTE(openstack): key_pairs and server_group_members, counted per user, show 0 in use (quota.py _get_usages).
 */
export function quotaSetDetailView(mv: Mv, projectId: string, q: QuotaConfig, used: QuotaUsage) {
  const inUse: Record<string, number> = { instances: used.instances, cores: used.cores, ram: used.ram, server_groups: used.server_groups };
  const detail: Record<string, unknown> = { id: projectId };
  for (const [k, limit] of Object.entries(quotaLimits(mv, q))) detail[k] = { limit, in_use: inUse[k] ?? 0, reserved: 0 };
  return { quota_set: detail };
}
