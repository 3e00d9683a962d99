/**
 * The fake engine's stats (FakeDriver.diagnostics): deterministic figures shaped like the Docker
 * driver's, with a CPU time that grows on every sample (as a running process's does), so callers
 * can be tested for what they show without an engine.
 */
import type { InstanceDiagnostics } from '../driver';
import type { FakeInstance } from './moves';

const RUNNING = 1;

/** One sample of `inst`'s figures; `sample` counts the samples taken of it so far (1, 2, …). */
export function fakeDiagnostics(inst: FakeInstance, sample: number, mac: string | null): InstanceDiagnostics {
  const running = inst.powerState === RUNNING;
  const { vcpus, memoryMb } = inst.spec;
  return {
    powerState: inst.powerState,
    uptime: running ? sample : null,
    hypervisorOs: 'linux',
    numCpus: vcpus,
    cpus: [{ id: 0, time: sample * 1_000_000, utilisation: running ? 1 : 0 }],
    memory: { maximumMb: memoryMb, usedMb: Math.min(memoryMb, 2) },
    // One interface per port (eth0, eth1, …), or eth0 on the project network of a server without ports.
    nics: (inst.spec.nics ?? (inst.spec.network ? [{ mac: mac ?? undefined }] : [])).map((n, i) => ({
      name: `eth${i}`, macAddress: n.mac ?? mac, rxOctets: 100 * sample, rxPackets: sample, rxErrors: 0, rxDrop: 0, txOctets: 50 * sample, txPackets: sample, txErrors: 0, txDrop: 0,
    })),
    disks: [{ name: '8:0', readBytes: 4096, readRequests: 1, writeBytes: 0, writeRequests: 0, errorsCount: null }],
  };
}
