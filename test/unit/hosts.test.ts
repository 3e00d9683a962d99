/**
 * HostService: one view of each compute host. What the reconciler hears and what the engine's
 * own figures say land on the same record, so host_status (servers) and the hypervisor's state
 * never disagree; stop() ends the background refresh.
 */
import { FakeDriver } from '../../src/virt/fake/driver';
import { DriverRegistry } from '../../src/virt/registry';
import { HostService } from '../../src/compute/services/hosts';

function setup(opts: { intervalMs?: number } = {}) {
  const calls: string[] = [];
  const mk = (host: string) => new FakeDriver({ host, beforeCall: (op) => { if (op === 'hypervisorInfo') calls.push(host); return undefined; } });
  const a = mk('a');
  const b = mk('b');
  const hosts = new HostService(new DriverRegistry([a, b]), { intervalMs: opts.intervalMs ?? 60_000, firstWaitMs: 1_000 });
  return { a, b, hosts, calls };
}

test('before anything is heard a host is UP for host_status and down for the hypervisor list; the first read refreshes both', async () => {
  const { hosts } = setup();
  expect(hosts.hostStatusOf('a')).toBe('UP');
  expect(hosts.hostStatusOf('nowhere')).toBe('UNKNOWN');
  expect(hosts.hostStatusOf(null)).toBe('');
  const [a, b] = await hosts.hosts();
  expect([a.host, a.state, a.info?.hostname, b.host, b.state]).toEqual(['a', 'up', 'a', 'b', 'up']);
  hosts.stop();
});

test('a host the reconciler hears DOWN is down in both views (placement then skips it: test/unit/placement.test.ts)', async () => {
  const { hosts } = setup();
  await hosts.hosts();
  hosts.setStatus('a', 'DOWN', 'event stream broken');
  expect(hosts.hostStatusOf('a')).toBe('DOWN');
  const a = (await hosts.hosts()).find((h) => h.host === 'a')!;
  expect([a.state, a.error]).toEqual(['down', 'event stream broken']);
  hosts.setStatus('a', 'UP');
  expect(hosts.hostStatusOf('a')).toBe('UP');
  expect((await hosts.hosts()).find((h) => h.host === 'a')!.state).toBe('up');
  hosts.stop();
});

test('an engine that stops answering the refresh is down in both views, with its last figures kept', async () => {
  const { a, hosts } = setup();
  await hosts.hosts();
  a.setUnavailable(true);
  await hosts.refresh();
  expect(hosts.hostStatusOf('a')).toBe('DOWN');
  const view = (await hosts.hosts()).find((h) => h.host === 'a')!;
  expect([view.state, view.info?.hostname]).toEqual(['down', 'a']);
  await expect(hosts.reachable(a)).rejects.toMatchObject({ kind: 'unavailable' });
  hosts.stop();
});

test('stop() ends the background refresh', async () => {
  jest.useFakeTimers();
  try {
    const { hosts, calls } = setup({ intervalMs: 20 });
    await hosts.hosts();
    const first = calls.length;
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.length).toBe(first + 2 * 5); // two hosts, five rounds
    hosts.stop();
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.length).toBe(first + 2 * 5);
  } finally {
    jest.useRealTimers();
  }
});
