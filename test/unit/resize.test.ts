/**
 * Resize (issue 15) on fake hosts with the real scheduler and placement, services only: on its
 * own host the limits change in place (no restart), elsewhere it is a cold move with the new
 * flavor; VERIFY_RESIZE shows the new flavor; confirm keeps it, revert puts the old one back;
 * refusals in Nova's words; one winner among concurrent resizes; quotas count the new flavor.
 */
import crypto from 'node:crypto';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { DomainError } from '../../src/errors';
import { MigrationRepository } from '../../src/db/migration-repo';
import { statusOf } from '../../src/compute/status';
import type { ComputeServices } from '../../src/compute/services';

let t: TestServices;
let h1: FakeDriver;
let h2: FakeDriver;
let compute: ComputeServices;
let migrations: MigrationRepository;
let image: string;
let starts: Record<string, number>;
/** Set by a test: the engine refuses the next resizeInstance of this server (once). */
let refuseNextResize: string | undefined;
/** Set by a test: every resizeInstance waits for it (the engine's call held in flight), and calls `onResize` first. */
let resizeHeld: Promise<void> | undefined;
let onResize: (() => void) | undefined;

/** h1 takes m1.tiny + m1.small at once but not m1.tiny + m1.medium ((3000 − 512) × 1.5 MB); h2 is large. */
beforeEach(async () => {
  starts = {};
  resizeHeld = undefined;
  onResize = undefined;
  const fake = (host: string, memoryMb: number) => new FakeDriver({
    host,
    hypervisor: { memoryMb },
    program: (spec) => { starts[spec.serverId] = (starts[spec.serverId] ?? 0) + 1; return { output: ['up'] }; },
    failOn: (op, serverId) => {
      if (op !== 'resizeInstance' || serverId !== refuseNextResize) return undefined;
      refuseNextResize = undefined;
      return new Error('Minimum memory limit can not be less than memory reservation limit');
    },
    beforeCall: (op) => {
      if (op !== 'resizeInstance') return undefined;
      onResize?.();
      return resizeHeld;
    },
  });
  [h1, h2] = [fake('h1', 3000), fake('h2', 16384)];
  t = await makeTestServices({ drivers: [h1, h2], quotas: { cores: 4 } });
  compute = t.services.compute;
  migrations = new MigrationRepository(t.services.db);
  image = await t.uploadImage('admin');
});
afterEach(async () => {
  await t.close();
});

const admin = () => t.ctx('admin');
const row = async (id: string) => compute.queries.get(await admin(), id);
const migrationOf = async (id: string) => (await migrations.list({ instanceUuid: id }))[0];
const actionsOf = async (id: string) => (await compute.queries.listActions(await admin(), id)).map((a) => a.action);

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a refusal');
}

/** An m1.tiny server of the admin project on h1. */
async function onH1(): Promise<string> {
  const { servers } = await compute.boot.create(await admin(), { name: 'vm', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1, requestedHost: 'h1' });
  await compute.tasks.idle();
  expect((await row(servers[0].id)).host).toBe('h1');
  return servers[0].id;
}

async function resized(id: string, flavorRef: string): Promise<void> {
  await compute.resize.resize(await admin(), id, flavorRef);
  await compute.tasks.idle();
}

describe('resize on the same host', () => {
  test('when the host fits the new flavor, then the limits change in place with no restart, and VERIFY_RESIZE shows the new flavor', async () => {
    const id = await onH1();
    h1.writeFile(id, '/root/notes.txt', 'kept');
    let release!: () => void;
    resizeHeld = new Promise<void>((r) => { release = r; });
    const inFlight = new Promise<void>((r) => { onResize = r; });
    await compute.resize.resize(await admin(), id, '2');
    // While the engine's call is in flight, the server reads as the claim left it.
    await inFlight;
    const claimed = await row(id);
    expect([claimed.task_state, statusOf(claimed.vm_state, claimed.task_state)]).toEqual(['resize_prep', 'RESIZE']);
    expect(await migrationOf(id)).toMatchObject({ status: 'pre-migrating', dest_compute: 'h1' });
    resizeHeld = undefined;
    release();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, statusOf(s.vm_state, s.task_state), s.flavor.id, s.flavor_id, s.flavor.ram]).toEqual(['resized', null, 'h1', 'VERIFY_RESIZE', '2', '2', 2048]);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 2048, vcpus: 1 });
    expect(starts[id]).toBe(1);
    expect(h1.readFile(id, '/root/notes.txt')).toBe('kept');
    expect(await h2.listInstances()).toEqual([]);
    const m = await migrationOf(id);
    expect(m).toMatchObject({ migration_type: 'resize', status: 'finished', source_compute: 'h1', dest_compute: 'h1', old_vm_state: 'active' });
    expect(m.old_instance_type_id).not.toBe(m.new_instance_type_id);
    // Both flavors are claimed on h1 until confirm or revert, as in Nova.
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 512 + 2048);
    expect(await actionsOf(id)).toContain('resize');
  });

  test('the answer to a resize in place comes once its work is done: the next read shows VERIFY_RESIZE; a move to another host is answered at once', async () => {
    const id = await onH1();
    resizeHeld = new Promise<void>((r) => setTimeout(r, 100)); // an engine call that takes its time
    await compute.resize.resize(await admin(), id, '2');
    resizeHeld = undefined;
    // No idle(): the 202 itself waited for the engine's call and the records it wrote.
    const s = await row(id);
    expect([statusOf(s.vm_state, s.task_state), s.flavor.id]).toEqual(['VERIFY_RESIZE', '2']);
    expect((await migrationOf(id)).status).toBe('finished');
    await compute.migrations.confirmResize(await admin(), id);
    await compute.tasks.idle();

    // h1 cannot take m1.medium beside the other server: the move to h2 is not waited for.
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const hold = jest.spyOn(h2, 'hasImage').mockImplementation(async () => { await held; return false; });
    await compute.resize.resize(await admin(), id, '3');
    const moving = await row(id);
    expect(statusOf(moving.vm_state, moving.task_state)).toBe('RESIZE');
    release();
    hold.mockRestore();
    await compute.tasks.idle();
  });

  test('confirm keeps the new flavor and releases the old claim', async () => {
    const id = await onH1();
    await resized(id, '2');
    await compute.migrations.confirmResize(await admin(), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.flavor.id, s.host]).toEqual(['active', null, '2', 'h1']);
    expect((await migrationOf(id)).status).toBe('confirmed');
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 2048);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 2048 });
    expect(starts[id]).toBe(1);
    expect(await actionsOf(id)).toEqual(expect.arrayContaining(['create', 'resize', 'confirmResize']));
  });

  test('revert puts the old flavor\'s limits back live, and the old flavor on the server', async () => {
    const id = await onH1();
    await resized(id, '2');
    await compute.migrations.revertResize(await admin(), id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.flavor.id, s.flavor_id, s.host, s.power_state]).toEqual(['active', null, '1', '1', 'h1', 1]);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 512, vcpus: 1 });
    expect(starts[id]).toBe(1);
    expect((await migrationOf(id)).status).toBe('reverted');
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 512);
    expect(await actionsOf(id)).toContain('revertResize');
  });

  test('a stopped server stays stopped through the resize, its confirm and its revert', async () => {
    const id = await onH1();
    await compute.actions.stop(await admin(), id);
    await compute.tasks.idle();
    await resized(id, '2');
    let s = await row(id);
    expect([s.vm_state, s.power_state, statusOf(s.vm_state, s.task_state)]).toEqual(['resized', 4, 'VERIFY_RESIZE']);
    await compute.migrations.revertResize(await admin(), id);
    await compute.tasks.idle();
    s = await row(id);
    expect([s.vm_state, s.flavor.id, s.power_state]).toEqual(['stopped', '1', 4]);
    await resized(id, '2');
    await compute.migrations.confirmResize(await admin(), id);
    await compute.tasks.idle();
    s = await row(id);
    expect([s.vm_state, s.flavor.id, s.power_state]).toEqual(['stopped', '2', 4]);
  });

  test('quotas count the new flavor from the resize on, and the old one again after revert', async () => {
    const id = await onH1();
    await resized(id, '3');
    // h1 cannot hold tiny + medium: the server went to h2; the usage is the medium's either way.
    expect((await t.services.compute.queries.get(await admin(), id)).flavor.vcpus).toBe(2);
    const usage = await compute.queries.usage((await row(id)).project_id);
    expect([usage.cores, usage.ram]).toEqual([2, 4096]);
    await compute.migrations.revertResize(await admin(), id);
    await compute.tasks.idle();
    const back = await compute.queries.usage((await row(id)).project_id);
    expect([back.cores, back.ram]).toEqual([1, 512]);
  });
});

describe('a resize the engine refuses', () => {
  test('the old limits stay, the server is ACTIVE with its old flavor and a fault, the migration is error and the action failed', async () => {
    const id = await onH1();
    refuseNextResize = id;
    await resized(id, '2');
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.flavor.id, s.fault?.message]).toEqual(['active', null, 'h1', '1', 'Minimum memory limit can not be less than memory reservation limit']);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 512, vcpus: 1 });
    expect(starts[id]).toBe(1);
    expect((await migrationOf(id)).status).toBe('error');
    const action = (await compute.queries.listActions(await admin(), id)).find((a) => a.action === 'resize');
    expect([action?.result, action?.message]).toEqual(['Error', 'Error']);
    // Placement holds the old flavor only again.
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 512);
  });
});

describe('a resize a dead process left', () => {
  test('mid-way in place: the old limits come back, the server is ACTIVE with its old flavor, its process never restarted, the migration is error', async () => {
    const id = await onH1();
    const uuid = crypto.randomUUID();
    const server = await row(id);
    await h1.resizeInstance(id, 2048, 1);
    await migrations.create({
      uuid, instance_uuid: id, source_compute: 'h1', source_node: 'h1', dest_compute: 'h1', dest_node: 'h1', dest_host: null,
      old_instance_type_id: 1, new_instance_type_id: 2, status: 'migrating', migration_type: 'resize', project_id: null, user_id: null, old_vm_state: 'active',
      old_flavor: server.flavor, new_flavor: { ...server.flavor, id: '2', name: 'm1.small', ram: 2048 },
    });
    await t.services.db('servers').where({ id }).update({ task_state: 'resize_migrating', task_owner: 'a-dead-process' });
    await compute.sync.recover(id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.power_state, s.flavor.id]).toEqual(['active', null, 'h1', 1, '1']);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 512 });
    expect(starts[id]).toBe(1);
    expect((await migrationOf(id)).status).toBe('error');
  });
});

describe('a resize placed by its claim', () => {
  test('the claim already holds both flavors on the own host and names it in the migration; a process that died right after it is undone to the old flavor', async () => {
    const id = await onH1();
    // The process "dies" after the 202: the claim commits, its work never runs.
    const schedule = jest.spyOn(compute.tasks, 'schedule').mockImplementation(() => Promise.resolve());
    await compute.resize.resize(await admin(), id, '2');
    schedule.mockRestore();
    expect(await migrationOf(id)).toMatchObject({ status: 'pre-migrating', source_compute: 'h1', dest_compute: 'h1', dest_node: 'h1' });
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 512 + 2048);
    await t.services.db('servers').where({ id }).update({ task_owner: 'a-dead-process' });
    await compute.sync.recover(id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.flavor.id]).toEqual(['active', null, 'h1', '1']);
    expect(h1.specOf(id)).toMatchObject({ memoryMb: 512 });
    expect((await migrationOf(id)).status).toBe('error');
    expect((await compute.placement.figures()).get('h1')?.memoryMbUsed).toBe(512 + 512);
  });
});

describe('resize to another host', () => {
  test('when the own host cannot fit the new flavor, then it is a cold move to a host that can, and revert brings it back with its files', async () => {
    const id = await onH1();
    h1.writeFile(id, '/root/notes.txt', 'travels');
    await resized(id, '3');
    const s = await row(id);
    expect([s.host, statusOf(s.vm_state, s.task_state), s.flavor.id]).toEqual(['h2', 'VERIFY_RESIZE', '3']);
    expect(h2.specOf(id)).toMatchObject({ memoryMb: 4096, vcpus: 2 });
    expect(h2.readFile(id, '/root/notes.txt')).toBe('travels');
    expect(await migrationOf(id)).toMatchObject({ migration_type: 'resize', source_compute: 'h1', dest_compute: 'h2', status: 'finished' });
    await compute.migrations.revertResize(await admin(), id);
    await compute.tasks.idle();
    const back = await row(id);
    expect([back.host, back.vm_state, back.flavor.id]).toEqual(['h1', 'active', '1']);
    expect(await h2.listInstances()).toEqual([]);
  });
});

describe('refusals', () => {
  test('Nova\'s 400s: unknown flavor, the same flavor, a private flavor for a member, a zero-disk flavor', async () => {
    const id = await onH1();
    expect(await rejection(compute.resize.resize(await admin(), id, '999'))).toMatchObject({ kind: 'invalid', message: 'Flavor 999 could not be found.' });
    expect(await rejection(compute.resize.resize(await admin(), id, '1'))).toMatchObject({ kind: 'invalid', message: 'When resizing, instances must change flavor!' });
    await t.services.flavors.create({ id: 'private', name: 'private', ram: 1024, vcpus: 1, disk: 1, isPublic: false, description: null });
    await t.services.flavors.create({ id: 'nodisk', name: 'nodisk', ram: 1024, vcpus: 1, disk: 0, isPublic: true, description: null });
    const { servers } = await compute.boot.create(await t.ctx('demo'), { name: 'mine', imageRef: await t.uploadImage('demo'), flavorRef: '1', minCount: 1, maxCount: 1 });
    await compute.tasks.idle();
    expect(await rejection(compute.resize.resize(await t.ctx('demo'), servers[0].id, 'private'))).toMatchObject({ kind: 'invalid', message: 'Flavor private could not be found.' });
    expect(await rejection(compute.resize.resize(await admin(), id, 'nodisk'))).toMatchObject({
      kind: 'invalid', message: 'Server disk was unable to be resized because: Resize to zero disk flavor is not allowed.',
    });
    expect((await row(id)).task_state).toBeNull();
  });

  test('403 when the upsize exceeds the cores quota, counted as the deltas', async () => {
    const id = await onH1();
    await t.services.flavors.create({ id: 'big', name: 'big', ram: 1024, vcpus: 5, disk: 1, isPublic: true, description: null });
    expect(await rejection(compute.resize.resize(await admin(), id, 'big'))).toMatchObject({
      kind: 'overQuota', message: 'Quota exceeded for cores: Requested 4, but already used 1 of 4 cores',
    });
  });

  test('409s: a paused server, a locked server (for its owner), and a server already resizing', async () => {
    const { servers } = await compute.boot.create(await t.ctx('demo'), { name: 'mine', imageRef: await t.uploadImage('demo'), flavorRef: '1', minCount: 1, maxCount: 1 });
    await compute.tasks.idle();
    const id = servers[0].id;
    const demo = await t.ctx('demo');
    await compute.actions.pause(demo, id);
    await compute.tasks.idle();
    expect((await rejection(compute.resize.resize(demo, id, '2'))).message).toBe(`Cannot 'resize' instance ${id} while it is in vm_state paused`);
    await compute.actions.unpause(demo, id);
    await compute.tasks.idle();
    await compute.actions.lock(await admin(), id);
    expect(await rejection(compute.resize.resize(demo, id, '2'))).toMatchObject({ kind: 'invalidState', message: `Instance ${id} is locked` });
    await compute.actions.unlock(await admin(), id);
    await resized(id, '2');
    expect((await rejection(compute.resize.resize(demo, id, '3'))).message).toBe(`Cannot 'resize' instance ${id} while it is in vm_state resized`);
  });

  test('409 Service is unavailable when the host is down (its last heartbeat) or forced down; nothing changes', async () => {
    const id = await onH1();
    h1.setUnavailable(true);
    await compute.hosts.refresh();
    expect(await rejection(compute.resize.resize(await admin(), id, '2'))).toMatchObject({ kind: 'invalidState', message: 'Service is unavailable at this time.' });
    h1.setUnavailable(false);
    await compute.hosts.refresh();
    await compute.osServices.updateByHost('h1', 'nova-compute', { forcedDown: true });
    expect((await rejection(compute.resize.resize(await admin(), id, '2'))).message).toBe('Service is unavailable at this time.');
    expect((await row(id)).task_state).toBeNull();
  });

  test('concurrent resizes: one is accepted, the others are conflicts, one migration is recorded', async () => {
    const id = await onH1();
    const c = await admin();
    const results = await Promise.allSettled(['2', '3', '2', '3', '2'].map((f) => compute.resize.resize(c, id, f)));
    const kinds = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as DomainError).kind)).sort();
    expect(kinds).toEqual(['invalidState', 'invalidState', 'invalidState', 'invalidState', 'ok']);
    await compute.tasks.idle();
    expect(await migrations.list({ instanceUuid: id })).toHaveLength(1);
    expect(statusOf((await row(id)).vm_state, (await row(id)).task_state)).toBe('VERIFY_RESIZE');
  });
});
