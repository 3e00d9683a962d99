/**
 * The scheduler (nova/scheduler/manager.py _schedule, host_manager.py get_filtered_hosts):
 * filter, then weigh, once per instance of the request, consuming each choice before the next.
 *
 *   candidates ──(ignoreHosts / forcedHost)──▶ pool
 *     for each of spec.count instances:
 *       pool ──filters──▶ hosts that may take it     none → NoValidHost, nothing chosen
 *            ──weighers─▶ best first                  the first is chosen
 *            ──consume──▶ its RAM, vCPUs, instance count and group membership grow
 *
 * - ignoreHosts (a move's source) leave the pool first; a forced host (admin's `nova:host`,
 *   `nova::node`) then becomes the whole pool and only placement's capacity check applies to it
 *   (Nova skips the filters for a forced host; placement has no such bypass).
 * - Consuming (HostState.consume_from_request, and the selected host added to the group's hosts)
 *   is what makes `count` instances fit together: the second instance sees the first one's RAM
 *   taken and its group member placed. Either every instance gets a host or NoValidHost is thrown
 *   (manager._ensure_sufficient_hosts): the caller allocates only after a full answer.
 *
 * Pure: it reads HostCandidates and a RequestSpec, never a database or an engine, and leaves its
 * inputs as they were.
 */
import { HOST_FILTERS, HostFilter, RESOURCE_FILTERS } from './filters';
import { DEFAULT_WEIGHERS, Weigher, weighHosts } from './weighers';
import { HostCandidate, NoValidHost, RequestSpec } from './types';

/** Nova's reason when not every instance of a request found a host. */
export const NOT_ENOUGH_HOSTS = 'There are not enough hosts available.';

/** NoValidHost with what each filter left (for the log; the fault shows Nova's reason only). */
export class NoHostsPassed extends NoValidHost {
  constructor(readonly instance: number, readonly filterResults: string[]) {
    super(NOT_ENOUGH_HOSTS);
  }
}

export interface SchedulerOptions {
  /** Filters skipped for a forced host (default HOST_FILTERS). */
  hostFilters?: readonly HostFilter[];
  /** Filters applied to every host, a forced one too (default RESOURCE_FILTERS). */
  resourceFilters?: readonly HostFilter[];
  weighers?: readonly Weigher[];
}

const sameHost = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Chooses a host for each of `spec.count` instances, in order; throws NoValidHost (a
 * NoHostsPassed) when one of them finds none.
 */
export function selectHosts(candidates: readonly HostCandidate[], spec: RequestSpec, opts: SchedulerOptions = {}): string[] {
  const resourceFilters = opts.resourceFilters ?? RESOURCE_FILTERS;
  const filters = spec.forcedHost === undefined ? [...resourceFilters, ...(opts.hostFilters ?? HOST_FILTERS)] : resourceFilters;
  const weighers = opts.weighers ?? DEFAULT_WEIGHERS;
  // Copies: consuming changes them, and a group's member list grows with each choice.
  let pool = candidates.map((c) => ({ ...c }));
  const ignore = spec.ignoreHosts ?? [];
  if (ignore.length) pool = pool.filter((h) => !ignore.some((x) => sameHost(x, h.host)));
  if (spec.forcedHost !== undefined) pool = pool.filter((h) => sameHost(spec.forcedHost as string, h.host));
  const working: RequestSpec = spec.group ? { ...spec, group: { ...spec.group, memberHosts: [...spec.group.memberHosts] } } : spec;

  const chosen: string[] = [];
  for (let i = 0; i < spec.count; i++) {
    if (pool.length === 0) throw new NoHostsPassed(i, [spec.forcedHost !== undefined ? `no host matches the forced host ${spec.forcedHost}` : 'no hosts to choose from']);
    let hosts = pool;
    const results: string[] = [];
    for (const f of filters) {
      const before = hosts.length;
      hosts = hosts.filter((h) => f.passes(h, working));
      results.push(`${f.name}: (start: ${before}, end: ${hosts.length})`);
      if (hosts.length === 0) throw new NoHostsPassed(i, results);
    }
    const best = weighHosts(hosts, working, weighers)[0].host;
    best.usedMemoryMb += spec.memoryMb;
    best.usedVcpus += spec.vcpus;
    best.instances += 1;
    working.group?.memberHosts.push(best.host);
    chosen.push(best.host);
  }
  return chosen;
}
