/**
 * Capacity settings: the defaults (Nova's pre-Stein ratios cpu 16.0 and ram 1.5; 512 MiB and 0 CPUs reserved), the four
 * environment variables, per-host overrides in the seed's compute_hosts, and bad values failing
 * start-up with a message naming the setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_CAPACITY, capacityOf, loadConfig, loadSeed } from '../../src/config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'novadock-seed-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let n = 0;
const seedFile = (content: unknown): string => {
  const file = path.join(dir, `seed-${++n}.json`);
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
};

test("Nova's defaults without settings", () => {
  expect(loadConfig({}).capacity).toEqual({ cpuAllocationRatio: 16.0, ramAllocationRatio: 1.5, reservedHostMemoryMb: 512, reservedHostCpus: 0 });
  expect(DEFAULT_CAPACITY).toEqual(loadConfig({}).capacity);
});

test('the environment sets them for every host', () => {
  const c = loadConfig({
    NOVADOCK_CPU_ALLOCATION_RATIO: '16', NOVADOCK_RAM_ALLOCATION_RATIO: '1.5', NOVADOCK_RESERVED_HOST_MEMORY_MB: '0', NOVADOCK_RESERVED_HOST_CPUS: '1',
  });
  expect(c.capacity).toEqual({ cpuAllocationRatio: 16, ramAllocationRatio: 1.5, reservedHostMemoryMb: 0, reservedHostCpus: 1 });
  expect(capacityOf(c, 'local')).toEqual(c.capacity);
});

test.each([
  ['NOVADOCK_CPU_ALLOCATION_RATIO', '0', 'NOVADOCK_CPU_ALLOCATION_RATIO must be a number greater than 0'],
  ['NOVADOCK_CPU_ALLOCATION_RATIO', 'lots', 'NOVADOCK_CPU_ALLOCATION_RATIO must be a number greater than 0'],
  ['NOVADOCK_RAM_ALLOCATION_RATIO', '-1', 'NOVADOCK_RAM_ALLOCATION_RATIO must be a number greater than 0'],
  ['NOVADOCK_RAM_ALLOCATION_RATIO', ' ', 'NOVADOCK_RAM_ALLOCATION_RATIO must be a number greater than 0'],
  ['NOVADOCK_RESERVED_HOST_MEMORY_MB', '1.5', 'NOVADOCK_RESERVED_HOST_MEMORY_MB must be a non-negative integer'],
  ['NOVADOCK_RESERVED_HOST_CPUS', '-2', 'NOVADOCK_RESERVED_HOST_CPUS must be a non-negative integer'],
])('%s=%j fails start-up naming the setting', (name, value, message) => {
  expect(() => loadConfig({ [name]: value })).toThrow(message);
});

test("a compute host's own settings override the process-wide ones, field by field", () => {
  const file = seedFile({ compute_hosts: [{ name: 'big', cpu_allocation_ratio: 8, reserved_host_memory_mb: 2048 }, { name: 'plain' }] });
  const c = loadConfig({ NOVADOCK_CONFIG: file, NOVADOCK_RAM_ALLOCATION_RATIO: '1.25' });
  expect(capacityOf(c, 'big')).toEqual({ cpuAllocationRatio: 8, ramAllocationRatio: 1.25, reservedHostMemoryMb: 2048, reservedHostCpus: 0 });
  expect(capacityOf(c, 'plain')).toEqual({ cpuAllocationRatio: 16, ramAllocationRatio: 1.25, reservedHostMemoryMb: 512, reservedHostCpus: 0 });
});

test.each([
  [{ name: 'x', cpu_allocation_ratio: 0 }, "compute host \"x\": 'cpu_allocation_ratio' must be a number greater than 0"],
  [{ name: 'x', ram_allocation_ratio: '2' }, "compute host \"x\": 'ram_allocation_ratio' must be a number greater than 0"],
  [{ name: 'x', reserved_host_memory_mb: -1 }, "compute host \"x\": 'reserved_host_memory_mb' must be a non-negative integer"],
  [{ name: 'x', reserved_host_cpus: 0.5 }, "compute host \"x\": 'reserved_host_cpus' must be a non-negative integer"],
  [{ docker_host: 'unix:///x' }, 'every compute host needs a string name'],
])('a bad compute_hosts entry %j fails start-up naming the field', (host, message) => {
  expect(() => loadSeed(seedFile({ compute_hosts: [host] }))).toThrow(message);
});
