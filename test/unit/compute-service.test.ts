/**
 * The compute services on the fake engine, without HTTP (no app is built): compare-and-set under concurrency (one winner),
 * preemption by newer intents (delete, hard reboot, reset), one engine operation per server at a
 * time, quotas under concurrent creates, and no partial state when the engine is away.
 */
import { makeTestServices, TestServices, Account } from '../helpers/services';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import { DomainError } from '../../src/errors';
import type { RequestContext } from '../../src/http/context';
import type { ComputeServices } from '../../src/compute/services';

let t: TestServices;
let driver: FakeDriver;
let compute: ComputeServices;
let image: string;
let held: FakeOp | undefined;
let gate: Promise<void> | undefined;
let open: () => void = () => undefined;
/** Engine calls, in order, as the fake received them. */
let calls: string[] = [];

const hold = (op: FakeOp) => {
  held = op;
  gate = new Promise<void>((r) => { open = r; });
};
const release = () => {
  held = undefined;
  open();
};

beforeEach(async () => {
  calls = [];
  driver = new FakeDriver({
    host: 'fake-host',
    beforeCall: (op, serverId) => {
      if (serverId) calls.push(`${op}:${serverId.slice(0, 8)}`);
      return op === held ? gate : undefined;
    },
  });
  t = await makeTestServices({ driver });
  compute = t.services.compute;
  image = await t.uploadImage();
});
afterEach(async () => {
  release();
  await t.close();
});

const ctx = (account: Account = 'demo'): Promise<RequestContext> => t.ctx(account);

async function active(name = 'vm'): Promise<string> {
  const { servers } = await compute.boot.create(await ctx(), { name, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
  await compute.tasks.idle();
  return servers[0].id;
}

const row = async (id: string) => (await compute.queries.get(await ctx('admin'), id));
const kinds = (results: PromiseSettledResult<unknown>[]) => results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as DomainError).kind));

describe('compare-and-set', () => {
  test('20 concurrent stops: exactly one is accepted, the others are conflicts; the server ends stopped', async () => {
    const id = await active();
    const c = await ctx();
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => compute.actions.stop(c, id)));
    expect(kinds(results).filter((k) => k === 'ok')).toHaveLength(1);
    expect(kinds(results).filter((k) => k === 'invalidState' || k === 'conflict')).toHaveLength(19);
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state]).toEqual(['stopped', null, 4]);
    expect(calls.filter((x) => x.startsWith('powerOff'))).toHaveLength(1);
  });

  test('20 concurrent different actions (stop, pause, suspend, soft reboot): one wins, and the state is that one\'s', async () => {
    const id = await active();
    const c = await ctx();
    const a = compute.actions;
    const ops = [(cx: RequestContext, i: string) => a.stop(cx, i), (cx: RequestContext, i: string) => a.pause(cx, i), (cx: RequestContext, i: string) => a.suspend(cx, i), (cx: RequestContext, i: string) => a.reboot(cx, i, 'SOFT')];
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => ops[i % 4](c, id)));
    const winners = kinds(results).map((k, i) => (k === 'ok' ? i % 4 : -1)).filter((i) => i >= 0);
    expect(winners).toHaveLength(1);
    await compute.tasks.idle();
    const expected = [['stopped', 4], ['paused', 3], ['suspended', 7], ['active', 1]][winners[0]];
    const s = await row(id);
    expect([s.vm_state, s.power_state]).toEqual(expected);
    expect(s.task_state).toBeNull();
  });

  test('concurrent metadata merges lose no key', async () => {
    const id = await active();
    const c = await ctx();
    await Promise.all(Array.from({ length: 10 }, (_, i) => compute.updates.setMetadata(c, id, { [`k${i}`]: String(i) }, 'merge')));
    expect(Object.keys((await row(id)).metadata).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`).sort());
  });

  test('concurrent creates cannot exceed the instances quota together', async () => {
    t.services.config.seed.quotas.instances = 5;
    const c = await ctx();
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => compute.boot.create(c, { name: `q${i}`, imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 })));
    expect(kinds(results).filter((k) => k === 'ok')).toHaveLength(5);
    expect(kinds(results).filter((k) => k === 'overQuota')).toHaveLength(5);
    await compute.tasks.idle();
    expect(await compute.queries.usage(c.projectId)).toEqual({ instances: 5, cores: 5, ram: 2560 });
  });
});

describe('newer intents win, and the engine sees one operation per server at a time', () => {
  test('a hard reboot accepted while a pause runs waits for it, then wins; the pause does not overwrite it', async () => {
    const id = await active();
    const c = await ctx();
    hold('pause');
    await compute.actions.pause(c, id);
    expect((await row(id)).task_state).toBe('pausing');
    await compute.actions.reboot(c, id, 'HARD');
    expect((await row(id)).task_state).toBe('rebooting_hard');
    release();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state, s.power_state]).toEqual(['active', null, 1]);
    const seq = calls.filter((x) => x.startsWith('pause') || x.startsWith('reboot'));
    expect(seq.map((x) => x.split(':')[0])).toEqual(['pause', 'reboot']);
  });

  test('a delete during a build: the build stops, the container is destroyed, the row is deleted', async () => {
    hold('spawn');
    const c = await ctx();
    const { servers } = await compute.boot.create(c, { name: 'short', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
    const id = servers[0].id;
    // The build is placed on its lane, then spawns: the delete comes while the spawn is held.
    while (!calls.includes(`spawn:${id.slice(0, 8)}`)) await new Promise((r) => setTimeout(r, 5));
    await compute.deleter.delete(c, id);
    expect((await row(id)).task_state).toBe('deleting');
    release();
    await compute.tasks.idle();
    await expect(compute.queries.get(c, id)).rejects.toMatchObject({ kind: 'notFound' });
    expect(driver.specOf(id)).toBeUndefined();
    const actions = await t.services.db('instance_actions').where({ instance_uuid: id }).orderBy('id');
    expect(actions.map((a: { action: string; result: string }) => [a.action, a.result])).toEqual([['create', 'Error'], ['delete', 'Success']]);
  });

  test("an admin's reset during a task is not undone when the task ends", async () => {
    const id = await active();
    hold('powerOff');
    await compute.actions.stop(await ctx(), id);
    await compute.actions.resetState(await ctx('admin'), id, 'error');
    release();
    await compute.tasks.idle();
    const s = await row(id);
    expect([s.vm_state, s.task_state]).toEqual(['error', null]);
  });
});

describe('failures', () => {
  test('the engine away: an action is a 503 and the task is never claimed', async () => {
    const id = await active();
    driver.setUnavailable(true);
    await expect(compute.actions.stop(await ctx(), id)).rejects.toMatchObject({ kind: 'unavailable' });
    expect(compute.hosts.hostStatusOf('fake-host')).toBe('DOWN');
    driver.setUnavailable(false);
    const s = await row(id);
    expect([s.vm_state, s.task_state]).toEqual(['active', null]);
    await compute.actions.stop(await ctx(), id);
    expect(compute.hosts.hostStatusOf('fake-host')).toBe('UP');
    await compute.tasks.idle();
  });

  test('the engine lost mid-build: ERROR with a fault, never BUILD', async () => {
    hold('spawn');
    const { servers } = await compute.boot.create(await ctx(), { name: 'lost', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
    driver.setUnavailable(true);
    release();
    await compute.tasks.idle();
    driver.setUnavailable(false);
    const s = await row(servers[0].id);
    expect([s.vm_state, s.task_state, s.power_state]).toEqual(['error', null, 0]);
    expect(s.fault?.message).toContain('fake-host is unavailable');
  });

  test('an image removed from the engine behind our back is loaded again by the next boot', async () => {
    const first = await active('first');
    const ref = (await t.services.images.get(await ctx('admin'), image)).engine_image_id!;
    await compute.deleter.delete(await ctx(), first);
    await compute.tasks.idle();
    await driver.removeImage(ref);
    expect(await driver.hasImage(ref)).toBe(false);

    const second = await active('second');
    expect([(await row(second)).vm_state, await driver.hasImage(ref)]).toEqual(['active', true]);

  });

  test('an action whose engine call fails clears the task, records the error, and re-reads the power state', async () => {
    const failing = new FakeDriver({ host: 'fake-host', failOn: (op) => (op === 'pause' ? new Error('freezer broken') : undefined) });
    const t2 = await makeTestServices({ driver: failing });
    try {
      const img = await t2.uploadImage();
      const c = await t2.ctx('demo');
      const { servers } = await t2.services.compute.boot.create(c, { name: 'p', imageRef: img, flavorRef: '1', minCount: 1, maxCount: 1 });
      await t2.services.compute.tasks.idle();
      await t2.services.compute.actions.pause(c, servers[0].id);
      await t2.services.compute.tasks.idle();
      const s = await t2.services.compute.queries.get(c, servers[0].id);
      expect([s.vm_state, s.task_state, s.power_state]).toEqual(['active', null, 1]);
      const [last] = await t2.services.db('instance_actions').where({ instance_uuid: s.id, action: 'pause' });
      expect([last.result, last.message, last.traceback]).toEqual(['Error', 'Error', 'freezer broken']);
    } finally {
      await t2.close();
    }
  });

  test('idle() resolves only when no background work is left', async () => {
    hold('spawn');
    const { servers } = await compute.boot.create(await ctx(), { name: 'slow', imageRef: image, flavorRef: '1', minCount: 1, maxCount: 1 });
    let idle = false;
    const waiting = compute.tasks.idle().then(() => { idle = true; });
    await new Promise((r) => setImmediate(r));
    expect(idle).toBe(false);
    expect(compute.tasks.isBusy(servers[0].id)).toBe(true);
    release();
    await waiting;
    expect(idle).toBe(true);
    expect(compute.tasks.isBusy(servers[0].id)).toBe(false);
  });
});
