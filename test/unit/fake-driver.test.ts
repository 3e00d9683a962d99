/**
 * What only the FakeDriver has: injected failures and changes "from outside" that the compute
 * service and the reconciler tests drive it with. (The contract it shares with the Docker
 * driver is in fake-driver-contract.test.ts.)
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { FakeDriver } from '../../src/virt/fake/driver';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { HypervisorUnavailable, InstanceEvent, InstanceSpec, InvalidImageArchive, SpawnFailed } from '../../src/virt/driver';
import { eventually } from '../contract/driver-contract';

const IMAGE = `sha256:${'a'.repeat(64)}`;

const spec = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => ({
  serverId: crypto.randomUUID(),
  projectId: 'p1',
  hostname: 'vm',
  imageRef: IMAGE,
  memoryMb: 64,
  vcpus: 1,
  env: {},
  network: { projectId: 'p1', subnet: '10.160.1.0/24', addressesInUse: [] },
  ...overrides,
});

describe('FakeDriver failure injection', () => {
  test('when failSpawn gives a reason, then spawn fails with it and nothing is left', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE], failSpawn: (s) => (s.hostname === 'doomed' ? 'no valid host' : undefined) });
    const s = spec({ hostname: 'doomed' });
    await expect(d.spawn(s)).rejects.toEqual(new SpawnFailed('no valid host'));
    expect(await d.listInstances()).toEqual([]);
    expect((await d.spawn(spec())).powerState).toBe(1);
  });

  test('when the engine is unavailable, then every call throws HypervisorUnavailable and subscribers hear of it', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec();
    await d.spawn(s);
    const errors: Error[] = [];
    d.subscribe(() => undefined, (e) => errors.push(e));
    d.setUnavailable(true);
    await expect(d.ping()).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(d.getInfo(s.serverId)).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(d.listInstances()).rejects.toBeInstanceOf(HypervisorUnavailable);
    await expect(d.spawn(spec())).rejects.toBeInstanceOf(HypervisorUnavailable);
    await eventually(() => expect(errors).toHaveLength(1));
    expect(errors[0]).toBeInstanceOf(HypervisorUnavailable);

    d.setUnavailable(false);
    expect((await d.getInfo(s.serverId)).powerState).toBe(1);
  });

  test('a driver built unavailable refuses from the start', async () => {
    const d = new FakeDriver({ host: 'h', unavailable: true });
    await expect(d.ping()).rejects.toThrow('Compute host h is unavailable');
  });

  test('when failOn returns an error for one call, then only that call fails', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE], failOn: (op) => (op === 'powerOff' ? new Error('stuck') : undefined) });
    const s = spec();
    await d.spawn(s);
    await expect(d.powerOff(s.serverId, 5)).rejects.toThrow('stuck');
    expect((await d.getInfo(s.serverId)).powerState).toBe(1);
  });

  test('beforeCall holds a call in flight until the test releases it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = new FakeDriver({ host: 'h', images: [IMAGE], beforeCall: (op) => (op === 'spawn' ? gate : undefined) });
    const s = spec();
    let done = false;
    const p = d.spawn(s).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    expect(await d.listInstances()).toEqual([]);
    release();
    await p;
    expect((await d.getInfo(s.serverId)).powerState).toBe(1);
  });

  test('delays postpone a call without changing its result', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE], delays: { spawn: 50 } });
    const started = Date.now();
    expect((await d.spawn(spec())).powerState).toBe(1);
    // Timers never fire early by more than a millisecond of rounding.
    expect(Date.now() - started).toBeGreaterThanOrEqual(49);
  });
});

describe('FakeDriver changes from outside', () => {
  const events = (d: FakeDriver) => {
    const seen: InstanceEvent[] = [];
    // Which and of what; every event also carries its time (checked once below).
    d.subscribe((e) => seen.push({ serverId: e.serverId, type: e.type }), () => undefined);
    return seen;
  };

  test('when the process is OOM-killed, then oom and die arrive and getInfo shows oomKilled', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec();
    await d.spawn(s);
    const seen = events(d);
    d.externalOom(s.serverId);
    await eventually(() => expect(seen.map((e) => e.type)).toEqual(['oom', 'die']));
    expect(await d.getInfo(s.serverId)).toMatchObject({ powerState: 4, exitCode: 137, oomKilled: true });
    // A later start clears the OOM mark.
    expect(await d.powerOn(s.serverId)).not.toHaveProperty('oomKilled');
  });

  test('when the process exits by itself, then die arrives with its exit code', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec();
    await d.spawn(s);
    const seen = events(d);
    const timed: InstanceEvent[] = [];
    d.subscribe((e) => timed.push(e), () => undefined);
    const before = Date.now();
    d.externalExit(s.serverId, 2);
    await eventually(() => expect(seen).toEqual([{ serverId: s.serverId, type: 'die' }]));
    expect(timed[0].time).toBeGreaterThanOrEqual(before);
    expect(await d.getInfo(s.serverId)).toMatchObject({ powerState: 4, exitCode: 2 });
  });

  test('when paused outside, then pause arrives and it is PAUSED', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec();
    await d.spawn(s);
    const seen = events(d);
    d.externalPause(s.serverId);
    await eventually(() => expect(seen).toEqual([{ serverId: s.serverId, type: 'pause' }]));
    expect((await d.getInfo(s.serverId)).powerState).toBe(3);
  });

  test('after unsubscribing, a listener hears nothing more', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec();
    await d.spawn(s);
    const seen: InstanceEvent[] = [];
    const off = d.subscribe((e) => seen.push(e), () => undefined);
    // A listener still subscribed proves the kill's events were delivered in the wait below.
    const heard = events(d);
    off();
    d.externalKill(s.serverId);
    // Events are delivered on setImmediate: after two turns any would have arrived.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(heard).toContainEqual({ serverId: s.serverId, type: 'die' });
    expect(seen).toEqual([]);
  });
});

describe('FakeDriver state', () => {
  test("addresses come from the project's subnet, skip those other servers hold, and are stable per server", async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const p1 = { projectId: 'p1', subnet: '10.160.1.0/24', addressesInUse: ['10.160.1.3'] };
    const a = await d.spawn(spec({ projectId: 'p1', network: p1 }));
    const b = await d.spawn(spec({ projectId: 'p1', network: p1 }));
    const c = await d.spawn(spec({ projectId: 'p2', network: { projectId: 'p2', subnet: '10.160.2.0/24', addressesInUse: [] } }));
    expect([a, b, c].map((i) => i.addresses[0].addr)).toEqual(['10.160.1.2', '10.160.1.4', '10.160.2.2']);
  });

  test('hypervisorInfo counts running and paused instances', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s1 = spec();
    const s2 = spec();
    const s3 = spec();
    await d.spawn(s1);
    await d.spawn(s2);
    await d.spawn(s3);
    await d.pause(s2.serverId);
    await d.powerOff(s3.serverId, 1);
    expect(await d.hypervisorInfo()).toMatchObject({ hostname: 'h', runningInstances: 2 });
  });

  test('the spawned spec is recorded, metadata included', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    const s = spec({ env: { ROLE: 'db' } });
    await d.spawn(s);
    expect(d.specOf(s.serverId)?.env).toEqual({ ROLE: 'db' });
  });

  test('an archive larger than maxImageBytes is refused', async () => {
    const d = new FakeDriver({ host: 'h', maxImageBytes: 1024 });
    const { bytes, imageId } = await buildFakeArchive({ files: { '/big': Buffer.alloc(64 * 1024, 1) } });
    await expect(d.loadImage(Readable.from([bytes]))).rejects.toBeInstanceOf(InvalidImageArchive);
    expect(await d.hasImage(imageId)).toBe(false);
  });

  test('an image seeded by id cannot be exported (it has no bytes)', async () => {
    const d = new FakeDriver({ host: 'h', images: [IMAGE] });
    await expect(d.exportImage(IMAGE)).rejects.toThrow(/without an archive/);
  });
});
