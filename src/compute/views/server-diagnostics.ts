/**
 * The two wire shapes of GET /servers/{id}/diagnostics (nova/api/openstack/compute/views/
 * server_diagnostics.py and the libvirt driver's get_diagnostics, which the free-form one follows).
 *
 * NOTE(openstack): at 2.48 `driver` is an enum of Nova's virt drivers (libvirt, xenapi, vmwareapi,
 * ironic, hyperv) that tempest's schema enforces; there is no "docker". We answer "libvirt", the
 * driver whose lxc virt_type is Nova's own container hypervisor, and say what really runs the
 * server in `hypervisor` ("docker"), which is the free string libvirt fills with its virt_type.
 */
import type { InstanceDiagnostics } from '../../virt/driver';
import { POWER_STATE_NAMES } from '../power-state';
import type { ServerRecord } from '../server-record';

export const DIAGNOSTICS_DRIVER = 'libvirt';
export const DIAGNOSTICS_HYPERVISOR = 'docker';

/** 2.48+: the standard shape. */
export function diagnosticsView(server: ServerRecord, d: InstanceDiagnostics): Record<string, unknown> {
  return {
    state: POWER_STATE_NAMES[d.powerState],
    driver: DIAGNOSTICS_DRIVER,
    hypervisor: DIAGNOSTICS_HYPERVISOR,
    hypervisor_os: d.hypervisorOs,
    uptime: d.uptime,
    config_drive: server.config_drive,
    num_cpus: d.numCpus,
    num_nics: d.nics.length,
    num_disks: d.disks.length,
    memory_details: { maximum: d.memory.maximumMb, used: d.memory.usedMb },
    cpu_details: d.cpus.map((c) => ({ id: c.id, time: c.time, utilisation: c.utilisation })),
    nic_details: d.nics.map((n) => ({
      mac_address: n.macAddress,
      rx_octets: n.rxOctets, rx_errors: n.rxErrors, rx_drop: n.rxDrop, rx_packets: n.rxPackets, rx_rate: null,
      tx_octets: n.txOctets, tx_errors: n.txErrors, tx_drop: n.txDrop, tx_packets: n.txPackets, tx_rate: null,
    })),
    disk_details: d.disks.map((k) => ({
      read_bytes: k.readBytes, read_requests: k.readRequests, write_bytes: k.writeBytes, write_requests: k.writeRequests, errors_count: k.errorsCount,
    })),
  };
}

/** Before 2.48: the driver's own dict; ours follows libvirt's keys (memory in KiB, cpu time in ns). */
export function legacyDiagnosticsView(d: InstanceDiagnostics): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const c of d.cpus) out[`cpu${c.id}_time`] = c.time;
  for (const k of d.disks) {
    const dev = `disk${k.name.replace(':', '_')}`;
    Object.assign(out, { [`${dev}_read_req`]: k.readRequests, [`${dev}_read`]: k.readBytes, [`${dev}_write_req`]: k.writeRequests, [`${dev}_write`]: k.writeBytes, [`${dev}_errors`]: k.errorsCount ?? -1 });
  }
  for (const n of d.nics) {
    Object.assign(out, {
      [`${n.name}_rx`]: n.rxOctets, [`${n.name}_rx_packets`]: n.rxPackets, [`${n.name}_rx_errors`]: n.rxErrors, [`${n.name}_rx_drop`]: n.rxDrop,
      [`${n.name}_tx`]: n.txOctets, [`${n.name}_tx_packets`]: n.txPackets, [`${n.name}_tx_errors`]: n.txErrors, [`${n.name}_tx_drop`]: n.txDrop,
    });
  }
  out.memory = d.memory.maximumMb === null ? null : d.memory.maximumMb * 1024;
  out['memory-rss'] = d.memory.usedMb === null ? null : d.memory.usedMb * 1024;
  return out;
}
