/**
 * Cold migration on three fake hosts, services only (no app): the task states in Nova's order,
 * the migration record, confirm and revert (from active and from stopped), a named host,
 * refusals in Nova's words, one winner among concurrent requests, and a failed move rolled back
 * to its source.
 */
import { makeTestServices, TestServices, Account } from '../helpers/services';
import { StandInPlacement } from '../helpers/placement';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import { DomainError } from '../../src/errors';
import { MigrationRepository } from '../../src/db/migration-repo';
import { statusOf } from '../../src/compute/status';
import type { ComputeServices } from '../../src/compute/services';
import type { RequestContext } from '../../src/http/context';

let t: TestServices;
let h1: FakeDriver;
let h2: FakeDriver;
let h3: FakeDriver;
let placement: StandInPlacement;
let compute: ComputeServices;
let migrations: MigrationRepository;
let image: string;
/** What a server looked like when a driver call of interest began. */
let seen: string[] = [];
let watch: string | undefined;
let failDestSpawn = false;
/** A driver call held until release() (to look at a task between its claim and its work). */
let held: FakeOp | undefined;
let gate: Promise<void> = Promise.resolve();
let release: () => void = () => undefined;
const hold = (op: FakeOp) => {
  held = op;
  gate = new Promise<void>((r) => { release = () => { held = undefined; r(); }; });
};

const observe = async (label: string) => {
  if (!watch) return;
  const s = await t.services.compute.queries.get(await t.ctx('admin'), watch);
  const [m] = await migrations.list({ instanceUuid: watch });
  seen.push(`${label}: ${s.task_state} ${m?.status} host=${s.host}`);
};
const WATCHED: Partial<Record<FakeOp, string>> = { migrateDiskAndPowerOff: 'source commits', loadImage: 'destination loads', spawn: 'destination spawns' };

beforeEach(async () => {
  seen = [];
  watch = undefined;
  failDestSpawn = false;
  // h1 has the most free RAM, so the scheduler's RAM weigher places every boot there.
  const fake = (host: string) => new FakeDriver({
    host,
    ...(host === 'h1' ? { hypervisor: { memoryMb: 65536 } } : {}),
    beforeCall: async (op) => {
      if (WATCHED[op]) await observe(`${host} ${WATCHED[op]}`);
      if (op === held) await gate;
    },
    failSpawn: () => (failDestSpawn && host !== 'h1' ? 'the destination engine refused the container' : undefined),
  });
  [h1, h2, h3] = [fake('h1'), fake('h2'), fake('h3')];
  placement = new StandInPlacement(['h1', 'h2', 'h3']);
  t = await makeTestServices({ drivers: [h1, h2, h3], placement });
  compute = t.services.compute;
  migrations = new MigrationRepository(t.services.db);
  image = await t.uploadImage();
});
afterEach(async () => {
  release();
  await t.close();
});

const ctx = (account: Account = 'admin'): Promise<RequestContext> => t.ctx(account);
const row = async (id: string) => compute.queries.get(await ctx('admin'), id);
const migrationOf = async (id: string) => (await migrations.list({ instanceUuid: id }))[0];
/** [host, status] of each of the server's ports. */
const portHosts = async (id: string) => (await t.services.networkCore.serverPorts.portsOf(id)).map((p) => [p.port.host, p.port.status]);
const kinds = (results: PromiseSettledResult<unknown>[]) => results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as DomainError).kind));

async function rejection(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    return e as DomainError;
  }
  throw new Error('expected a refusal');
}

/** Boots as demo on h1 (the first host) with a file written inside; resolves to its id. */
async function activeOnH1(name = 'vm'): Promise<string> {
  const { servers } = await compute.boot.create(await ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await compute.tasks.idle();
  const id = servers[0].id;
  expect((await row(id)).host).toBe('h1');
  h1.writeFile(id, '/root/notes.txt', `written on h1 by ${name}`);
  return id;
}

async function migrated(id: string, host?: string): Promise<void> {
  await compute.migrations.migrate(await ctx(), id, host);
  await compute.tasks.idle();
}

describe('cold migration', () => {
  test('when an admin migrates an active server, then it passes Nova\'s task states in order and waits in VERIFY_RESIZE on the other host, its files with it', async () => {
    const id = await activeOnH1();
    watch = id;
    let open = () => undefined as void;
    placement.gate = new Promise<void>((resolve) => { open = resolve; });
    await compute.migrations.migrate(await ctx(), id);
    const claimed = await row(id);
    expect([claimed.task_state, statusOf(claimed.vm_state, claimed.task_state)]).toEqual(['resize_prep', 'RESIZE']);
    expect((await migrationOf(id)).status).toBe('pre-migrating');
    open();
    await compute.tasks.idle();
    expect(seen).toEqual([
      'h1 source commits: resize_migrating migrating host=h1',
      'h2 destination loads: resize_migrated post-migrating host=h1',
      'h2 destination spawns: resize_finish post-migrating host=h2',
    ]);
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state, s.host, statusOf(s.vm_state, s.task_state)]).toEqual(['resized', null, 1, 'h2', 'VERIFY_RESIZE']);
    expect(h2.readFile(id, '/root/notes.txt')).toBe('written on h1 by vm');
    expect(h2.specOf(id)).toMatchObject({ serverId: id, hostname: 'vm', memoryMb: 512 });
    // The source keeps its instance, stopped and set aside, until confirm or revert.
    expect((await h1.listInstances()).map((i) => [i.serverId, i.setAside, i.info.powerState])).toEqual([[id, true, 4]]);
    const m = await migrationOf(id);
    expect(m).toMatchObject({
      instance_uuid: id, source_compute: 'h1', source_node: 'h1', dest_compute: 'h2', dest_node: 'h2', status: 'finished',
      migration_type: 'migration', old_vm_state: 'active', hidden: false,
    });
    expect(m.old_instance_type_id).toBe(m.new_instance_type_id);
    expect(m.old_instance_type_id).toEqual(expect.any(Number));
    expect(placement.calls).toEqual([`placeMove ${id} ${m.uuid}`]);
    // Its ports moved with it (where its floating IPs are forwarded from).
    expect(await portHosts(id)).toEqual([['h2', 'ACTIVE']]);
  });

  test('when the move is confirmed, then it is ACTIVE on the destination, the source holds nothing, and the source\'s claim goes', async () => {
    const id = await activeOnH1();
    await migrated(id);
    hold('confirmMigration');
    await compute.migrations.confirmResize(await ctx('demo'), id);
    expect((await migrationOf(id)).status).toBe('confirming');
    release();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, statusOf(s.vm_state, s.task_state)]).toEqual(['active', null, 'h2', 'ACTIVE']);
    expect(await h1.listInstances()).toEqual([]);
    expect((await h2.getInfo(id)).powerState).toBe(1);
    const m = await migrationOf(id);
    expect(m.status).toBe('confirmed');
    expect(placement.calls).toEqual([`placeMove ${id} ${m.uuid}`, `confirmMove ${m.uuid}`]);
    const actions = await compute.queries.listActions(await ctx('demo'), id);
    expect(actions.map((a) => [a.action, a.result])).toEqual([['confirmResize', 'Success'], ['migrate', 'Success'], ['create', 'Success']]);
  });

  test('when the move is reverted, then the server is ACTIVE on its source again with its files, and the destination holds nothing', async () => {
    const id = await activeOnH1();
    await migrated(id);
    h2.writeFile(id, '/root/after.txt', 'written on h2');
    hold('destroy');
    await compute.migrations.revertResize(await ctx('demo'), id);
    const reverting = await row(id);
    expect([reverting.task_state, statusOf(reverting.vm_state, reverting.task_state)]).toEqual(['resize_reverting', 'REVERT_RESIZE']);
    expect((await migrationOf(id)).status).toBe('reverting');
    release();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state, s.host]).toEqual(['active', null, 1, 'h1']);
    expect(h1.readFile(id, '/root/notes.txt')).toBe('written on h1 by vm');
    expect(h1.readFile(id, '/root/after.txt')).toBeUndefined();
    expect(await h2.listInstances()).toEqual([]);
    expect(await portHosts(id)).toEqual([['h1', 'ACTIVE']]);
    const m = await migrationOf(id);
    expect(m.status).toBe('reverted');
    expect(placement.calls).toEqual([`placeMove ${id} ${m.uuid}`, `revertMove ${id} ${m.uuid}`]);
  });

  test('a stopped server moves powered off, is SHUTOFF once confirmed, and stays SHUTOFF when reverted', async () => {
    const a = await activeOnH1('a');
    const b = await activeOnH1('b');
    for (const id of [a, b]) {
      await compute.actions.stop(await ctx('demo'), id);
      await compute.tasks.idle();
      await migrated(id);
      const s = await row(id);
      expect([s.vm_state, s.power_state, s.host, statusOf(s.vm_state, s.task_state)]).toEqual(['resized', 4, 'h2', 'VERIFY_RESIZE']);
      expect((await migrationOf(id)).old_vm_state).toBe('stopped');
    }
    await compute.migrations.confirmResize(await ctx('demo'), a);
    await compute.migrations.revertResize(await ctx('demo'), b);
    await compute.tasks.idle();
    expect([(await row(a)).vm_state, (await row(a)).host]).toEqual(['stopped', 'h2']);
    expect([(await row(b)).vm_state, (await row(b)).power_state, (await row(b)).host]).toEqual(['stopped', 4, 'h1']);
    expect((await h1.getInfo(b)).powerState).toBe(4);
  });

  test('a named host (2.56) is where the server goes; its own host and an unknown host are 400s', async () => {
    const id = await activeOnH1();
    expect((await rejection(compute.migrations.migrate(await ctx(), id, 'h1'))).message).toBe('Cannot migrate to the host where the server exists.');
    const unknown = await rejection(compute.migrations.migrate(await ctx(), id, 'nosuch'));
    expect([unknown.kind, unknown.message]).toEqual(['invalid', 'Compute host nosuch could not be found.']);
    expect((await row(id)).task_state).toBeNull();
    await migrated(id, 'h3');
    expect((await row(id)).host).toBe('h3');
    expect(await h2.listInstances()).toEqual([]);
  });

  test('refusals in Nova\'s words: members may not migrate, a paused server cannot, and an unmoved server has nothing to confirm or revert', async () => {
    const id = await activeOnH1();
    const member = await rejection(compute.migrations.migrate(await ctx('demo'), id));
    expect([member.kind, member.message]).toEqual(['forbidden', "Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed."]);
    const confirm = await rejection(compute.migrations.confirmResize(await ctx('demo'), id));
    expect([confirm.kind, confirm.message]).toEqual(['invalidState', `Cannot 'confirmResize' instance ${id} while it is in vm_state active`]);
    const revert = await rejection(compute.migrations.revertResize(await ctx('demo'), id));
    expect(revert.message).toBe(`Cannot 'revertResize' instance ${id} while it is in vm_state active`);
    await compute.actions.pause(await ctx('demo'), id);
    await compute.tasks.idle();
    const paused = await rejection(compute.migrations.migrate(await ctx(), id));
    expect([paused.kind, paused.message]).toEqual(['invalidState', `Cannot 'migrate' instance ${id} while it is in vm_state paused`]);
    expect(await migrations.list({ instanceUuid: id })).toEqual([]);
  });

  test('a source host that does not answer: 409 Service is unavailable, nothing changes', async () => {
    const id = await activeOnH1();
    h1.setUnavailable(true);
    const e = await rejection(compute.migrations.migrate(await ctx(), id));
    expect([e.kind, e.message]).toEqual(['invalidState', 'Service is unavailable at this time.']);
    expect((await row(id)).task_state).toBeNull();
    expect(await migrations.list({ instanceUuid: id })).toEqual([]);
  });

  test('confirm while the source does not answer: 409 Service is unavailable; the move still waits for confirm', async () => {
    const id = await activeOnH1();
    await migrated(id);
    h1.setUnavailable(true);
    const e = await rejection(compute.migrations.confirmResize(await ctx('demo'), id));
    expect([e.kind, e.message]).toEqual(['invalidState', 'Service is unavailable at this time.']);
    expect((await migrationOf(id)).status).toBe('finished');
    expect(statusOf((await row(id)).vm_state, null)).toBe('VERIFY_RESIZE');
  });
});

describe('one winner', () => {
  test('a migrate and a stop at once: one is accepted, the other is a conflict', async () => {
    const id = await activeOnH1();
    // Whichever claims first keeps its task while the other asks: the stop's power-off and the
    // migration's placement wait until both have answered.
    hold('powerOff');
    let open: () => void = () => undefined;
    placement.gate = new Promise<void>((resolve) => { open = resolve; });
    const results = await Promise.allSettled([compute.migrations.migrate(await ctx(), id), compute.actions.stop(await ctx('demo'), id)]);
    expect(kinds(results).sort()).toEqual(['invalidState', 'ok']);
    release();
    open();
    await compute.tasks.idle();
    const s = await row(id);
    expect(s.task_state).toBeNull();
    expect(['resized', 'stopped']).toContain(s.vm_state);
  });

  test('ten migrates at once: one is accepted and one migration is recorded', async () => {
    const id = await activeOnH1();
    const c = await ctx();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => compute.migrations.migrate(c, id)));
    expect(kinds(results).filter((k) => k === 'ok')).toHaveLength(1);
    expect(kinds(results).filter((k) => k === 'invalidState')).toHaveLength(9);
    await compute.tasks.idle();
    expect(await migrations.list({ instanceUuid: id })).toHaveLength(1);
  });

  test('a confirm and a revert at once: exactly one is accepted, and the server ends as that one says', async () => {
    const id = await activeOnH1();
    await migrated(id);
    const c = await ctx('demo');
    const results = await Promise.allSettled([compute.migrations.confirmResize(c, id), compute.migrations.revertResize(c, id)]);
    const k = kinds(results);
    expect(k.filter((x) => x === 'ok')).toHaveLength(1);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host]).toEqual(['active', null, k[0] === 'ok' ? 'h2' : 'h1']);
    expect((await migrationOf(id)).status).toBe(k[0] === 'ok' ? 'confirmed' : 'reverted');
  });
});

describe('a move that fails', () => {
  test('no valid host: the server stays ACTIVE on its source, the migration is error, and the action says why', async () => {
    const id = await activeOnH1();
    placement.refused.add('h2');
    placement.refused.add('h3');
    await migrated(id);
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.power_state]).toEqual(['active', null, 'h1', 1]);
    expect((await h1.getInfo(id)).powerState).toBe(1);
    expect((await migrationOf(id)).status).toBe('error');
    const [migrate] = await compute.queries.listActions(await ctx(), id);
    expect([migrate.action, migrate.result, migrate.traceback]).toEqual(['migrate', 'Error', 'No valid host was found. There are not enough hosts available.']);
  });

  test('the destination cannot spawn: rolled back — the source\'s instance runs again with its files, nothing is left on the destination', async () => {
    const id = await activeOnH1();
    failDestSpawn = true;
    await migrated(id);
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.host, s.power_state]).toEqual(['active', null, 'h1', 1]);
    expect(s.fault?.message).toBe('the destination engine refused the container');
    expect((await h1.listInstances()).map((i) => [i.serverId, i.setAside ?? false, i.info.powerState])).toEqual([[id, false, 1]]);
    expect(h1.readFile(id, '/root/notes.txt')).toBe('written on h1 by vm');
    expect(await h2.listInstances()).toEqual([]);
    const m = await migrationOf(id);
    expect(m.status).toBe('error');
    expect(placement.calls).toEqual([`placeMove ${id} ${m.uuid}`, `revertMove ${id} ${m.uuid}`]);
  });

  test('a delete while VERIFY_RESIZE removes the server from both hosts and ends the migration', async () => {
    const id = await activeOnH1();
    await migrated(id);
    await compute.deleter.delete(await ctx('demo'), id);
    await compute.tasks.idle();
    expect(await h1.listInstances()).toEqual([]);
    expect(await h2.listInstances()).toEqual([]);
    const m = await migrationOf(id);
    expect(m.status).toBe('confirmed');
    expect(placement.calls).toContain(`release ${m.uuid}`);
  });
});
