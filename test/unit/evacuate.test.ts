/**
 * Evacuation and what moves leave behind, on fake hosts with the reconciler: evacuate only from
 * a host that is down (engine gone, or service forced down), the server rebuilt from its image
 * on another host with its id; the old host's instance removed once it answers again and never
 * resurrected; events of a host the server left ignored; a move a dead process left rolled back.
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { makeTestServices, TestServices, Account } from '../helpers/services';
import { StandInPlacement } from '../helpers/placement';
import { FakeDriver } from '../../src/virt/fake/driver';
import { DomainError } from '../../src/errors';
import { MigrationRepository } from '../../src/db/migration-repo';
import { Reconciler } from '../../src/compute/reconciler';
import { statusOf } from '../../src/compute/status';
import type { HostSettings } from '../../src/compute/scheduler/types';
import type { ComputeServices } from '../../src/compute/services';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let t: TestServices;
let h1: FakeDriver;
let h2: FakeDriver;
let placement: StandInPlacement;
let compute: ComputeServices;
let migrations: MigrationRepository;
let image: string;
let reconciler: Reconciler | undefined;
const forcedDown = new Set<string>();

beforeEach(async () => {
  forcedDown.clear();
  // h1 has the most free RAM, so the scheduler's RAM weigher places every boot there.
  h1 = new FakeDriver({ host: 'h1', hypervisor: { memoryMb: 65536 } });
  h2 = new FakeDriver({ host: 'h2' });
  placement = new StandInPlacement(['h1', 'h2']);
  const hostSettings = {
    all: async (): Promise<HostSettings[]> => ['h1', 'h2'].map((host) => ({ host, disabled: false, disabledReason: null, forcedDown: forcedDown.has(host), zone: 'nova' })),
    zoneExists: async (zone: string) => zone === 'nova',
  };
  t = await makeTestServices({ drivers: [h1, h2], placement, hostSettings });
  compute = t.services.compute;
  migrations = new MigrationRepository(t.services.db);
  image = await t.uploadImage();
});
afterEach(async () => {
  reconciler?.stop();
  await reconciler?.settle();
  reconciler = undefined;
  await t.close();
});

const ctx = (account: Account = 'admin') => t.ctx(account);
const row = async (id: string) => compute.queries.get(await ctx(), id);
const migrationOf = async (id: string) => (await migrations.list({ instanceUuid: id }))[0];

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a refusal');
}

async function activeOnH1(name = 'vm'): Promise<string> {
  const { servers } = await compute.boot.create(await ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await compute.tasks.idle();
  const id = servers[0].id;
  h1.writeFile(id, '/root/notes.txt', 'only on h1');
  return id;
}

const startReconciler = async () => {
  reconciler = new Reconciler({ sync: compute.sync, queries: compute.queries, hosts: compute.hosts, tasks: compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000, backoffMs: { initial: 5, max: 40 } });
  await reconciler.start();
  return reconciler;
};

describe('evacuate', () => {
  test('while the host answers, 400 "Compute service of h1 is still in use." and nothing changes', async () => {
    const id = await activeOnH1();
    const e = await rejection(compute.migrations.evacuate(await ctx(), id, {}));
    expect([e.kind, e.message]).toEqual(['invalid', 'Compute service of h1 is still in use.']);
    expect((await row(id)).task_state).toBeNull();
    expect(await migrations.list({ instanceUuid: id })).toEqual([]);
  });

  test('when the host\'s engine is gone, the server is rebuilt from its image on another host, same id; when the host answers again its old instance is removed, not resurrected', async () => {
    const id = await activeOnH1();
    const r = await startReconciler();
    h1.setUnavailable(true);
    let open = () => undefined as void;
    placement.gate = new Promise<void>((resolve) => { open = resolve; });
    const password = await compute.migrations.evacuate(await ctx(), id, { adminPass: 'MySecretPass1' });
    expect(password).toBe('MySecretPass1');
    const claimed = await row(id);
    expect([claimed.task_state, statusOf(claimed.vm_state, claimed.task_state)]).toEqual(['rebuilding', 'REBUILD']);
    expect((await migrationOf(id)).status).toBe('accepted');
    open();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.id, s.vm_state, s.task_state, s.power_state, s.host, statusOf(s.vm_state, s.task_state)]).toEqual([id, 'active', null, 1, 'h2', 'ACTIVE']);
    // Its ports are bound on the new host (its floating IPs are forwarded from there).
    expect((await t.services.networkCore.serverPorts.portsOf(id)).map((p) => [p.port.host, p.port.status])).toEqual([['h2', 'ACTIVE']]);
    // From the image, not from the lost filesystem.
    expect(h2.readFile(id, '/etc/hostname')).toBe('x');
    expect(h2.readFile(id, '/root/notes.txt')).toBeUndefined();
    const m = await migrationOf(id);
    expect(m).toMatchObject({ migration_type: 'evacuation', source_compute: 'h1', dest_compute: 'h2', status: 'done' });
    const [evacuate] = await compute.queries.listActions(await ctx(), id);
    expect([evacuate.action, evacuate.result]).toEqual(['evacuate', 'Success']);

    h1.setUnavailable(false);
    await r.sweep();
    await r.settle();
    expect(await h1.listInstances()).toEqual([]);
    expect((await migrationOf(id)).status).toBe('completed');
    expect(placement.calls).toEqual([`placeMove ${id} ${m.uuid}`, `confirmMove ${m.uuid}`]);
    const after = await row(id);
    expect([after.vm_state, after.host, after.power_state]).toEqual(['active', 'h2', 1]);
  });

  test('a host forced down (os-services) is evacuated although its engine answers; its instance goes at the next sweep', async () => {
    const id = await activeOnH1();
    forcedDown.add('h1');
    await compute.migrations.evacuate(await ctx(), id, {});
    await compute.tasks.idle();
    expect((await row(id)).host).toBe('h2');
    expect((await h1.listInstances()).map((i) => i.serverId)).toEqual([id]);
    const r = await startReconciler();
    await r.sweep();
    expect(await h1.listInstances()).toEqual([]);
    expect((await migrationOf(id)).status).toBe('completed');
  });

  test('a stopped server is evacuated SHUTOFF; an ERROR server comes back ACTIVE', async () => {
    const stopped = await activeOnH1('stopped');
    const broken = await activeOnH1('broken');
    await compute.actions.stop(await ctx('demo'), stopped);
    await compute.actions.resetState(await ctx(), broken, 'error');
    await compute.tasks.idle();
    h1.setUnavailable(true);
    await compute.migrations.evacuate(await ctx(), stopped, {});
    await compute.migrations.evacuate(await ctx(), broken, {});
    await compute.tasks.idle();
    expect([(await row(stopped)).vm_state, (await row(stopped)).power_state, (await row(stopped)).host]).toEqual(['stopped', 4, 'h2']);
    expect([(await row(broken)).vm_state, (await row(broken)).host]).toEqual(['active', 'h2']);
  });

  test('refusals as Nova words them: a member 403, force without a host 400, an unknown host 404, the server\'s own host 400, a task in flight 409', async () => {
    const id = await activeOnH1();
    h1.setUnavailable(true);
    const member = await rejection(compute.migrations.evacuate(await ctx('demo'), id, {}));
    expect([member.kind, member.message]).toEqual(['forbidden', "Policy doesn't allow os_compute_api:os-evacuate to be performed."]);
    expect((await rejection(compute.migrations.evacuate(await ctx(), id, { force: true }))).message).toBe("Can't force to a non-provided destination");
    const unknown = await rejection(compute.migrations.evacuate(await ctx(), id, { host: 'nosuch' }));
    expect([unknown.kind, unknown.message]).toEqual(['notFound', 'Compute host nosuch not found.']);
    expect((await rejection(compute.migrations.evacuate(await ctx(), id, { host: 'h1' }))).message).toBe("The target host can't be the same one.");
    expect((await rejection(compute.migrations.evacuate(await ctx(), id, { onSharedStorage: true, adminPass: 'x' }))).message).toBe("admin password can't be changed on existing disk");
    await compute.migrations.evacuate(await ctx(), id, { host: 'h2', force: true });
    const again = await rejection(compute.migrations.evacuate(await ctx(), id, {}));
    expect(again.kind).toBe('invalidState');
    await compute.tasks.idle();
  });

  test('no valid host: the server is ERROR with Nova\'s fault, the migration error', async () => {
    const id = await activeOnH1();
    h1.setUnavailable(true);
    placement.refused.add('h2');
    await compute.migrations.evacuate(await ctx(), id, {});
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.fault?.message]).toEqual(['error', null, 'h1', 'No valid host was found. There are not enough hosts available.']);
    expect((await migrationOf(id)).status).toBe('error');
  });
});

describe('what moves leave behind', () => {
  test('an event from a host the server no longer lives on does not touch it', async () => {
    const id = await activeOnH1();
    await compute.migrations.migrate(await ctx(), id);
    await compute.tasks.idle();
    const r = await startReconciler();
    // The source keeps the set-aside instance while the move waits for confirm: the sweep leaves it.
    await r.sweep();
    expect((await h1.listInstances()).map((i) => [i.serverId, i.setAside])).toEqual([[id, true]]);
    // The set-aside instance removed from outside: its destroy event is the source's, not the server's.
    await h1.destroy(id);
    await r.settle();
    const s = await row(id);
    expect([s.vm_state, s.power_state, s.host, s.fault]).toEqual(['resized', 1, 'h2', null]);
  });

  test('a confirmed move whose source could not be cleaned then: the leftover goes at the next sweep of the source, and its events never reach the server', async () => {
    const id = await activeOnH1();
    await compute.migrations.migrate(await ctx(), id);
    await compute.tasks.idle();
    const cleanup = jest.spyOn(h1.moves, 'confirmMigration').mockRejectedValueOnce(new Error('engine busy'));
    await compute.migrations.confirmResize(await ctx('demo'), id);
    await compute.tasks.idle();
    cleanup.mockRestore();
    expect((await row(id)).vm_state).toBe('active');
    expect((await h1.listInstances()).map((i) => i.serverId)).toEqual([id]);
    const r = await startReconciler();
    await r.settle();
    expect(await h1.listInstances()).toEqual([]);
    const s = await row(id);
    expect([s.vm_state, s.host, s.power_state, s.fault]).toEqual(['active', 'h2', 1, null]);
  });

  test('an instance of the server on its old host after a revert (its destination back from an outage) is removed, not resurrected', async () => {
    const id = await activeOnH1();
    await compute.migrations.migrate(await ctx(), id);
    await compute.tasks.idle();
    h2.setUnavailable(true);
    await compute.migrations.revertResize(await ctx('demo'), id);
    await compute.tasks.idle();
    expect([(await row(id)).vm_state, (await row(id)).host]).toEqual(['active', 'h1']);
    h2.setUnavailable(false);
    expect((await h2.listInstances()).map((i) => i.serverId)).toEqual([id]);
    const r = await startReconciler();
    await r.settle();
    expect(await h2.listInstances()).toEqual([]);
    expect((await h1.getInfo(id)).powerState).toBe(1);
  });

  test('a cold move a dead process left after the source set its instance aside is rolled back to the source', async () => {
    const id = await activeOnH1();
    const uuid = crypto.randomUUID();
    await h1.moves.migrateDiskAndPowerOff(id, uuid, 1);
    await migrations.create({
      uuid, instance_uuid: id, source_compute: 'h1', source_node: 'h1', dest_compute: 'h2', dest_node: 'h2', dest_host: null,
      old_instance_type_id: 1, new_instance_type_id: 1, status: 'post-migrating', migration_type: 'migration', project_id: null, user_id: null, old_vm_state: 'active',
    });
    await t.services.db('servers').where({ id }).update({ task_state: 'resize_migrated', task_owner: 'a-dead-process' });
    await compute.sync.recover(id);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.power_state]).toEqual(['active', null, 'h1', 1]);
    expect(h1.readFile(id, '/root/notes.txt')).toBe('only on h1');
    expect((await h1.listInstances()).map((i) => [i.serverId, i.setAside ?? false])).toEqual([[id, false]]);
    expect((await migrationOf(id)).status).toBe('error');
  });
});
