/**
 * An instance's diagnostics from the engine (DockerDriver.diagnostics): one `docker stats` sample
 * (stream off: the engine takes two readings a second apart, so utilisation is a real rate)
 * beside the inspect the driver already made, turned into the driver's InstanceDiagnostics.
 *
 * cgroup v1 engines account CPU time per host CPU (percpu_usage) and I/O requests per device;
 * cgroup v2 ones give one CPU total and bytes only: what the engine does not say is null, never 0.
 */
import Docker from 'dockerode';
import type { DiskDiagnostics, InstanceDiagnostics, NicDiagnostics } from '../driver';
import { callOn } from './client';
import { powerStateOf } from './containers';

const MIB = 1024 * 1024;

/** The stats fields read here (dockerode's types, loosened to what engines really omit). */
export interface StatsSample {
  cpu_stats?: { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; rx_packets?: number; rx_errors?: number; rx_dropped?: number; tx_bytes?: number; tx_packets?: number; tx_errors?: number; tx_dropped?: number }>;
  blkio_stats?: {
    io_service_bytes_recursive?: BlkioEntry[] | null;
    io_serviced_recursive?: BlkioEntry[] | null;
  };
}

interface BlkioEntry { major: number; minor: number; op: string; value: number }

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Reads one stats sample of the container `c` and reports it. */
export async function containerDiagnostics(docker: Docker, host: string, serverId: string, c: Docker.ContainerInspectInfo): Promise<InstanceDiagnostics> {
  const stats = (await callOn(host, serverId, () => docker.getContainer(c.Id).stats({ stream: false }))) as unknown as StatsSample;
  return diagnosticsFrom(c, stats ?? {}, Date.now());
}

/** Inspect + one stats sample → InstanceDiagnostics (pure; `now` in ms). */
export function diagnosticsFrom(c: Pick<Docker.ContainerInspectInfo, 'State' | 'HostConfig' | 'NetworkSettings' | 'Platform'>, s: StatsSample, now: number): InstanceDiagnostics {
  const powerState = powerStateOf(c.State);
  const started = Date.parse(c.State?.StartedAt ?? '');
  const running = Boolean(c.State?.Running);
  const nanoCpus = c.HostConfig?.NanoCpus ?? 0;
  const online = num(s.cpu_stats?.online_cpus) ?? s.cpu_stats?.cpu_usage?.percpu_usage?.length ?? 1;
  const numCpus = nanoCpus > 0 ? Math.ceil(nanoCpus / 1e9) : online;

  const total = num(s.cpu_stats?.cpu_usage?.total_usage);
  const cpuDelta = (total ?? 0) - (num(s.precpu_stats?.cpu_usage?.total_usage) ?? 0);
  const systemDelta = (num(s.cpu_stats?.system_cpu_usage) ?? 0) - (num(s.precpu_stats?.system_cpu_usage) ?? 0);
  // docker stats' formula (percent of one host CPU), as a share of the instance's own CPUs.
  const utilisation = systemDelta > 0 && cpuDelta >= 0 && num(s.precpu_stats?.system_cpu_usage) ? Math.min(100, Math.round((cpuDelta / systemDelta) * online * 100 / numCpus)) : null;
  const perCpu = (s.cpu_stats?.cpu_usage?.percpu_usage ?? []).filter((t) => t > 0);
  const cpus = perCpu.length
    ? perCpu.map((time, id) => ({ id, time, utilisation }))
    : [{ id: 0, time: total, utilisation }];

  const limit = (c.HostConfig?.Memory ?? 0) > 0 ? c.HostConfig!.Memory! : num(s.memory_stats?.limit);
  const usage = num(s.memory_stats?.usage);
  const cache = s.memory_stats?.stats?.inactive_file ?? s.memory_stats?.stats?.total_inactive_file ?? 0;
  const used = usage === null ? null : Math.max(0, usage - cache);

  return {
    powerState,
    uptime: running && Number.isFinite(started) ? Math.max(0, Math.floor((now - started) / 1000)) : null,
    hypervisorOs: c.Platform || 'linux',
    numCpus,
    cpus,
    memory: { maximumMb: limit === null ? null : Math.floor(limit / MIB), usedMb: used === null ? null : Math.ceil(used / MIB) },
    nics: nicsOf(s, c),
    disks: disksOf(s),
  };
}

function nicsOf(s: StatsSample, c: Pick<Docker.ContainerInspectInfo, 'NetworkSettings'>): NicDiagnostics[] {
  // The engine names interfaces (eth0…) in stats, networks (by name) in inspect; with one network
  // attached the MAC is that network's.
  const macs = Object.values(c.NetworkSettings?.Networks ?? {}).map((n) => n.MacAddress).filter(Boolean);
  return Object.entries(s.networks ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([name, n], i) => ({
    name,
    macAddress: macs.length === Object.keys(s.networks ?? {}).length ? macs[i].toLowerCase() : null,
    rxOctets: num(n.rx_bytes), rxPackets: num(n.rx_packets), rxErrors: num(n.rx_errors), rxDrop: num(n.rx_dropped),
    txOctets: num(n.tx_bytes), txPackets: num(n.tx_packets), txErrors: num(n.tx_errors), txDrop: num(n.tx_dropped),
  }));
}

function disksOf(s: StatsSample): DiskDiagnostics[] {
  const devices = new Map<string, DiskDiagnostics>();
  const device = (e: BlkioEntry) => {
    const name = `${e.major}:${e.minor}`;
    let d = devices.get(name);
    if (!d) {
      d = { name, readBytes: null, readRequests: null, writeBytes: null, writeRequests: null, errorsCount: null };
      devices.set(name, d);
    }
    return d;
  };
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') device(e).readBytes = e.value;
    else if (op === 'write') device(e).writeBytes = e.value;
  }
  for (const e of s.blkio_stats?.io_serviced_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') device(e).readRequests = e.value;
    else if (op === 'write') device(e).writeRequests = e.value;
  }
  return [...devices.values()];
}
