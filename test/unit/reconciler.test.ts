/**
 * The reconciler on the fake engine: changes made outside novadock (kill, exit, OOM, pause,
 * removal) reach the database through events, a sweep catches what events missed, instances
 * labelled as ours without a server are removed, a crash's leftovers are resolved at start-up,
 * and an engine that goes away and comes back is re-synchronised.
 */
import pino from 'pino';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver, fakeServerId } from '../../src/virt/fake/driver';
import { Reconciler } from '../../src/compute/reconciler';
import { uploadImage, bootActive, show, call } from '../integration/servers-support';

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let t: TestApp;
let driver: FakeDriver;
let image: string;
let reconciler: Reconciler | undefined;

beforeEach(async () => {
  driver = new FakeDriver({ host: 'fake-host' });
  t = await makeTestApp({ driver });
  image = await uploadImage(t);
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

const state = async (id: string) => {
  const s = await show(t, id);
  return [s.status, s['OS-EXT-STS:power_state']];
};

describe('events', () => {
  test('a container killed outside novadock makes its server SHUTOFF with power 4', async () => {
    const r = await start();
    const id = await bootActive(t, image);
    driver.externalKill(id);
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('a process that exits by itself: SHUTOFF', async () => {
    const r = await start();
    const id = await bootActive(t, image);
    driver.externalExit(id, 0);
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('an OOM kill: ERROR with a fault that says so', async () => {
    const r = await start();
    const id = await bootActive(t, image);
    driver.externalOom(id);
    await r.settle();
    const s = await show(t, id);
    expect(s.status).toBe('ERROR');
    expect(s.fault.message).toContain('out of memory (OOM)');
  });

  test('a container paused outside novadock: PAUSED; removed: ERROR with a fault', async () => {
    const r = await start();
    const a = await bootActive(t, image, { name: 'a' });
    const b = await bootActive(t, image, { name: 'b' });
    driver.externalPause(a);
    driver.externalRemove(b);
    await r.settle();
    expect(await state(a)).toEqual(['PAUSED', 3]);
    const sb = await show(t, b);
    expect([sb.status, sb['OS-EXT-STS:power_state']]).toEqual(['ERROR', 0]);
    expect(sb.fault.message).toContain('is gone from compute host fake-host');
  });

  test('events of our own actions change nothing behind the service: a stop ends SHUTOFF, a start ACTIVE', async () => {
    const r = await start();
    const id = await bootActive(t, image);
    expect((await call(t, 'post', `/compute/v2.1/servers/${id}/action`, { body: { 'os-stop': null } })).status).toBe(202);
    await t.services.compute.tasks.idle();
    await r.settle();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
    expect((await call(t, 'post', `/compute/v2.1/servers/${id}/action`, { body: { 'os-start': null } })).status).toBe(202);
    await t.services.compute.tasks.idle();
    await r.settle();
    expect(await state(id)).toEqual(['ACTIVE', 1]);
  });
});

describe('sweeps', () => {
  test('a sweep catches a change no event announced', async () => {
    const id = await bootActive(t, image);
    driver.externalKill(id); // nobody is subscribed
    expect(await state(id)).toEqual(['ACTIVE', 1]);
    reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000 });
    await reconciler.sweep();
    expect(await state(id)).toEqual(['SHUTOFF', 4]);
  });

  test('instances labelled as ours without a server (or with a deleted one) are removed; one failure does not stop the rest', async () => {
    const projectId = await t.projectId('demo');
    const spec = (serverId: string) => ({
      serverId, projectId, hostname: 'orphan', imageRef: driver.specOf(live)!.imageRef, memoryMb: 64, vcpus: 1, env: {}, network: null,
    });
    const live = await bootActive(t, image, { name: 'live' });
    const deleted = await bootActive(t, image, { name: 'deleted' });
    expect((await call(t, 'delete', `/compute/v2.1/servers/${deleted}`)).status).toBe(204);
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
    const mine = await bootActive(t, image, { name: 'mine' });
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
    const completes = await bootActive(t, image, { name: 'completes' });
    const fails = await bootActive(t, image, { name: 'fails' });
    const deletes = await bootActive(t, image, { name: 'deletes' });
    const stopping = await bootActive(t, image, { name: 'stopping' });
    const unscheduled = await bootActive(t, image, { name: 'unscheduled' });
    // What a kill -9 leaves behind: rows mid-task, containers in whatever state they reached.
    const db = t.services.db;
    const updated_at = new Date().toISOString();
    await db('servers').whereIn('id', [completes, fails]).update({ vm_state: 'building', task_state: 'spawning', launched_at: null, updated_at });
    await driver.destroy(fails);
    await db('servers').where({ id: unscheduled }).update({ vm_state: 'building', task_state: 'scheduling', host: null, launched_at: null, updated_at });
    await driver.destroy(unscheduled);
    await db('servers').where({ id: deletes }).update({ task_state: 'deleting', updated_at });
    await db('servers').where({ id: stopping }).update({ task_state: 'powering-off', updated_at });
    await driver.powerOff(stopping, 0);

    await start();
    await t.services.compute.tasks.idle();

    expect(await state(completes)).toEqual(['ACTIVE', 1]);
    const f = await show(t, fails);
    expect([f.status, f['OS-EXT-STS:task_state']]).toEqual(['ERROR', null]);
    expect(f.fault.message).toContain('interrupted by a restart');
    expect((await show(t, unscheduled)).status).toBe('ERROR');
    expect((await call(t, 'get', `/compute/v2.1/servers/${deletes}`)).status).toBe(404);
    expect(driver.specOf(deletes)).toBeUndefined();
    const s = await show(t, stopping);
    expect([s.status, s['OS-EXT-STS:task_state'], s['OS-EXT-STS:power_state']]).toEqual(['SHUTOFF', null, 4]);
    const unsettled = await t.services.compute.sync.unsettledServers();
    expect(unsettled).toEqual([]);
  });
});

describe('an engine that goes away', () => {
  test('reads keep working, writes are 503, host_status is DOWN; once back, states are re-synchronised', async () => {
    const r = await start();
    const id = await bootActive(t, image);
    driver.setUnavailable(true);
    await r.settle();
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(200);
    expect((await call(t, 'post', `/compute/v2.1/servers/${id}/action`, { body: { 'os-stop': null } })).status).toBe(503);
    expect((await show(t, id, { mv: '2.16' })).host_status).toBe('DOWN');
    driver.externalKill(id); // happens while nobody can hear it
    driver.setUnavailable(false);
    await eventually(async () => (await show(t, id)).status === 'SHUTOFF', 'the server shows SHUTOFF after the engine returns');
    expect((await show(t, id, { mv: '2.16' })).host_status).toBe('UP');
    expect((await show(t, id))['OS-EXT-STS:power_state']).toBe(4);
  });
});
