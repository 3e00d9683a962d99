/**
 * Restart policy (issue 15) on the fake engine: the flavor extra spec `docker:restart_policy`
 * reaches the instance's spec, a crashed process the engine restarts leaves its server ACTIVE
 * with an instance action `restart` by the engine, an exhausted on-failure or a kill from outside
 * ends SHUTOFF, a server stopped through the API stays stopped, and bad values are refused.
 */
import pino from 'pino';
import { makeTestServices, TestServices } from '../helpers/services';
import { FakeDriver } from '../../src/virt/fake/driver';
import { Reconciler } from '../../src/compute/reconciler';
import { statusOf } from '../../src/compute/status';
import { parseRestartPolicy, restartPolicyOf } from '../../src/compute/restart-policy';
import { engineRestarts } from '../../src/virt/restart';
import { dockerRestartPolicy } from '../../src/virt/docker/containers';
import type { InstanceSpec } from '../../src/virt/driver';

const log = pino({ level: 'silent' });
let t: TestServices;
let driver: FakeDriver;
let image: string;
let reconciler: Reconciler;
const specs: InstanceSpec[] = [];

beforeEach(async () => {
  specs.length = 0;
  driver = new FakeDriver({ host: 'fake-host', program: (spec) => { specs.push(spec); return {}; } });
  t = await makeTestServices({ driver });
  image = await t.uploadImage();
  reconciler = new Reconciler({ sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log, sweepIntervalMs: 3_600_000 });
  await reconciler.start();
});
afterEach(async () => {
  reconciler.stop();
  await reconciler.settle();
  await t.close();
});

/** A flavor with the policy, and a server of demo booted on it. */
async function bootWith(policy: string | undefined, name = 'vm'): Promise<string> {
  const admin = await t.ctx('admin');
  const flavor = await t.services.flavors.create({ name: `f-${name}`, ram: 64, vcpus: 1, disk: 1, isPublic: true, description: null });
  if (policy !== undefined) await t.services.flavors.setExtraSpecs(admin, flavor.id, { 'docker:restart_policy': policy });
  const { servers } = await t.services.compute.boot.create(await t.ctx('demo'), { name, imageRef: image, flavorRef: flavor.id, minCount: 1, maxCount: 1 });
  await t.services.compute.tasks.idle();
  return servers[0].id;
}

const status = async (id: string) => {
  const s = await t.services.compute.queries.get(await t.ctx('admin'), id);
  return statusOf(s.vm_state, s.task_state, s.deleted);
};
const engineActions = async (id: string) => (await t.services.compute.queries.listActions(await t.ctx('admin'), id)).filter((a) => a.action === 'restart');

describe('the spec and its values', () => {
  test('the four policies parse; anything else does not', () => {
    expect(parseRestartPolicy('on-failure:3')).toEqual({ name: 'on-failure', maximumRetryCount: 3 });
    expect(parseRestartPolicy('on-failure')).toEqual({ name: 'on-failure', maximumRetryCount: 0 });
    expect(parseRestartPolicy('always')).toEqual({ name: 'always', maximumRetryCount: 0 });
    for (const bad of ['sometimes', 'on-failure:', 'on-failure:-1', 'Always', 'no:3', '']) expect(parseRestartPolicy(bad)).toBeUndefined();
    expect(restartPolicyOf({ 'docker:restart_policy': 'no' })).toBeUndefined();
    expect(dockerRestartPolicy({ name: 'always', maximumRetryCount: 0 })).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
    expect(dockerRestartPolicy({ name: 'on-failure', maximumRetryCount: 2 })).toEqual({ Name: 'on-failure', MaximumRetryCount: 2 });
    expect(dockerRestartPolicy(undefined)).toEqual({ Name: 'no', MaximumRetryCount: 0 });
  });

  test('Docker\'s decision: on-failure restarts non-zero exits up to its count; always any exit', () => {
    const onFailure2 = { name: 'on-failure' as const, maximumRetryCount: 2 };
    expect([engineRestarts(onFailure2, 1, 0), engineRestarts(onFailure2, 1, 2), engineRestarts(onFailure2, 0, 0)]).toEqual([true, false, false]);
    expect(engineRestarts({ name: 'always', maximumRetryCount: 0 }, 0, 99)).toBe(true);
    expect(engineRestarts(undefined, 1, 0)).toBe(false);
  });

  test('a bad value on a flavor is a 400 in Nova\'s words and is not stored', async () => {
    const admin = await t.ctx('admin');
    const flavor = await t.services.flavors.create({ name: 'bad', ram: 64, vcpus: 1, disk: 1, isPublic: true, description: null });
    await expect(t.services.flavors.setExtraSpecs(admin, flavor.id, { 'docker:restart_policy': 'sometimes' })).rejects.toMatchObject({
      kind: 'invalid', message: expect.stringMatching(/^Validation failed; Value 'sometimes' for extra spec 'docker:restart_policy' is not valid/),
    });
    expect(await t.services.flavors.extraSpecs(admin, flavor.id)).toEqual({});
  });

  test('the flavor\'s policy is in the instance\'s spec; none without the extra spec', async () => {
    await bootWith('on-failure:3', 'a');
    await bootWith(undefined, 'b');
    expect(specs.map((s) => s.restartPolicy)).toEqual([{ name: 'on-failure', maximumRetryCount: 3 }, undefined]);
  });
});

describe('a crash the engine restarts', () => {
  test('with always, the server stays ACTIVE and an action restart by the engine says what happened', async () => {
    const id = await bootWith('always');
    driver.externalExit(id, 1);
    await reconciler.settle();
    expect(await status(id)).toBe('ACTIVE');
    expect((await driver.getInfo(id)).restartCount).toBe(1);
    const actions = await engineActions(id);
    expect(actions).toEqual([expect.objectContaining({ action: 'restart', user_id: 'compute-engine', result: 'Success' })]);
    expect(actions[0].traceback).toContain('restart policy always; restarts so far: 1');
    // A sweep seeing the same count records nothing more; a second crash records a second action.
    await reconciler.sweep();
    expect(await engineActions(id)).toHaveLength(1);
    driver.externalOom(id);
    await reconciler.settle();
    expect(await status(id)).toBe('ACTIVE');
    expect(await engineActions(id)).toHaveLength(2);
  });

  test('on-failure:1 restarts once; the second crash leaves it SHUTOFF, and a clean exit is not a failure', async () => {
    const id = await bootWith('on-failure:1');
    driver.externalExit(id, 2);
    await reconciler.settle();
    expect(await status(id)).toBe('ACTIVE');
    driver.externalExit(id, 2);
    await reconciler.settle();
    expect(await status(id)).toBe('SHUTOFF');
    const clean = await bootWith('on-failure', 'clean');
    driver.externalExit(clean, 0);
    await reconciler.settle();
    expect(await status(clean)).toBe('SHUTOFF');
  });

  test('a kill from outside is a manual stop (Docker does not restart it): SHUTOFF, no action', async () => {
    const id = await bootWith('always');
    driver.externalKill(id);
    await reconciler.settle();
    expect(await status(id)).toBe('SHUTOFF');
    expect(await engineActions(id)).toEqual([]);
  });

  test('a server stopped through the API stays stopped', async () => {
    const id = await bootWith('always');
    await t.services.compute.actions.stop(await t.ctx('demo'), id);
    await t.services.compute.tasks.idle();
    await reconciler.settle();
    expect(await status(id)).toBe('SHUTOFF');
    expect((await driver.getInfo(id)).powerState).toBe(4);
  });
});

describe('the engine restarts under novadock (NOVADOCK_RESUME_GUESTS_STATE_ON_HOST_BOOT)', () => {
  /** A reconciler of its own, with the setting, reconnecting fast. */
  async function withSetting(resumeGuests: boolean): Promise<Reconciler> {
    reconciler.stop();
    await reconciler.settle();
    reconciler = new Reconciler({
      sync: t.services.compute.sync, queries: t.services.compute.queries, hosts: t.services.compute.hosts, tasks: t.services.compute.tasks, drivers: t.services.drivers, log,
      sweepIntervalMs: 3_600_000, backoffMs: { initial: 5, max: 20 }, resumeGuests,
    });
    await reconciler.start();
    return reconciler;
  }

  /** The engine goes away, stopping the containers as dockerd does, and comes back; resolves after the reconnect's sweep. */
  async function engineRestart(ids: string[]): Promise<void> {
    driver.setUnavailable(true);
    await new Promise((r) => setImmediate(r));
    for (const id of ids) driver.externalKill(id);
    driver.setUnavailable(false);
    for (let i = 0; i < 500 && t.services.compute.hosts.hostStatusOf('fake-host') !== 'UP'; i++) await new Promise((r) => setTimeout(r, 10));
    await reconciler.settle();
  }

  test('with the setting, a server that was ACTIVE runs again and stays ACTIVE; one stopped through the API stays SHUTOFF', async () => {
    await withSetting(true);
    const active = await bootWith(undefined, 'active');
    const stopped = await bootWith(undefined, 'stopped');
    await t.services.compute.actions.stop(await t.ctx('demo'), stopped);
    await t.services.compute.tasks.idle();
    await engineRestart([active]);
    expect(await status(active)).toBe('ACTIVE');
    expect((await driver.getInfo(active)).powerState).toBe(1);
    expect(await status(stopped)).toBe('SHUTOFF');
    expect((await driver.getInfo(stopped)).powerState).toBe(4);
  });

  test('without it (Nova\'s default), the server the engine stopped goes SHUTOFF', async () => {
    await withSetting(false);
    const id = await bootWith(undefined, 'plain');
    await engineRestart([id]);
    expect(await status(id)).toBe('SHUTOFF');
    expect((await driver.getInfo(id)).powerState).toBe(4);
  });
});
