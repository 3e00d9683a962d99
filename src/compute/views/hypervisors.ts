/**
 * Wire shapes of os-hypervisors (nova/api/openstack/compute/views/hypervisors.py, hypervisors.py)
 * per microversion:
 *
 *   2.1   ids are the host's 1-based position; cpu_info is a JSON string
 *   2.28  cpu_info is an object
 *   2.53  ids are UUIDs (hypervisor and service), `servers` with with_servers=true
 *   2.88  the resource figures (vcpus, memory_mb, local_gb…) leave the detail view
 *
 * Usage figures come from the database (the flavors of a host's servers), never from the engine.
 */
import net from 'node:net';
import type { ServerRecord } from '../server-record';
import type { HostState } from '../services/hosts';
import { instanceName } from '../naming';
import type { Mv } from './common';

/** What a host's servers hold, summed from their flavors. */
export interface HostUsage { vcpusUsed: number; memoryMbUsed: number; localGbUsed: number; servers: ServerRecord[] }

export function hostUsage(servers: ServerRecord[]): HostUsage {
  let vcpusUsed = 0;
  let memoryMbUsed = 0;
  let localGbUsed = 0;
  for (const s of servers) {
    vcpusUsed += s.flavor.vcpus;
    memoryMbUsed += s.flavor.ram;
    localGbUsed += s.flavor.disk + s.flavor.ephemeral;
  }
  return { vcpusUsed, memoryMbUsed, localGbUsed, servers };
}

/** The hypervisor id a microversion shows: an integer below 2.53, a UUID from 2.53. */
export function hypervisorId(mv: Mv, h: HostState): string | number {
  return mv('2.53') ? h.uuid : h.index;
}

/** hypervisor_hostname: what the engine calls itself, else the compute host's name. */
export function hypervisorHostname(h: HostState): string {
  return h.info?.hostname || h.host;
}

const serverRefs = (servers: ServerRecord[]) => servers.map((s) => ({ uuid: s.id, name: instanceName(s.sequence) }));

/** Summary: {id, hypervisor_hostname, state, status}, plus servers when asked (2.53 with_servers, search/servers). */
export function hypervisorSummary(mv: Mv, h: HostState, withServers?: ServerRecord[]): Record<string, unknown> {
  const v: Record<string, unknown> = { id: hypervisorId(mv, h), hypervisor_hostname: hypervisorHostname(h), state: h.state, status: 'enabled' };
  if (withServers && withServers.length > 0) v.servers = serverRefs(withServers);
  return v;
}

/** Detail (list-detail, show, and the figures statistics sums). */
export function hypervisorDetail(mv: Mv, h: HostState, u: HostUsage, withServers?: boolean): Record<string, unknown> {
  const info = h.info;
  const v: Record<string, unknown> = {
    id: hypervisorId(mv, h),
    hypervisor_hostname: hypervisorHostname(h),
    state: h.state,
    status: 'enabled',
    hypervisor_type: info?.hypervisorType ?? 'docker',
    hypervisor_version: info?.hypervisorVersion ?? 0,
    host_ip: info?.hostIp && net.isIP(info.hostIp) ? info.hostIp : null,
    service: { host: h.host, id: mv('2.53') ? h.serviceUuid : h.index, disabled_reason: null },
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
      vcpus_used: u.vcpusUsed,
      memory_mb: memoryMb,
      memory_mb_used: u.memoryMbUsed,
      free_ram_mb: memoryMb - u.memoryMbUsed,
      local_gb: localGb,
      local_gb_used: u.localGbUsed,
      free_disk_gb: localGb - u.localGbUsed,
      disk_available_least: 0,
      current_workload: 0,
      running_vms: info?.runningInstances ?? u.servers.length,
    });
  }
  if (withServers && u.servers.length > 0) v.servers = serverRefs(u.servers);
  return v;
}

/** GET /os-hypervisors/statistics (< 2.88): the detail figures summed over every host. */
export function hypervisorStatisticsView(mv: Mv, hosts: { host: HostState; usage: HostUsage }[]) {
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
