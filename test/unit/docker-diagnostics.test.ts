/**
 * diagnosticsFrom: a `docker stats` sample and an inspect → the driver's InstanceDiagnostics, for
 * the shapes cgroup v1 and v2 engines send (what the engine does not say is null, never 0).
 */
import type Docker from 'dockerode';
import { diagnosticsFrom, StatsSample } from '../../src/virt/docker/diagnostics';

const MIB = 1024 * 1024;
const inspect = (running = true) => ({
  State: { Status: running ? 'running' : 'exited', Running: running, Paused: false, StartedAt: '2026-12-04T10:00:00Z' },
  HostConfig: { NanoCpus: 2e9, Memory: 512 * MIB },
  NetworkSettings: { Networks: { 'novadock-p': { MacAddress: '02:42:0A:00:00:05' } } },
  Platform: 'linux',
}) as unknown as Pick<Docker.ContainerInspectInfo, 'State' | 'HostConfig' | 'NetworkSettings' | 'Platform'>;
const now = Date.parse('2026-12-04T10:01:40Z');

test('a cgroup v1 sample: per-CPU times, utilisation as a share of the instance\'s CPUs, page cache not counted', () => {
  const s: StatsSample = {
    cpu_stats: { cpu_usage: { total_usage: 3_000, percpu_usage: [1_000, 2_000, 0, 0] }, system_cpu_usage: 20_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 2_000 }, system_cpu_usage: 10_000 },
    memory_stats: { usage: 10 * MIB, limit: 512 * MIB, stats: { total_inactive_file: 4 * MIB } },
    networks: { eth0: { rx_bytes: 10, rx_packets: 1, rx_errors: 0, rx_dropped: 0, tx_bytes: 20, tx_packets: 2, tx_errors: 0, tx_dropped: 0 } },
    blkio_stats: {
      io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'Write', value: 8192 }, { major: 8, minor: 0, op: 'Total', value: 12288 }],
      io_serviced_recursive: [{ major: 8, minor: 0, op: 'Read', value: 1 }, { major: 8, minor: 0, op: 'Write', value: 2 }],
    },
  };
  expect(diagnosticsFrom(inspect(), s, now)).toEqual({
    powerState: 1, uptime: 100, hypervisorOs: 'linux', numCpus: 2,
    // 1000 of 10000 ns over 4 host CPUs = 40% of one CPU = 20% of the instance's two.
    cpus: [{ id: 0, time: 1_000, utilisation: 20 }, { id: 1, time: 2_000, utilisation: 20 }],
    memory: { maximumMb: 512, usedMb: 6 },
    nics: [{ name: 'eth0', macAddress: '02:42:0a:00:00:05', rxOctets: 10, rxPackets: 1, rxErrors: 0, rxDrop: 0, txOctets: 20, txPackets: 2, txErrors: 0, txDrop: 0 }],
    disks: [{ name: '8:0', readBytes: 4096, readRequests: 1, writeBytes: 8192, writeRequests: 2, errorsCount: null }],
  });
});

test('a cgroup v2 sample: one CPU total, bytes without request counts, no previous reading → utilisation unknown', () => {
  const s: StatsSample = {
    cpu_stats: { cpu_usage: { total_usage: 5_000 }, system_cpu_usage: 20_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: {} },
    memory_stats: { usage: 100, stats: { inactive_file: 0 } },
    blkio_stats: { io_service_bytes_recursive: [{ major: 253, minor: 1, op: 'read', value: 7 }], io_serviced_recursive: null },
  };
  const d = diagnosticsFrom(inspect(), s, now);
  expect(d.cpus).toEqual([{ id: 0, time: 5_000, utilisation: null }]);
  expect(d.memory).toEqual({ maximumMb: 512, usedMb: 1 });
  expect(d.nics).toEqual([]);
  expect(d.disks).toEqual([{ name: '253:1', readBytes: 7, readRequests: null, writeBytes: null, writeRequests: null, errorsCount: null }]);
});

test('a stopped container has no uptime and reports SHUTDOWN', () => {
  const d = diagnosticsFrom(inspect(false), {}, now);
  expect(d).toMatchObject({ powerState: 4, uptime: null, cpus: [{ id: 0, time: null, utilisation: null }], memory: { maximumMb: 512, usedMb: null } });
});
