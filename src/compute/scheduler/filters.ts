/**
 * The scheduler's filters (nova/scheduler/filters, and placement's capacity check): each says
 * whether one host may take the next instance of a request. Pure functions of a HostCandidate
 * and the RequestSpec; the scheduler updates the candidate after each choice (consume), so a
 * filter always sees what the instances placed before it in the same request took.
 */
import type { HostCandidate, RequestSpec } from './types';

export interface HostFilter {
  /** Nova's class name, for the log of what removed which hosts. */
  readonly name: string;
  /** True when `host` may take the next instance of `spec`. */
  passes(host: HostCandidate, spec: RequestSpec): boolean;
}

/**
 * Placement's rule for one resource class: the host has room while
 * used + demand <= (total - reserved) * allocation_ratio. `total` is already less the reserve.
 */
export function fits(total: number, ratio: number, used: number, demand: number): boolean {
  return used + demand <= total * ratio;
}

/** RAM (placement's MEMORY_MB inventory; Nova's former RamFilter). */
export const RamFilter: HostFilter = {
  name: 'RamFilter',
  passes: (h, spec) => fits(h.memoryMb, h.ramAllocationRatio, h.usedMemoryMb, spec.memoryMb),
};

/** vCPUs (placement's VCPU inventory; Nova's former CoreFilter). */
export const CoreFilter: HostFilter = {
  name: 'CoreFilter',
  passes: (h, spec) => fits(h.vcpus, h.cpuAllocationRatio, h.usedVcpus, spec.vcpus),
};

/** The host's nova-compute service is enabled (os-services) and up (engine answering, not forced down). */
export const ComputeFilter: HostFilter = {
  name: 'ComputeFilter',
  passes: (h) => h.enabled && h.up,
};

/** The host is in the requested availability zone (any host when none was requested). */
export const AvailabilityZoneFilter: HostFilter = {
  name: 'AvailabilityZoneFilter',
  passes: (h, spec) => spec.availabilityZone === undefined || h.zone === spec.availabilityZone,
};

/** Members of the group already on `host` (each instance placed counts, this request's too). */
export function membersOn(host: string, spec: RequestSpec): number {
  let n = 0;
  for (const m of spec.group?.memberHosts ?? []) if (m === host) n += 1;
  return n;
}

/**
 * Hard anti-affinity: fewer than max_server_per_host (2.64 rules; 1 otherwise) members of the
 * group on the host.
 */
export const ServerGroupAntiAffinityFilter: HostFilter = {
  name: 'ServerGroupAntiAffinityFilter',
  passes: (h, spec) => spec.group?.policy !== 'anti-affinity' || membersOn(h.host, spec) < (spec.group.maxServerPerHost ?? 1),
};

/** Hard affinity: once a member is placed, only the hosts holding members. */
export const ServerGroupAffinityFilter: HostFilter = {
  name: 'ServerGroupAffinityFilter',
  passes: (h, spec) => spec.group?.policy !== 'affinity' || spec.group.memberHosts.length === 0 || spec.group.memberHosts.includes(h.host),
};

/** What placement checks: never skipped, a forced host included (placement has no such bypass). */
export const RESOURCE_FILTERS: readonly HostFilter[] = [RamFilter, CoreFilter];

/** Nova's enabled_filters (with the zone check of its request filters): skipped for a forced host. */
export const HOST_FILTERS: readonly HostFilter[] = [AvailabilityZoneFilter, ComputeFilter, ServerGroupAntiAffinityFilter, ServerGroupAffinityFilter];
