/**
 * The scheduler as a whole (filters, then weighers, per instance, consuming each choice): spread
 * by free RAM, full, disabled, down and other-zone hosts skipped, several instances placed
 * together or not at all, groups honoured across the instances of one request, forced and
 * ignored hosts, and inputs left untouched.
 */
import { NOT_ENOUGH_HOSTS, NoHostsPassed, selectHosts } from '../../src/compute/scheduler/scheduler';
import { NoValidHost, GroupSpec, HostCandidate, RequestSpec } from '../../src/compute/scheduler/types';

const host = (name: string, over: Partial<HostCandidate> = {}): HostCandidate => ({
  host: name, zone: 'nova', enabled: true, up: true, memoryMb: 4096, vcpus: 4, ramAllocationRatio: 1.0, cpuAllocationRatio: 4.0,
  usedMemoryMb: 0, usedVcpus: 0, instances: 0, ...over,
});
const spec = (over: Partial<RequestSpec> = {}): RequestSpec => ({ memoryMb: 1024, vcpus: 1, count: 1, ...over });
const group = (policy: GroupSpec['policy'], memberHosts: string[] = [], maxServerPerHost?: number): GroupSpec => ({ uuid: 'g', policy, memberHosts, maxServerPerHost });

function noValidHost(fn: () => unknown): NoHostsPassed {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(NoValidHost);
    expect((e as Error).message).toBe(`No valid host was found. ${NOT_ENOUGH_HOSTS}`);
    return e as NoHostsPassed;
  }
  throw new Error('expected NoValidHost');
}

test('one instance goes to the host with the most free RAM', () => {
  expect(selectHosts([host('a', { usedMemoryMb: 2048 }), host('b', { usedMemoryMb: 1024 })], spec())).toEqual(['b']);
});

test('several instances spread by free RAM, each choice consumed before the next', () => {
  // a: 4096 free, b: 3072 free. 1 GiB each: a, then a (3072 vs 3072: configuration order), b, a, b, a, b → full.
  const hosts = [host('a'), host('b', { usedMemoryMb: 1024 })];
  expect(selectHosts(hosts, spec({ count: 7 }))).toEqual(['a', 'a', 'b', 'a', 'b', 'a', 'b']);
  expect(hosts[0].usedMemoryMb).toBe(0); // the input is not consumed
});

test('a host that cannot fit the flavor is skipped, however free the others look', () => {
  const hosts = [host('big', { memoryMb: 16384, usedMemoryMb: 16000 }), host('small', { memoryMb: 2048 })];
  expect(selectHosts(hosts, spec())).toEqual(['small']);
  expect(selectHosts([host('cpu-full', { vcpus: 1, usedVcpus: 4 }), host('ok', { usedMemoryMb: 3000 })], spec())).toEqual(['ok']);
});

test('disabled and down hosts take nothing; another zone takes nothing when a zone is asked', () => {
  const hosts = [host('off', { enabled: false }), host('gone', { up: false }), host('az1', { zone: 'az1', usedMemoryMb: 2048 }), host('nova1', { usedMemoryMb: 3072 })];
  expect(selectHosts(hosts, spec({ count: 2 }))).toEqual(['az1', 'az1']);
  expect(selectHosts(hosts, spec({ availabilityZone: 'nova' }))).toEqual(['nova1']);
  const e = noValidHost(() => selectHosts(hosts, spec({ availabilityZone: 'az2' })));
  expect(e.filterResults).toEqual(['RamFilter: (start: 4, end: 4)', 'CoreFilter: (start: 4, end: 4)', 'AvailabilityZoneFilter: (start: 4, end: 0)']);
});

test('all or nothing: when the last instance finds no room the whole request is NoValidHost', () => {
  const hosts = [host('a', { memoryMb: 2048 }), host('b', { memoryMb: 2048 })];
  expect(selectHosts(hosts, spec({ count: 4 }))).toHaveLength(4);
  const e = noValidHost(() => selectHosts(hosts, spec({ count: 5 })));
  expect(e.instance).toBe(4);
});

test('hard anti-affinity: one member per host, including among the instances of one request', () => {
  const hosts = [host('a'), host('b'), host('c')];
  expect(selectHosts(hosts, spec({ count: 2, group: group('anti-affinity') })).sort()).toEqual(['a', 'b']);
  expect(selectHosts(hosts, spec({ count: 1, group: group('anti-affinity', ['a', 'b']) }))).toEqual(['c']);
  noValidHost(() => selectHosts(hosts, spec({ count: 1, group: group('anti-affinity', ['a', 'b', 'c']) })));
  noValidHost(() => selectHosts(hosts, spec({ count: 4, group: group('anti-affinity') })));
});

test('anti-affinity with max_server_per_host 2 (2.64) allows two per host', () => {
  const hosts = [host('a'), host('b')];
  const chosen = selectHosts(hosts, spec({ count: 4, group: group('anti-affinity', [], 2) }));
  expect(chosen.filter((h) => h === 'a')).toHaveLength(2);
  expect(chosen.filter((h) => h === 'b')).toHaveLength(2);
  noValidHost(() => selectHosts(hosts, spec({ count: 5, group: group('anti-affinity', [], 2) })));
});

test('hard affinity: every member on the first member\'s host, NoValidHost once it is full', () => {
  const hosts = [host('a'), host('b', { usedMemoryMb: 512 })];
  expect(selectHosts(hosts, spec({ count: 3, group: group('affinity') }))).toEqual(['a', 'a', 'a']);
  expect(selectHosts(hosts, spec({ count: 2, group: group('affinity', ['b']) }))).toEqual(['b', 'b']);
  noValidHost(() => selectHosts(hosts, spec({ count: 5, group: group('affinity') })));
});

test('soft policies weigh but never refuse', () => {
  const hosts = [host('a'), host('b')];
  expect(selectHosts(hosts, spec({ count: 3, group: group('soft-affinity', ['b']) }))).toEqual(['b', 'b', 'b']);
  expect(selectHosts(hosts, spec({ count: 5, group: group('soft-affinity', ['b']) }))).toEqual(['b', 'b', 'b', 'b', 'a']);
  expect(selectHosts(hosts, spec({ count: 2, group: group('soft-anti-affinity', ['a']) }))).toEqual(['b', 'a']);
  expect(selectHosts([host('a')], spec({ count: 3, group: group('soft-anti-affinity') }))).toEqual(['a', 'a', 'a']);
});

test('a forced host skips the host filters (disabled, down, zone, groups) but not the capacity check', () => {
  const hosts = [host('a'), host('Off', { enabled: false, up: false, zone: 'az9', usedMemoryMb: 3072 })];
  expect(selectHosts(hosts, spec({ forcedHost: 'off', availabilityZone: 'nova', group: group('anti-affinity', ['Off']) }))).toEqual(['Off']);
  noValidHost(() => selectHosts(hosts, spec({ forcedHost: 'Off', count: 2 })));
  const e = noValidHost(() => selectHosts(hosts, spec({ forcedHost: 'nowhere' })));
  expect(e.filterResults).toEqual(['no host matches the forced host nowhere']);
});

test('ignored hosts (a move\'s source) are never chosen', () => {
  const hosts = [host('src'), host('dst', { usedMemoryMb: 2048 })];
  expect(selectHosts(hosts, spec({ ignoreHosts: ['SRC'] }))).toEqual(['dst']);
  noValidHost(() => selectHosts(hosts, spec({ ignoreHosts: ['src'], forcedHost: 'src' })));
  noValidHost(() => selectHosts([host('src')], spec({ ignoreHosts: ['src'] })));
});

test("the caller's group is left as it was", () => {
  const g = group('anti-affinity', ['a']);
  selectHosts([host('a'), host('b'), host('c')], spec({ count: 2, group: g }));
  expect(g.memberHosts).toEqual(['a']);
});
