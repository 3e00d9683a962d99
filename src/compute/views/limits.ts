/**
 * Wire shapes of /limits, /os-quota-sets and /os-quota-class-sets (nova/api/openstack/compute/
 * views/limits.py, quota_sets.py, quota_classes.py) per microversion: network quotas leave
 * quota sets and /limits at 2.36 (quota class sets at 2.50, which adds the server group quotas
 * there), image metadata leaves /limits at 2.39, personality (injected files) at 2.57.
 */
import type { QuotaDetail, QuotaResource, QuotaSet } from '../services/quotas';
import { QUOTA_RESOURCES } from '../services/quotas';
import type { Mv } from './common';

/** What a project uses, as the compute service counts it. */
export interface QuotaUsage { instances: number; cores: number; ram: number; server_groups: number }

const NETWORK_QUOTAS = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'];
const PERSONALITY_QUOTAS = ['injected_files', 'injected_file_content_bytes', 'injected_file_path_bytes'];

/** GET /limits: the absolute limits and usage; `rate` is always empty (Nova dropped rate limits). */
export function limitsView(mv: Mv, q: QuotaSet, used: QuotaUsage) {
  const absolute: Record<string, number> = {
    maxTotalInstances: q.instances,
    maxTotalCores: q.cores,
    maxTotalRAMSize: q.ram,
    maxServerMeta: q.metadata_items,
    maxImageMeta: q.metadata_items,
    maxPersonality: q.injected_files,
    maxPersonalitySize: q.injected_file_content_bytes,
    maxTotalKeypairs: q.key_pairs,
    maxSecurityGroups: q.security_groups,
    maxSecurityGroupRules: q.security_group_rules,
    maxTotalFloatingIps: q.floating_ips,
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

/** The resources a quota set shows at a microversion (quota_sets.py _get_filtered_quotas). */
export function quotaSetResources(mv: Mv): QuotaResource[] {
  const hidden = [...(mv('2.36') ? NETWORK_QUOTAS : []), ...(mv('2.57') ? PERSONALITY_QUOTAS : [])];
  return QUOTA_RESOURCES.filter((r) => !hidden.includes(r));
}

/** The resources a quota class set shows (quota_classes.py): server groups only from 2.50, when the network ones leave. */
export function quotaClassResources(mv: Mv): QuotaResource[] {
  const hidden = [...(mv('2.50') ? NETWORK_QUOTAS : ['server_groups', 'server_group_members']), ...(mv('2.57') ? PERSONALITY_QUOTAS : [])];
  return QUOTA_RESOURCES.filter((r) => !hidden.includes(r));
}

function pick<T>(resources: QuotaResource[], values: Record<QuotaResource, T>): Record<string, T> {
  return Object.fromEntries(resources.map((r) => [r, values[r]]));
}

/** GET /os-quota-sets/{project}[/defaults]; PUT answers without the id (as Nova). */
export function quotaSetView(mv: Mv, projectId: string | undefined, q: QuotaSet) {
  return { quota_set: { ...(projectId === undefined ? {} : { id: projectId }), ...pick(quotaSetResources(mv), q) } };
}

/** GET /os-quota-sets/{project}/detail: each limit with its use. */
export function quotaSetDetailView(mv: Mv, projectId: string, detail: Record<QuotaResource, QuotaDetail>) {
  return { quota_set: { id: projectId, ...pick(quotaSetResources(mv), detail) } };
}

/** GET /os-quota-class-sets/{class}; PUT answers without the id (as Nova). */
export function quotaClassSetView(mv: Mv, className: string | undefined, q: QuotaSet) {
  return { quota_class_set: { ...(className === undefined ? {} : { id: className }), ...pick(quotaClassResources(mv), q) } };
}
