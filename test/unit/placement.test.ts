/**
 * Boots through placement on several fake compute hosts (the services as the composition root
 * builds them, on SQLite — or PostgreSQL when NOVADOCK_TEST_PG_URL is set): spread by free RAM,
 * a full host skipped, a disabled host and another zone skipped (stub HostSettingsPort), a
 * request's servers placed all together or not at all, Nova's NoValidHost fault, concurrent
 * boots never overcommitting a host, allocations released by deletes and failed builds, and
 * the move verbs (placeMove / confirmMove / revertMove) other parts build on.
 */
import crypto from 'node:crypto';
import { makeTestServices, NOVA_INITIAL, TestServices, TestServicesOptions } from '../helpers/services';
import { FakeDriver, FakeDriverOptions } from '../../src/virt/fake/driver';
import type { HostSettings, HostSettingsPort } from '../../src/compute/scheduler/types';
import { NoValidHost } from '../../src/compute/scheduler/types';
import type { RequestContext } from '../../src/http/context';

/** A fake host whose engine reports `usableMb` of memory once the 512 MiB reserve is taken off. */
const fakeHost = (host: string, usableMb: number, over: Partial<FakeDriverOptions> = {}) =>
  new FakeDriver({ host, hypervisor: { memoryMb: usableMb + 512, vcpus: 8 }, ...over });

let t: TestServices;
let image: string;

async function setup(drivers: FakeDriver[], opts: TestServicesOptions = {}): Promise<void> {
  t = await makeTestServices({ drivers, quotas: { instances: 50, cores: 100, ram: 100_000 }, config: { capacity: NOVA_INITIAL }, ...opts });
  image = await t.uploadImage();
}
afterEach(async () => {
  await t?.close();
});

const ctx = (): Promise<RequestContext> => t.ctx('demo');

async function create(name: string, extra: { minCount?: number; maxCount?: number; flavorRef?: string; availabilityZone?: string } = {}) {
  const { servers } = await t.services.compute.boot.create(await ctx(), {
    name, imageRef: image, flavorRef: extra.flavorRef ?? '1', minCount: extra.minCount ?? 1, maxCount: extra.maxCount ?? 1, availabilityZone: extra.availabilityZone,
  });
  return servers.map((s) => s.id);
}

const row = (id: string) => t.services.compute.queries.get({ isAdmin: true } as RequestContext, id);
const allocations = async () => t.services.db('allocations').select('consumer_id', 'host', 'memory_mb', 'vcpus').orderBy('consumer_id');
const hostsOf = async (ids: string[]) => Promise.all(ids.map(async (id) => (await row(id)).host));

async function bootOneByOne(n: number): Promise<string[]> {
  const hosts: string[] = [];
  for (let i = 0; i < n; i++) {
    const [id] = await create(`s${i}`);
    await t.services.compute.tasks.idle();
    hosts.push((await row(id)).host as string);
  }
  return hosts;
}

test('boots spread by free RAM: the first where the image is, then the roomiest host each time', async () => {
  await setup([fakeHost('a', 4096), fakeHost('b', 4096)]);
  expect(await bootOneByOne(4)).toEqual(['a', 'b', 'a', 'b']);
  expect((await allocations()).map((a: { host: string }) => a.host).sort()).toEqual(['a', 'a', 'b', 'b']);
});

test('a host with no room left for the flavor is skipped, however much free RAM it shows', async () => {
  // a: lots of RAM but one CPU (4 vCPUs at ratio 4.0); b: less RAM.
  await setup([fakeHost('a', 16384, { hypervisor: { memoryMb: 16384 + 512, vcpus: 1 } }), fakeHost('b', 4096)]);
  expect(await bootOneByOne(6)).toEqual(['a', 'a', 'a', 'a', 'b', 'b']);
});

test('a disabled host takes nothing, and a zone keeps boots to its hosts (stub HostSettingsPort)', async () => {
  const settings: HostSettings[] = [
    { host: 'a', disabled: true, disabledReason: 'maintenance', forcedDown: false, zone: 'nova' },
    { host: 'b', disabled: false, disabledReason: null, forcedDown: false, zone: 'nova' },
    { host: 'c', disabled: false, disabledReason: null, forcedDown: false, zone: 'az1' },
  ];
  const hostSettings: HostSettingsPort = { all: async () => settings, zoneExists: async (z) => z === 'nova' || z === 'az1' };
  await setup([fakeHost('a', 16384), fakeHost('b', 2048), fakeHost('c', 1024)], { hostSettings });
  expect(await bootOneByOne(3)).toEqual(['b', 'b', 'b']);
  const inZone = await create('z', { availabilityZone: 'az1' });
  await t.services.compute.tasks.idle();
  expect(await row(inZone[0])).toMatchObject({ host: 'c', availability_zone: 'az1', vm_state: 'active' });
  await expect(create('mars', { availabilityZone: 'mars' })).rejects.toMatchObject({ kind: 'invalid', message: 'The requested availability zone is not available' });
  // A forced host skips the service check (Nova's behaviour for admins' "zone:host").
  const { servers } = await t.services.compute.boot.create(await t.ctx('admin'), { name: 'forced', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1, availabilityZone: 'nova:a' });
  await t.services.compute.tasks.idle();
  expect((await row(servers[0].id)).host).toBe('a');
});

test("the servers of one request are placed together or not at all; NoValidHost is Nova's fault on each", async () => {
  const a = fakeHost('a', 1024);
  await setup([a]);
  const ids = await create('trio', { minCount: 3, maxCount: 3 });
  await t.services.compute.tasks.idle();
  for (const id of ids) {
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host]).toEqual(['error', null, null]);
    expect(s.fault).toMatchObject({ code: 500, message: 'No valid host was found. There are not enough hosts available.' });
    const [action] = await t.services.db('instance_actions').where({ instance_uuid: id });
    expect([action.action, action.result, action.message, action.traceback]).toEqual(['create', 'Error', 'Error', 'No valid host was found. There are not enough hosts available.']);
    expect(a.specOf(id)).toBeUndefined();
  }
  expect(await allocations()).toEqual([]);
  const pair = await create('pair', { minCount: 2, maxCount: 2 });
  await t.services.compute.tasks.idle();
  expect(await hostsOf(pair)).toEqual(['a', 'a']);
  expect((await Promise.all(pair.map(row))).map((s) => s.vm_state)).toEqual(['active', 'active']);
});

test('concurrent boots never overcommit a host: room for 5, 12 at once → 5 ACTIVE, 7 no valid host', async () => {
  await setup([fakeHost('a', 5 * 512)]);
  const ids = (await Promise.all(Array.from({ length: 12 }, (_, i) => create(`c${i}`)))).flat();
  await t.services.compute.tasks.idle();
  const states = await Promise.all(ids.map(async (id) => (await row(id)).vm_state));
  expect(states.filter((s) => s === 'active')).toHaveLength(5);
  expect(states.filter((s) => s === 'error')).toHaveLength(7);
  const held = await allocations();
  expect(held.reduce((n: number, a: { memory_mb: number }) => n + Number(a.memory_mb), 0)).toBe(5 * 512);
  expect((await t.drivers[0].listInstances())).toHaveLength(5);
});

test('concurrent multi-creates are all or nothing each: room for 5, four requests of 2 → two requests placed whole', async () => {
  await setup([fakeHost('a', 5 * 512), fakeHost('b', 0)]);
  const requests = await Promise.all(Array.from({ length: 4 }, (_, i) => create(`m${i}`, { minCount: 2, maxCount: 2 })));
  await t.services.compute.tasks.idle();
  const outcomes = await Promise.all(requests.map(async (ids) => (await Promise.all(ids.map(row))).map((s) => s.vm_state).join()));
  expect(outcomes.sort()).toEqual(['active,active', 'active,active', 'error,error', 'error,error']);
  expect(await allocations()).toHaveLength(4);
});

test('a delete releases the allocation; so does a build that fails after placement', async () => {
  let fail = false;
  await setup([fakeHost('a', 1024, { failSpawn: () => (fail ? 'exit code 1' : undefined) })]);
  const [first] = await create('first');
  await t.services.compute.tasks.idle();
  expect(await allocations()).toEqual([{ consumer_id: first, host: 'a', memory_mb: 512, vcpus: 1 }]);
  await t.services.compute.deleter.delete(await ctx(), first);
  await t.services.compute.tasks.idle();
  expect(await allocations()).toEqual([]);

  fail = true;
  const [doomed] = await create('doomed');
  await t.services.compute.tasks.idle();
  expect(await row(doomed)).toMatchObject({ vm_state: 'error', host: 'a' });
  expect(await allocations()).toEqual([]);
  fail = false;
  // The room is back: two more fit.
  const pair = await create('pair', { minCount: 2, maxCount: 2 });
  await t.services.compute.tasks.idle();
  expect((await Promise.all(pair.map(row))).map((s) => s.vm_state)).toEqual(['active', 'active']);
});

describe('moves (placeMove, confirmMove, revertMove)', () => {
  async function placed(): Promise<{ id: string; migration: string }> {
    await setup([fakeHost('a', 4096), fakeHost('b', 2048), fakeHost('c', 1024)]);
    const [id] = await create('mover');
    await t.services.compute.tasks.idle();
    expect((await row(id)).host).toBe('a');
    return { id, migration: crypto.randomUUID() };
  }
  const spec = { memoryMb: 1024, vcpus: 2, count: 1 };

  test('placeMove hands the source to the migration and allocates the new flavor on a destination, never the source', async () => {
    const { id, migration } = await placed();
    const dest = await t.services.compute.placement.placeMove(await row(id), spec, migration);
    expect(dest).toBe('b');
    expect(await allocations()).toEqual([
      { consumer_id: id, host: 'b', memory_mb: 1024, vcpus: 2 },
      { consumer_id: migration, host: 'a', memory_mb: 512, vcpus: 1 },
    ].sort((x, y) => x.consumer_id.localeCompare(y.consumer_id)));
    await t.services.compute.placement.confirmMove(migration);
    expect(await allocations()).toEqual([{ consumer_id: id, host: 'b', memory_mb: 1024, vcpus: 2 }]);
  });

  test('revertMove drops the destination and gives the source back to the server', async () => {
    const { id, migration } = await placed();
    await t.services.compute.placement.placeMove(await row(id), { ...spec, ignoreHosts: ['b'] }, migration);
    expect((await allocations()).find((a: { consumer_id: string }) => a.consumer_id === id)).toMatchObject({ host: 'c' });
    await t.services.compute.placement.revertMove(id, migration);
    expect(await allocations()).toEqual([{ consumer_id: id, host: 'a', memory_mb: 512, vcpus: 1 }]);
  });

  test('no destination: NoValidHost and nothing changes', async () => {
    const { id, migration } = await placed();
    await expect(t.services.compute.placement.placeMove(await row(id), { ...spec, memoryMb: 4096 }, migration)).rejects.toBeInstanceOf(NoValidHost);
    expect(await allocations()).toEqual([{ consumer_id: id, host: 'a', memory_mb: 512, vcpus: 1 }]);
  });
});
