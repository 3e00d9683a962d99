/**
 * Wire shapes of os-hypervisors (nova/api/openstack/compute/views/hypervisors.py, hypervisors.py)
 * per microversion:
 *
 *   2.1   ids are the host's 1-based position; cpu_info is a JSON string
 *   2.28  cpu_info is an object
 *   2.53  ids are UUIDs (hypervisor and service), `servers` with with_servers=true
 *   2.88  the resource figures (vcpus, memory_mb, local_gb…) leave the detail view
 *
 * Usage figures come from the database (placement's allocations plus the configured reserve, as
 * Nova's compute node counts them; disk from the servers' flavors), status from os-services,
 * never from an engine call.
 */
import net from 'node:net';
import type { ServerRecord } from '../server-record';
import type { HostState } from '../services/hosts';
import type { HostFigures } from '../scheduler/placement';
import { instanceName } from '../naming';
import type { Mv } from './common';

/** A host before anything is allocated on it: nothing used, enabled. */
const NO_FIGURES: HostFigures = { memoryMbUsed: 0, vcpusUsed: 0, runningVms: 0, disabled: false, disabledReason: null, forcedDown: false };

/** What a host holds: placement's figures, and the servers recorded on it (their flavors' disk). */
export interface HostUsage { figures: HostFigures; localGbUsed: number; servers: ServerRecord[] }

export function hostUsage(servers: ServerRecord[], figures: HostFigures | undefined): HostUsage {
  let localGbUsed = 0;
  for (const s of servers) localGbUsed += s.flavor.disk + s.flavor.ephemeral;
  return { figures: figures ?? NO_FIGURES, localGbUsed, servers };
}

/** state: the engine answering and the service not forced down (Nova's servicegroup is_up). */
const stateOf = (h: HostState, f: HostFigures | undefined) => (h.state === 'up' && !f?.forcedDown ? 'up' : 'down');
const statusOf = (f: HostFigures | undefined) => (f?.disabled ? 'disabled' : 'enabled');

/** The hypervisor id a microversion shows: an integer below 2.53, a UUID from 2.53. */
export function hypervisorId(mv: Mv, h: HostState): string | number {
  return mv('2.53') ? h.uuid : h.index;
}

/** hypervisor_hostname: what the engine calls itself, else the compute host's name. */
export function hypervisorHostname(h: HostState): string {
  return h.info?.hostname || h.host;
}

const serverRefs = (servers: ServerRecord[]) => servers.map((s) => ({ uuid: s.id, name: instanceName(s.sequence) }));

/**
 * Summary: {id, hypervisor_hostname, state, status}, plus servers when asked (2.53 with_servers,
 * search/servers): from 2.75 an empty list when there are none.
 */
export function hypervisorSummary(mv: Mv, h: HostState, f: HostFigures | undefined, withServers?: ServerRecord[]): Record<string, unknown> {
  const v: Record<string, unknown> = { id: hypervisorId(mv, h), hypervisor_hostname: hypervisorHostname(h), state: stateOf(h, f), status: statusOf(f) };
  if (withServers && (withServers.length > 0 || mv('2.75'))) v.servers = serverRefs(withServers);
  return v;
}

/** Detail (list-detail, show, and the figures statistics sums). */
export function hypervisorDetail(mv: Mv, h: HostState, u: HostUsage, withServers?: boolean): Record<string, unknown> {
  const info = h.info;
  const f = u.figures;
  const v: Record<string, unknown> = {
    id: hypervisorId(mv, h),
    hypervisor_hostname: hypervisorHostname(h),
    state: stateOf(h, f),
    status: statusOf(f),
    hypervisor_type: info?.hypervisorType ?? 'docker',
    hypervisor_version: info?.hypervisorVersion ?? 0,
    host_ip: info?.hostIp && net.isIP(info.hostIp) ? info.hostIp : null,
    service: { host: h.host, id: mv('2.53') ? h.serviceUuid : h.index, disabled_reason: f.disabledReason },
  };
  if (!mv('2.88')) {
    const vcpus = info?.vcpus ?? 0;
    const memoryMb = info?.memoryMb ?? 0;
    // Containers share the engine's disk: no per-host disk inventory is reported.
    const localGb = 0;
    const cpuInfo = { arch: process.arch === 'x64' ? 'x86_64' : process.arch, topology: { sockets: 1, cores: vcpus, threads: 1 } };
    Object.assign(v, {
      // NOTE(openstack): a JSON string below 2.28, an object from 2.28 (hypervisors.py).
      cpu_info: mv('2.28') ? cpuInfo : JSON.stringify(cpuInfo),
      vcpus,
      vcpus_used: f.vcpusUsed,
      memory_mb: memoryMb,
      memory_mb_used: f.memoryMbUsed,
      free_ram_mb: memoryMb - f.memoryMbUsed,
      local_gb: localGb,
      local_gb_used: u.localGbUsed,
      free_disk_gb: localGb - u.localGbUsed,
      disk_available_least: 0,
      current_workload: 0,
      running_vms: f.runningVms,
    });
  } else {
    // 2.88 puts the uptime in the detail view; the engines report none (Nova's null).
    v.uptime = null;
  }
  if (withServers && (u.servers.length > 0 || mv('2.75'))) v.servers = serverRefs(u.servers);
  return v;
}

/** GET /os-hypervisors/statistics (< 2.88): the detail figures summed over the enabled hosts (Nova's compute_node_statistics). */
export function hypervisorStatisticsView(mv: Mv, all: { host: HostState; usage: HostUsage }[]) {
  const hosts = all.filter((x) => !x.usage.figures.disabled);
  const stats = { count: hosts.length, vcpus: 0, vcpus_used: 0, memory_mb: 0, memory_mb_used: 0, free_ram_mb: 0, local_gb: 0, local_gb_used: 0, free_disk_gb: 0, current_workload: 0, running_vms: 0, disk_available_least: 0 };
  for (const { host, usage } of hosts) {
    const d = hypervisorDetail(mv, host, usage) as Record<string, number>;
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) if (k !== 'count') stats[k] += d[k] ?? 0;
  }
  return { hypervisor_statistics: stats };
}

/** A list answer, with `hypervisors_links` when the page is full (2.33). */
export function hypervisorListView(items: Record<string, unknown>[], links: unknown[]) {
  const body: Record<string, unknown> = { hypervisors: items };
  if (links.length) body.hypervisors_links = links;
  return body;
}
