/**
 * The reconciler on the fake engine: changes made outside novadock (kill, exit, OOM, pause,
 * removal) reach the database through events, a sweep catches what events missed, instances
 * labelled as ours without a server are removed, a crash's leftovers are resolved at start-up,
 * and an engine that goes away and comes back is re-synchronised. Services only: no app is built.
 */
import pino from 'pino';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver, fakeServerId } from '../../src/virt/fake/driver';
import { Reconciler } from '../../src/compute/reconciler';
import { statusOf } from '../../src/compute/status';
import type { ServerRecord } from '../../src/compute/server-record';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let t: TestServices;
let driver: FakeDriver;
let image: string;
let reconciler: Reconciler | undefined;

beforeEach(async () => {
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestServices({ driver });
  image = await t.uploadImage();
});
afterEach(async () => {
  reconciler?.stop();
  await reconciler?.settle();
  reconciler = undefined;
  await t.close();
});

const start = async () => {
  reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000, backoffMs: { initial: 5, max: 40 } });
  await reconciler.start();
  return reconciler;
};

/** Waits (bounded) for a condition that background retries will make true. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never happened: ${what}`);
}

/** Boots a server as demo and waits for its build. */
async function bootActive(name = 'vm'): Promise<string> {
  const { servers } = await t.services.compute.boot.create(await t.ctx('demo'), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await t.services.compute.tasks.idle();
  return servers[0].id;
}

/** The server's row, as an admin reads it. */
const show = async (id: string): Promise<ServerRecord> => t.services.compute.queries.get(await t.ctx('admin'), id);
/** Nova's status of a row (what the API shows). */
const status = (s: ServerRecord) => statusOf(s.vm_state, s.task_state, s.deleted);

const state = async (id: string) => {
  const s = await show(id);
  return [status(s), s.power_state];
};

describe('events', () => {
  test('a container killed outside novadock makes its server SHUTOFF with power 4', async () => {
    const r = await start();
    const id = await bootActive();
    driver.externalKill(id);
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('a process that exits by itself: SHUTOFF', async () => {
    const r = await start();
    const id = await bootActive();
    driver.externalExit(id, 0);
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('an OOM kill: ERROR with a fault that says so', async () => {
    const r = await start();
    const id = await bootActive();
    driver.externalOom(id);
    await r.settle();
    const s = await show(id);
    expect(status(s)).toBe('ERROR');
    expect(s.fault?.message).toContain('out of memory (OOM)');
  });

  test('a container paused outside novadock: PAUSED; removed: ERROR with a fault', async () => {
    const r = await start();
    const a = await bootActive('a');
    const b = await bootActive('b');
    driver.externalPause(a);
    driver.externalRemove(b);
    await r.settle();
    expect(await state(a)).toEqual(['PAUSED', 3]);
    const sb = await show(b);
    expect([status(sb), sb.power_state]).toEqual(['ERROR', 0]);
    expect(sb.fault?.message).toContain('is gone from compute host fake-host');
  });

  test('a container killed while work on its server is still running is SHUTOFF once that work is done, not left to the next sweep', async () => {
    const r = await start();
    const id = await bootActive();
    // The tail of a build (ports bound, the action finished) still holds the server's lane.
    let release!: () => void;
    const held = new Promise<void>((resolve) => { release = resolve; });
    t.services.compute.tasks.schedule(id, 'the tail of its build', () => held);
    driver.externalKill(id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing is written under the work in flight...
    expect(await state(id)).toEqual(['ACTIVE', 1]);
    release();
    // ...and once it is done, the kill is read again (the sweep is an hour away here).
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('events of our own actions change nothing behind the service: a stop ends SHUTOFF, a start ACTIVE', async () => {
    const r = await start();
    const id = await bootActive();
    await t.services.compute.actions.stop(await t.ctx('demo'), id);
    await t.services.compute.tasks.idle();
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
    await t.services.compute.actions.start(await t.ctx('demo'), id);
    await t.services.compute.tasks.idle();
    await r.settle();
    expect(await state(id)).toEqual(['ACTIVE', 1]);
  });
});

describe('sweeps', () => {
  test('a sweep catches a change no event announced', async () => {
    const id = await bootActive();
    driver.externalKill(id); // nobody is subscribed
    expect(await state(id)).toEqual(['ACTIVE', 1]);
    reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000 });
    await reconciler.sweep();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('instances labelled as ours without a server (or with a deleted one) are removed; one failure does not stop the rest', async () => {
    const projectId = (await t.ctx('demo')).projectId;
    const spec = (serverId: string) => ({
      serverId, projectId, hostname: 'orphan', imageRef: driver.specOf(live)!.imageRef, memoryMb: 64, vcpus: 1, env: {}, network: null,
    });
    const live = await bootActive('live');
    const deleted = await bootActive('deleted');
    await t.services.compute.deleter.delete(await t.ctx('demo'), deleted);
    await t.services.compute.tasks.idle();
    const stubborn = fakeServerId();
    const stray = fakeServerId();
    await driver.spawn(spec(stubborn));
    await driver.spawn(spec(stray));
    await driver.spawn(spec(deleted));
    // The first orphan refuses to go once: the sweep logs it and goes on.
    const realDestroy = driver.destroy.bind(driver);
    let refused = false;
    driver.destroy = async (id: string) => {
      if (id === stubborn && !refused) {
        refused = true;
        throw new Error('device busy');
      }
      return realDestroy(id);
    };
    reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000 });
    await reconciler.sweep();
    expect(driver.specOf(stray)).toBeUndefined();
    expect(driver.specOf(deleted)).toBeUndefined();
    expect(driver.specOf(stubborn)).toBeDefined();
    expect(driver.specOf(live)).toBeDefined();
    await reconciler.sweep();
    expect(driver.specOf(stubborn)).toBeUndefined();
    expect(await state(live)).toEqual(['ACTIVE', 1]);
  });

  test("a labelled instance of a project this database never had a server in is another novadock's, and is left alone", async () => {
    const mine = await bootActive('mine');
    const foreign = fakeServerId();
    await driver.spawn({ serverId: foreign, projectId: 'a-project-of-another-novadock', hostname: 'foreign', imageRef: driver.specOf(mine)!.imageRef, memoryMb: 64, vcpus: 1, env: {}, network: null });
    reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000 });
    await reconciler.sweep();
    await reconciler.sweep();
    expect(driver.specOf(foreign)).toBeDefined();
    expect(await state(mine)).toEqual(['ACTIVE', 1]);
    await driver.destroy(foreign);
  });
});

describe('start-up recovery', () => {
  test('servers a crash left mid-task are resolved before anything else', async () => {
    const completes = await bootActive('completes');
    const fails = await bootActive('fails');
    const deletes = await bootActive('deletes');
    const stopping = await bootActive('stopping');
    const unscheduled = await bootActive('unscheduled');
    // What a kill -9 leaves behind: rows mid-task, containers in whatever state they reached.
    const db = t.services.db;
    const updated_at = new Date().toISOString();
    await db('servers').whereIn('id', [completes, fails]).update({ vm_state: 'building', task_state: 'spawning', launched_at: null, updated_at });
    // Killed before its build bound the server's ports to the host.
    await db('ports').where({ device_id: completes }).update({ host: '', status: 'DOWN' });
    await driver.destroy(fails);
    await db('servers').where({ id: unscheduled }).update({ vm_state: 'building', task_state: 'scheduling', host: null, launched_at: null, updated_at });
    await driver.destroy(unscheduled);
    await db('servers').where({ id: deletes }).update({ task_state: 'deleting', updated_at });
    await db('servers').where({ id: stopping }).update({ task_state: 'powering-off', updated_at });
    await driver.powerOff(stopping, 0);

    await start();
    await t.services.compute.tasks.idle();

    expect(await state(completes)).toEqual(['ACTIVE', 1]);
    // A build recovery completes binds the ports as the build would have.
    const ports = await db('ports').where({ device_id: completes }).select('host', 'status');
    expect(ports.length).toBeGreaterThan(0);
    for (const p of ports) expect(p).toEqual({ host: 'fake-host', status: 'ACTIVE' });
    const f = await show(fails);
    expect([status(f), f.task_state]).toEqual(['ERROR', null]);
    expect(f.fault?.message).toContain('interrupted by a restart');
    expect(status(await show(unscheduled))).toBe('ERROR');
    await expect(show(deletes)).rejects.toMatchObject({ kind: 'notFound' });
    expect(driver.specOf(deletes)).toBeUndefined();
    const s = await show(stopping);
    expect([status(s), s.task_state, s.power_state]).toEqual(['SHUTOFF', null, 4]);
    const unsettled = await t.services.compute.sync.unsettledServers();
    expect(unsettled).toEqual([]);
  });
});

describe('an engine that goes away', () => {
  test('reads keep working, writes are refused as unavailable (503), host_status is DOWN; once back, states are re-synchronised', async () => {
    const r = await start();
    const id = await bootActive();
    driver.setUnavailable(true);
    await r.settle();
    const hostStatus = async () => t.services.compute.hosts.hostStatusOf((await show(id)).host);
    expect((await show(id)).id).toBe(id);
    await expect(t.services.compute.actions.stop(await t.ctx('demo'), id)).rejects.toMatchObject({ kind: 'unavailable' });
    expect(await hostStatus()).toBe('DOWN');
    driver.externalKill(id); // happens while nobody can hear it
    driver.setUnavailable(false);
    await eventually(async () => status(await show(id)) === 'SHUTOFF', 'the server shows SHUTOFF after the engine returns');
    expect(await hostStatus()).toBe('UP');
    expect((await show(id)).power_state).toBe(4);
  });
});
