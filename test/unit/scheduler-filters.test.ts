/**
 * The scheduler's filters one by one, against Nova's semantics: placement's capacity rule
 * ((total - reserved) * ratio - used >= demand) for RAM and vCPUs, the compute service enabled and
 * up, the availability zone, and server group affinity / anti-affinity (2.64 max_server_per_host).
 */
import {
  AvailabilityZoneFilter, ComputeFilter, CoreFilter, RamFilter, ServerGroupAffinityFilter, ServerGroupAntiAffinityFilter, fits,
} from '../../src/compute/scheduler/filters';
import type { GroupSpec, HostCandidate, RequestSpec } from '../../src/compute/scheduler/types';

const host = (over: Partial<HostCandidate> = {}): HostCandidate => ({
  host: 'h1', zone: 'nova', enabled: true, up: true, memoryMb: 4096, vcpus: 4, ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0,
  usedMemoryMb: 0, usedVcpus: 0, instances: 0, ...over,
});
const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ memoryMb: 512, vcpus: 1, count: 1, ...over });
const group = (policy: GroupSpec['policy'], memberHosts: string[], maxServerPerHost?: number): GroupSpec => ({ uuid: 'g', policy, memberHosts, maxServerPerHost });

describe("placement's capacity rule", () => {
  test('a demand fits while used + demand stays within total × ratio, the boundary included', () => {
    expect(fits(1000, 1.0, 488, 512)).toBe(true);
    expect(fits(1000, 1.0, 489, 512)).toBe(false);
    expect(fits(2, 4.0, 7, 1)).toBe(true);
    expect(fits(2, 4.0, 8, 1)).toBe(false);
    expect(fits(1000, 1.5, 1000, 500)).toBe(true);
    expect(fits(1000, 0.5, 0, 501)).toBe(false);
  });

  test('RamFilter: a host whose RAM less what is allocated (times the ratio) cannot hold the flavor is refused', () => {
    expect(RamFilter.passes(host({ memoryMb: 4096, usedMemoryMb: 3584 }), spec({ memoryMb: 512 }))).toBe(true);
    expect(RamFilter.passes(host({ memoryMb: 4096, usedMemoryMb: 3585 }), spec({ memoryMb: 512 }))).toBe(false);
    expect(RamFilter.passes(host({ memoryMb: 4096, usedMemoryMb: 4096, ramAllocationRatio: 1.5 }), spec({ memoryMb: 2048 }))).toBe(true);
    expect(RamFilter.passes(host({ memoryMb: 0 }), spec())).toBe(false);
  });

  test('CoreFilter: vCPUs overcommit by cpu_allocation_ratio and no further', () => {
    expect(CoreFilter.passes(host({ vcpus: 2, usedVcpus: 7, cpuAllocationRatio: 4.0 }), spec({ vcpus: 1 }))).toBe(true);
    expect(CoreFilter.passes(host({ vcpus: 2, usedVcpus: 7, cpuAllocationRatio: 4.0 }), spec({ vcpus: 2 }))).toBe(false);
    expect(CoreFilter.passes(host({ vcpus: 2, usedVcpus: 2, cpuAllocationRatio: 1.0 }), spec({ vcpus: 1 }))).toBe(false);
  });
});

describe('ComputeFilter', () => {
  test.each([
    [true, true, true],
    [false, true, false],
    [true, false, false],
    [false, false, false],
  ])('enabled=%s up=%s passes=%s', (enabled, up, passes) => {
    expect(ComputeFilter.passes(host({ enabled, up }), spec())).toBe(passes);
  });
});

describe('AvailabilityZoneFilter', () => {
  test('any zone without a request; only the requested zone with one', () => {
    expect(AvailabilityZoneFilter.passes(host({ zone: 'az1' }), spec())).toBe(true);
    expect(AvailabilityZoneFilter.passes(host({ zone: 'az1' }), spec({ availabilityZone: 'az1' }))).toBe(true);
    expect(AvailabilityZoneFilter.passes(host({ zone: 'nova' }), spec({ availabilityZone: 'az1' }))).toBe(false);
  });
});

describe('ServerGroupAntiAffinityFilter', () => {
  test('refuses a host already holding a member; max_server_per_host raises the limit', () => {
    const h1 = host({ host: 'h1' });
    const h2 = host({ host: 'h2' });
    const s = spec({ group: group('anti-affinity', ['h1']) });
    expect([ServerGroupAntiAffinityFilter.passes(h1, s), ServerGroupAntiAffinityFilter.passes(h2, s)]).toEqual([false, true]);
    const two = spec({ group: group('anti-affinity', ['h1'], 2) });
    expect(ServerGroupAntiAffinityFilter.passes(h1, two)).toBe(true);
    const full = spec({ group: group('anti-affinity', ['h1', 'h1'], 2) });
    expect(ServerGroupAntiAffinityFilter.passes(h1, full)).toBe(false);
  });

  test('has no say for other policies or without a group', () => {
    for (const policy of ['affinity', 'soft-affinity', 'soft-anti-affinity'] as const) {
      expect(ServerGroupAntiAffinityFilter.passes(host(), spec({ group: group(policy, ['h1']) }))).toBe(true);
    }
    expect(ServerGroupAntiAffinityFilter.passes(host(), spec())).toBe(true);
  });
});

describe('ServerGroupAffinityFilter', () => {
  test('any host for the first member; then only the hosts holding members', () => {
    expect(ServerGroupAffinityFilter.passes(host({ host: 'h2' }), spec({ group: group('affinity', []) }))).toBe(true);
    const s = spec({ group: group('affinity', ['h1']) });
    expect([ServerGroupAffinityFilter.passes(host({ host: 'h1' }), s), ServerGroupAffinityFilter.passes(host({ host: 'h2' }), s)]).toEqual([true, false]);
  });

  test('has no say for soft-affinity (a weigher does that)', () => {
    expect(ServerGroupAffinityFilter.passes(host({ host: 'h2' }), spec({ group: group('soft-affinity', ['h1']) }))).toBe(true);
  });
});
