/**
 * Shelve, shelveOffload and unshelve on the fake engine (nova/compute/api.py, manager.py
 * _shelve_instance, _shelve_offload_instance, _unshelve_instance): the states and task states
 * Nova passes through, the shelved image, the instance and allocation leaving the host and coming
 * back elsewhere with its files, Nova's refusals, and one winner among concurrent requests.
 */
import { makeTestServices, TestServices, Account } from '../helpers/services';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import { DomainError } from '../../src/errors';
import type { RequestContext } from '../../src/http/context';
import type { ComputeServices } from '../../src/compute/services';
import { parseListQuery } from '../../src/image/list-query';

let t: TestServices;
let a: FakeDriver;
let b: FakeDriver;
let compute: ComputeServices;
let image: string;
let held: FakeOp | undefined;
let gate: Promise<void> | undefined;
let open: () => void = () => undefined;
const hold = (op: FakeOp) => {
  held = op;
  gate = new Promise<void>((r) => { open = r; });
};

async function setUp(offloadTime?: number): Promise<void> {
  const beforeCall = (op: FakeOp) => (op === held ? gate : undefined);
  a = new FakeDriver({ host: 'host-a', beforeCall });
  b = new FakeDriver({ host: 'host-b', beforeCall });
  t = await makeTestServices({ drivers: [a, b], config: offloadTime === undefined ? {} : { shelvedOffloadTime: offloadTime } });
  compute = t.services.compute;
  image = await t.uploadImage();
}
afterEach(async () => {
  held = undefined;
  open();
  await t?.close();
});

const ctx = (account: Account = 'demo'): Promise<RequestContext> => t.ctx(account);
const row = async (id: string) => compute.queries.get(await ctx('admin'), id);
const driverOf = (host: string | null) => (host === 'host-a' ? a : b);
const kinds = (results: PromiseSettledResult<unknown>[]) => results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as DomainError).kind));
const error = async (p: Promise<unknown>) => p.then(() => undefined, (e: DomainError) => ({ kind: e.kind, message: e.message }));
const imagesNamed = async (name: string) => (await t.services.images.list(await ctx(), parseListQuery(new URLSearchParams({ name })))).images;

async function active(name = 'vm'): Promise<string> {
  const { servers } = await compute.boot.create(await ctx(), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await compute.tasks.idle();
  return servers[0].id;
}

async function allocated(): Promise<number> {
  let n = 0;
  for (const f of (await compute.placement.figures()).values()) n += f.runningVms;
  return n;
}

describe('shelve with the default offload time (0)', () => {
  beforeEach(() => setUp());

  test('a running server is SHELVED_OFFLOADED: image "<name>-shelved" kept, instance removed, allocation released, host empty', async () => {
    const id = await active('web');
    const host = (await row(id)).host;
    driverOf(host).writeFile(id, '/srv/data.txt', 'kept across shelve');
    expect(await allocated()).toBe(1);
    await compute.shelve.shelve(await ctx(), id);
    const during = await row(id);
    expect([during.vm_state, during.task_state]).toEqual(['active', 'shelving']);
    const [shelvedImage] = await imagesNamed('web-shelved');
    expect(shelvedImage).toBeDefined();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state, s.host]).toEqual(['shelved_offloaded', null, 4, null]);
    expect(s.shelved_image_id).toBe(shelvedImage.id);
    expect(s.shelved_host).toBe(host);
    expect(s.shelved_at).toEqual(expect.any(String));
    expect(driverOf(host).specOf(id)).toBeUndefined();
    expect(await allocated()).toBe(0);
    const img = await t.services.images.find(await ctx(), shelvedImage.id);
    expect(img?.status).toBe('active');
    expect(img?.properties).toMatchObject({ image_type: 'snapshot', instance_uuid: id, base_image_ref: image });
    const actions = await compute.queries.listActions(await ctx(), id);
    expect(actions.map((x) => [x.action, x.message])).toContainEqual(['shelve', null]);
  });

  test('unshelve schedules anew and spawns from the shelved image: the file comes back, the image is deleted, the shelved keys cleared', async () => {
    const id = await active('web');
    driverOf((await row(id)).host).writeFile(id, '/srv/data.txt', 'kept across shelve');
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const imageId = (await row(id)).shelved_image_id!;
    await compute.shelve.unshelve(await ctx(), id);
    expect((await row(id)).task_state).toBe('unshelving');
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state]).toEqual(['active', null, 1]);
    expect(s.host).toMatch(/^host-[ab]$/);
    expect([s.shelved_at, s.shelved_image_id, s.shelved_host]).toEqual([null, null, null]);
    expect(s.image_id).toBe(image);
    expect(Object.keys(s.addresses)).not.toHaveLength(0);
    expect(driverOf(s.host).readFile(id, '/srv/data.txt')).toBe('kept across shelve');
    expect(await t.services.images.find(await ctx(), imageId)).toBeUndefined();
    expect(await allocated()).toBe(1);
  });

  test('a paused and a suspended server shelve too (thawed, then powered off)', async () => {
    const p = await active('p');
    const q = await active('q');
    await compute.actions.pause(await ctx(), p);
    await compute.actions.suspend(await ctx(), q);
    await compute.tasks.idle();
    await compute.shelve.shelve(await ctx(), p);
    await compute.shelve.shelve(await ctx(), q);
    await compute.tasks.idle();
    expect((await row(p)).vm_state).toBe('shelved_offloaded');
    expect((await row(q)).vm_state).toBe('shelved_offloaded');
  });

  test('the task passes through shelving_image_pending_upload and shelving_image_uploading', async () => {
    const id = await active();
    hold('exportImage');
    await compute.shelve.shelve(await ctx(), id);
    for (let i = 0; i < 50 && (await row(id)).task_state !== 'shelving_image_uploading'; i++) await new Promise((r) => setImmediate(r));
    expect((await row(id)).task_state).toBe('shelving_image_uploading');
    open();
    held = undefined;
    await compute.tasks.idle();
    expect((await row(id)).vm_state).toBe('shelved_offloaded');
  });

  test('20 concurrent shelves: one is accepted, the others are 409s; one shelved image', async () => {
    const id = await active('race');
    const c = await ctx();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => compute.shelve.shelve(c, id)));
    expect(kinds(results).filter((k) => k === 'ok')).toHaveLength(1);
    expect(kinds(results).filter((k) => k === 'invalidState')).toHaveLength(19);
    await compute.tasks.idle();
    expect(await imagesNamed('race-shelved')).toHaveLength(1);
  });

  test('20 concurrent unshelves: one is accepted, the others are 409s; the server is placed once', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const c = await ctx();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => compute.shelve.unshelve(c, id)));
    expect(kinds(results).filter((k) => k === 'ok')).toHaveLength(1);
    expect(kinds(results).filter((k) => k === 'invalidState')).toHaveLength(19);
    await compute.tasks.idle();
    expect((await row(id)).vm_state).toBe('active');
    expect(await allocated()).toBe(1);
    expect([a.specOf(id), b.specOf(id)].filter(Boolean)).toHaveLength(1);
  });

  test("Nova's refusals: shelve of a shelved server, unshelve of an active one, a locked server, offload by a member", async () => {
    const id = await active();
    expect(await error(compute.shelve.unshelve(await ctx(), id))).toEqual({ kind: 'invalidState', message: `Cannot 'unshelve' instance ${id} while it is in vm_state active` });
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    expect(await error(compute.shelve.shelve(await ctx(), id))).toEqual({ kind: 'invalidState', message: `Cannot 'shelve' instance ${id} while it is in vm_state shelved_offloaded` });
    expect(await error(compute.shelve.shelveOffload(await ctx(), id))).toEqual({ kind: 'forbidden', message: "Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed." });
    expect(await error(compute.shelve.shelveOffload(await ctx('admin'), id))).toEqual({ kind: 'invalidState', message: `Cannot 'shelveOffload' instance ${id} while it is in vm_state shelved_offloaded` });
    await compute.actions.lock(await ctx('admin'), id);
    expect(await error(compute.shelve.unshelve(await ctx(), id))).toEqual({ kind: 'invalidState', message: `Instance ${id} is locked` });
    expect(await error(compute.shelve.shelve(await ctx('alt'), id))).toMatchObject({ kind: 'notFound' });
  });

  test('unshelve to a host (2.91): admins only, the host must exist and be in the zone; it lands there', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    expect(await error(compute.shelve.unshelve(await ctx(), id, { host: 'host-b' }))).toEqual({ kind: 'forbidden', message: "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed." });
    expect(await error(compute.shelve.unshelve(await ctx('admin'), id, { host: 'nosuch' }))).toEqual({ kind: 'invalid', message: 'Compute host nosuch could not be found.' });
    expect(await error(compute.shelve.unshelve(await ctx('admin'), id, { availabilityZone: 'nosuch' }))).toEqual({ kind: 'invalid', message: 'The requested availability zone is not available' });
    for (const host of ['host-b', 'host-a', 'host-b']) {
      await compute.shelve.unshelve(await ctx('admin'), id, { host });
      await compute.tasks.idle();
      expect((await row(id)).host).toBe(host);
      expect(driverOf(host).specOf(id)).toBeDefined();
      await compute.shelve.shelve(await ctx(), id);
      await compute.tasks.idle();
    }
  });

  test('unshelve when no host fits (every compute service disabled): SHELVED_OFFLOADED again, no host, no allocation, the action an error', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    for (const host of ['host-a', 'host-b']) await compute.osServices.updateByHost(host, 'nova-compute', { disabled: true });
    await compute.shelve.unshelve(await ctx(), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host]).toEqual(['shelved_offloaded', null, null]);
    expect(s.shelved_image_id).not.toBeNull();
    expect(await allocated()).toBe(0);
    const [last] = await compute.queries.listActions(await ctx(), id);
    expect([last.action, last.message]).toEqual(['unshelve', 'Error']);
  });

  test('unshelve after the shelved image was deleted: ERROR with Nova\'s fault', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const imageId = (await row(id)).shelved_image_id!;
    await t.services.images.delete(await ctx(), imageId);
    await compute.shelve.unshelve(await ctx(), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state]).toEqual(['error', null]);
    expect(s.fault?.message).toBe(`Unshelve attempted but the image ${imageId} cannot be found.`);
  });

  test('deleting an offloaded server deletes its shelved image too', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const imageId = (await row(id)).shelved_image_id!;
    await compute.deleter.delete(await ctx(), id);
    await compute.tasks.idle();
    expect(await error(row(id))).toMatchObject({ kind: 'notFound' });
    expect(await t.services.images.find(await ctx(), imageId)).toBeUndefined();
  });

  test('after unshelve, deleting the server removes the shelved engine image from its host; the boot image, still in Glance, stays', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const shelved = (await t.services.images.find(await ctx(), (await row(id)).shelved_image_id!))!;
    await compute.shelve.unshelve(await ctx(), id);
    await compute.tasks.idle();
    const host = driverOf((await row(id)).host);
    expect(host.specOf(id)?.imageRef).toBe(shelved.engine_image_id);
    // The Glance record is gone, but the engine kept the image its instance runs from.
    expect(await t.services.images.find(await ctx(), shelved.id)).toBeUndefined();
    expect(await host.hasImage(shelved.engine_image_id!)).toBe(true);
    await compute.deleter.delete(await ctx(), id);
    await compute.tasks.idle();
    expect(await host.hasImage(shelved.engine_image_id!)).toBe(false);
    const boot = (await t.services.images.find(await ctx(), image))!;
    expect(await host.hasImage(boot.engine_image_id!)).toBe(true);
  });

  test('an engine image no record names stays while another instance runs from it, and goes with the last one', async () => {
    const boot = async (name: string) => (await compute.boot.create(await ctx('admin'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1, availabilityZone: 'nova:host-a' })).servers[0].id;
    const [one, two] = [await boot('one'), await boot('two')];
    await compute.tasks.idle();
    expect([(await row(one)).host, (await row(two)).host]).toEqual(['host-a', 'host-a']);
    const engineId = (await t.services.images.find(await ctx(), image))!.engine_image_id!;
    await t.services.images.delete(await ctx(), image);
    await t.services.images.idle();
    expect(await a.hasImage(engineId)).toBe(true);
    await compute.deleter.delete(await ctx('admin'), one);
    await compute.tasks.idle();
    expect(await a.hasImage(engineId)).toBe(true);
    await compute.deleter.delete(await ctx('admin'), two);
    await compute.tasks.idle();
    expect(await a.hasImage(engineId)).toBe(false);
  });

  test('the reconciler leaves an offloaded server without an instance as it is', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const before = await row(id);
    await t.services.reconciler.sweep();
    await t.services.reconciler.recoverAbandoned();
    const after = await row(id);
    expect([after.vm_state, after.power_state, after.host, after.fault]).toEqual(['shelved_offloaded', 4, null, null]);
    expect(after.updated_at).toBe(before.updated_at);
  });
});

describe('recovery after a crash (the task left by a process that is gone)', () => {
  beforeEach(() => setUp());

  test('an offload cut short is finished: no instance, no allocation, SHELVED_OFFLOADED', async () => {
    const id = await active();
    const host = (await row(id)).host;
    await compute.actions.stop(await ctx(), id);
    await compute.tasks.idle();
    await t.services.db('servers').where({ id }).update({ vm_state: 'shelved', task_state: 'shelving_offloading' });
    await t.services.reconciler.recoverAbandoned();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.power_state]).toEqual(['shelved_offloaded', null, null, 4]);
    expect(driverOf(host).specOf(id)).toBeUndefined();
    expect(await allocated()).toBe(0);
  });

  test('an unshelve cut short after its instance ran is ACTIVE, and the shelved image is deleted as unshelve does', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const offloaded = await row(id);
    const shelved = (await t.services.images.find(await ctx(), offloaded.shelved_image_id!))!;
    // The dead process had spawned the instance from the shelved image, but not yet recorded it.
    const host = driverOf(offloaded.shelved_host ?? null);
    await host.spawn({ serverId: id, projectId: offloaded.project_id, hostname: 'vm', imageRef: shelved.engine_image_id!, memoryMb: 64, vcpus: 1, env: {}, network: null });
    await t.services.db('servers').where({ id }).update({ task_state: 'spawning', host: offloaded.shelved_host });
    await t.services.reconciler.recoverAbandoned();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state]).toEqual(['active', null, 1]);
    expect([s.shelved_at, s.shelved_image_id, s.shelved_host]).toEqual([null, null, null]);
    expect(await t.services.images.find(await ctx(), shelved.id)).toBeUndefined();
  });

  test('an unshelve cut short before its instance ran is offloaded again, ready for another unshelve', async () => {
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    await t.services.db('servers').where({ id }).update({ task_state: 'unshelving' });
    await t.services.reconciler.recoverAbandoned();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host]).toEqual(['shelved_offloaded', null, null]);
    await compute.shelve.unshelve(await ctx(), id);
    await compute.tasks.idle();
    expect((await row(id)).vm_state).toBe('active');
  });
});

describe('shelve with offloading later (NOVADOCK_SHELVED_OFFLOAD_TIME)', () => {
  test('-1 (never): SHELVED with the instance stopped on its host; unshelve powers it on and deletes the image', async () => {
    await setUp(-1);
    const id = await active('keep');
    const host = (await row(id)).host;
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state, s.host]).toEqual(['shelved', null, 4, host]);
    expect(driverOf(host).specOf(id)).toBeDefined();
    expect(await allocated()).toBe(1);
    expect(await error(compute.shelve.unshelve(await ctx(), id, { availabilityZone: 'nova' }))).toEqual({
      kind: 'invalidState',
      message: `Specifying an availability zone or a host when unshelving server "${id}" with status "shelved" is not supported. The server status must be SHELVED_OFFLOADED.`,
    });
    await compute.shelve.unshelve(await ctx(), id);
    await compute.tasks.idle();
    const u = await row(id);
    expect([u.vm_state, u.task_state, u.power_state, u.host, u.shelved_image_id]).toEqual(['active', null, 1, host, null]);
    expect(await imagesNamed('keep-shelved')).toHaveLength(0);
  });

  test('-1: shelveOffload (admin) offloads a SHELVED server; the reconciler does not fight a SHELVED one', async () => {
    await setUp(-1);
    const id = await active();
    const host = (await row(id)).host;
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    await t.services.reconciler.sweep();
    expect((await row(id)).vm_state).toBe('shelved');
    await compute.shelve.shelveOffload(await ctx('admin'), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host]).toEqual(['shelved_offloaded', null, null]);
    expect(driverOf(host).specOf(id)).toBeUndefined();
    expect(await allocated()).toBe(0);
    const actions = await compute.queries.listActions(await ctx('admin'), id);
    expect(actions.map((x) => x.action)).toEqual(expect.arrayContaining(['shelve', 'shelveOffload']));
  });

  test('600 s: a server shelved longer ago than that is offloaded by the poll, a newer one is not', async () => {
    await setUp(600);
    const id = await active();
    await compute.shelve.shelve(await ctx(), id);
    await compute.tasks.idle();
    expect(await compute.shelve.offloadExpired(Date.now())).toBe(0);
    expect((await row(id)).vm_state).toBe('shelved');
    expect(await compute.shelve.offloadExpired(Date.now() + 601_000)).toBe(1);
    await compute.tasks.idle();
    expect((await row(id)).vm_state).toBe('shelved_offloaded');
  });
});
