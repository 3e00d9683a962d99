/**
 * The weighers and Nova's weighing arithmetic: each weigher's raw weights normalised to 0..1
 * (all equal → 0; RAM with minval 0), times its multiplier, summed; best first, ties in
 * configuration order.
 */
import {
  ImagePresenceWeigher, RAMWeigher, ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher, normalize, weighHosts,
} from '../../src/compute/scheduler/weighers';
import type { HostCandidate, RequestSpec } from '../../src/compute/scheduler/types';

const host = (name: string, over: Partial<HostCandidate> = {}): HostCandidate => ({
  host: name, zone: 'nova', enabled: true, up: true, memoryMb: 8192, vcpus: 4, ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0,
  usedMemoryMb: 0, usedVcpus: 0, instances: 0, ...over,
});
const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ memoryMb: 512, vcpus: 1, count: 1, ...over });
const order = (hosts: HostCandidate[], s: RequestSpec = spec()) => weighHosts(hosts, s).map((w) => w.host.host);

describe('normalize (nova.weights.normalize)', () => {
  test('maps the list onto 0..1, all-equal to zeros, and honours given bounds', () => {
    expect(normalize([2, 4, 6])).toEqual([0, 0.5, 1]);
    expect(normalize([3, 3])).toEqual([0, 0]);
    expect(normalize([0, 50, 100], 0)).toEqual([0, 0.5, 1]);
    expect(normalize([50, 100], 0)).toEqual([0.5, 1]);
    expect(normalize([])).toEqual([]);
  });
});

describe('RAMWeigher', () => {
  test('spreads: the host with the most free RAM (total less reserve, less allocated) wins', () => {
    expect(order([host('a', { usedMemoryMb: 4096 }), host('b', { usedMemoryMb: 1024 }), host('c', { usedMemoryMb: 2048 })])).toEqual(['b', 'c', 'a']);
    expect(order([host('a', { memoryMb: 4096 }), host('b', { memoryMb: 16384, usedMemoryMb: 8192 })])).toEqual(['b', 'a']);
  });

  test('overcommitted hosts (negative free RAM) weigh as zero, not below', () => {
    expect(RAMWeigher.minval).toBe(0);
    const w = weighHosts([host('a', { usedMemoryMb: 9000, ramAllocationRatio: 1.5 }), host('b', { usedMemoryMb: 12000, ramAllocationRatio: 1.5 }), host('c', { usedMemoryMb: 4096 })], spec());
    expect(w.map((x) => [x.host.host, x.weight])).toEqual([['c', 1], ['a', 0], ['b', 0]]);
  });

  test('equal hosts keep the configuration order', () => {
    expect(order([host('x'), host('y'), host('z')])).toEqual(['x', 'y', 'z']);
  });
});

describe('ImagePresenceWeigher', () => {
  test('among equally free hosts the one holding the image wins', () => {
    expect(order([host('a'), host('b', { hasImage: true })])).toEqual(['b', 'a']);
  });

  test('does not outweigh a real difference in free RAM (it counts 1 % of the RAM weigher)', () => {
    expect(ImagePresenceWeigher.multiplier).toBeLessThan(RAMWeigher.multiplier);
    expect(order([host('a', { usedMemoryMb: 512, hasImage: true }), host('b')])).toEqual(['b', 'a']);
    // Within 1 % of the roomiest host's free RAM, the image decides.
    expect(order([host('a', { usedMemoryMb: 50, hasImage: true }), host('b')])).toEqual(['a', 'b']);
  });
});

describe('soft affinity weighers', () => {
  const group = (policy: 'soft-affinity' | 'soft-anti-affinity', memberHosts: string[]) => spec({ group: { uuid: 'g', policy, memberHosts } });

  test('soft-affinity prefers the host with the most members, even over free RAM', () => {
    const s = group('soft-affinity', ['a', 'a', 'b']);
    expect(ServerGroupSoftAffinityWeigher.weigh(host('a'), s)).toBe(2);
    expect(order([host('b'), host('c'), host('a', { usedMemoryMb: 1024 })], s)).toEqual(['a', 'b', 'c']);
  });

  test('soft-anti-affinity prefers the host with the fewest members', () => {
    const s = group('soft-anti-affinity', ['a', 'a', 'b']);
    expect(ServerGroupSoftAntiAffinityWeigher.weigh(host('a'), s)).toBe(-2);
    expect(order([host('a'), host('b'), host('c', { usedMemoryMb: 2048 })], s)).toEqual(['c', 'b', 'a']);
  });

  test('each weighs nothing for the other policies', () => {
    expect(ServerGroupSoftAffinityWeigher.weigh(host('a'), group('soft-anti-affinity', ['a']))).toBe(0);
    expect(ServerGroupSoftAntiAffinityWeigher.weigh(host('a'), group('soft-affinity', ['a']))).toBe(0);
    expect(ServerGroupSoftAffinityWeigher.weigh(host('a'), spec())).toBe(0);
  });
});
