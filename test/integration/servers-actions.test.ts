/**
 * POST /servers/{id}/action, metadata and os-instance-actions through HTTP: every action moves
 * the server through Nova's task states to the right vm_state/power_state (checked in the API
 * and on the fake engine), refuses wrong states with Nova's exact 409, and records an action.
 */
import request from 'supertest';
import type { TestApp } from '../helpers/app';
import { makeTestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { call, uploadImage, boot, bootActive, show, act, tempestViolations, gatedApp, GatedApp } from './servers-support';

let g: GatedApp;
let t: TestApp;
let driver: FakeDriver;
let image: string;

beforeAll(async () => {
  g = await gatedApp();
  t = g.t;
  driver = g.driver;
  Object.assign(t.services.config.seed.quotas, { instances: 100, cores: 100, ram: 100 * 2048 });
  image = await uploadImage(t);
});
afterAll(async () => {
  g.release();
  await t.close();
});

const enginePower = async (id: string) => (await driver.getInfo(id)).powerState;

describe('power actions', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'power' });
  });

  test('os-stop: 202 with an empty body, powering-off while it runs, then SHUTOFF with power 4 on the engine too', async () => {
    g.hold('powerOff');
    const res = await act(t, id, { 'os-stop': null });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const during = await show(t, id);
    expect(during.status).toBe('ACTIVE');
    expect(during['OS-EXT-STS:task_state']).toBe('powering-off');
    g.release();
    await t.services.compute.tasks.idle();
    const after = await show(t, id);
    expect([after.status, after['OS-EXT-STS:vm_state'], after['OS-EXT-STS:task_state'], after['OS-EXT-STS:power_state']]).toEqual(['SHUTOFF', 'stopped', null, 4]);
    expect(after).not.toHaveProperty('progress');
    expect(await enginePower(id)).toBe(4);
  });

  test("a second os-stop is Nova's 409", async () => {
    const res = await act(t, id, { 'os-stop': null });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ conflictingRequest: { code: 409, message: `Cannot 'stop' instance ${id} while it is in vm_state stopped` } });
  });

  test('os-start brings it back ACTIVE and running', async () => {
    expect((await act(t, id, { 'os-start': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:power_state']]).toEqual(['ACTIVE', 1]);
    expect(await enginePower(id)).toBe(1);
  });

  test('an action while another is in flight is a 409 naming the task state', async () => {
    g.hold('pause');
    expect((await act(t, id, { pause: null })).status).toBe(202);
    const res = await act(t, id, { 'os-stop': null });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'stop' instance ${id} while it is in task_state pausing`);
    g.release();
    await t.services.compute.tasks.idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:power_state']]).toEqual(['PAUSED', 3]);
    expect(await enginePower(id)).toBe(3);
    const r2 = await act(t, id, { pause: {} });
    expect(r2.body.conflictingRequest.message).toBe(`Cannot 'pause' instance ${id} while it is in vm_state paused`);
    expect((await act(t, id, { unpause: null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('suspend shows SUSPENDED with power 7 while the engine holds the container frozen (3); resume; a second resume is 409', async () => {
    expect((await act(t, id, { suspend: null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:power_state']]).toEqual(['SUSPENDED', 'suspended', 7]);
    expect(await enginePower(id)).toBe(3);
    expect((await act(t, id, { resume: null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
    const again = await act(t, id, { resume: null });
    expect(again.status).toBe(409);
    expect(again.body.conflictingRequest.message).toBe(`Cannot 'resume' instance ${id} while it is in vm_state active`);
  });

  test('reboot SOFT shows REBOOT and HARD shows HARD_REBOOT while they run, both end ACTIVE; another type is a 400', async () => {
    for (const [type, status] of [['SOFT', 'REBOOT'], ['HARD', 'HARD_REBOOT']]) {
      g.hold('reboot');
      expect((await act(t, id, { reboot: { type } })).status).toBe(202);
      expect((await show(t, id)).status).toBe(status);
      g.release();
      await t.services.compute.tasks.idle();
      const s = await show(t, id);
      expect([s.status, s['OS-EXT-STS:task_state'], s['OS-EXT-STS:power_state']]).toEqual(['ACTIVE', null, 1]);
    }
    const bad = await act(t, id, { reboot: { type: 'GENTLE' } });
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toContain('reboot/type');
  });

  test('a hard reboot is allowed on a stopped server, a soft one is not', async () => {
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const soft = await act(t, id, { reboot: { type: 'SOFT' } });
    expect(soft.status).toBe(409);
    expect(soft.body.conflictingRequest.message).toBe(`Cannot 'reboot' instance ${id} while it is in vm_state stopped`);
    expect((await act(t, id, { reboot: { type: 'HARD' } })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('20 concurrent conflicting stops: exactly one 202, nineteen 409, and the server ends SHUTOFF', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => act(t, id, { 'os-stop': null })));
    const codes = results.map((r) => r.status).sort();
    expect(codes.filter((c) => c === 202)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(19);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('SHUTOFF');
    const actions = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(actions.body.instanceActions.filter((a: { action: string }) => a.action === 'stop').length).toBe(3);
    expect((await act(t, id, { 'os-start': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
  });

  test('the engine down makes an action a 503 with nothing changed', async () => {
    driver.setUnavailable(true);
    try {
      const res = await act(t, id, { 'os-stop': null });
      expect(res.status).toBe(503);
      expect(res.body.serviceUnavailable.message).toContain('fake-host');
    } finally {
      driver.setUnavailable(false);
    }
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', null]);
  });

  test('the engine failing mid-action releases the task and keeps the state', async () => {
    g.hold('powerOff');
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    driver.setUnavailable(true);
    g.release();
    await t.services.compute.tasks.idle();
    driver.setUnavailable(false);
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', null]);
    const actions = (await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`)).body.instanceActions;
    expect(actions[0]).toMatchObject({ action: 'stop', message: 'Error' });
  });
});

describe('the action endpoint', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'endpoint' });
  });

  test('an unknown server is a 404 before the body is looked at', async () => {
    const res = await act(t, '8b1f0b7c-0000-4000-8000-000000000000', { reboot: { type: 'NOPE' } });
    expect(res.status).toBe(404);
    expect(res.body.itemNotFound.message).toBe('Instance 8b1f0b7c-0000-4000-8000-000000000000 could not be found.');
    expect((await act(t, id, { 'os-stop': null }, { as: 'alt' })).status).toBe(404);
  });

  test('an unknown action, several keys, or no key are 400s', async () => {
    const unknown = await act(t, id, { fly: null });
    expect(unknown.status).toBe(400);
    expect(unknown.body.badRequest.message).toBe('There is no such action: fly');
    expect((await act(t, id, { pause: null, unpause: null })).status).toBe(400);
    expect((await act(t, id, {})).status).toBe(400);
    expect((await act(t, id, '[1]')).status).toBe(400);
  });

  test('an action named like an Object.prototype member is unknown too (400, not 500)', async () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await act(t, id, `{"${name}": {}}`);
      expect(res.status).toBe(400);
      expect(res.body.badRequest.message).toBe(`There is no such action: ${name}`);
    }
  });

  test('a reader may not act (403)', async () => {
    const res = await act(t, id, { 'os-stop': null }, { as: 'viewer' });
    expect(res.status).toBe(403);
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('actions on a server that never became ACTIVE are refused (launched_at)', async () => {
    const failing = await makeTestApp({ driver: new FakeDriver({ host: 'fake-host', failSpawn: () => 'boom' }) });
    try {
      const img = await uploadImage(failing);
      const bad = await bootActive(failing, img);
      const res = await act(failing, bad, { 'os-stop': null });
      expect(res.status).toBe(409);
      expect(res.body.conflictingRequest.message).toBe(`Cannot 'stop' instance ${bad} while it is in launched_at None`);
    } finally {
      await failing.close();
    }
  });
});

describe('os-getConsoleOutput', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'chatty' });
    for (let i = 1; i <= 6; i++) driver.writeConsole(id, `line ${i}`);
    driver.writeConsole(id, 'bell\x07 and\ttab');
  });
  const output = async (body: unknown) => {
    const res = await act(t, id, { 'os-getConsoleOutput': body });
    expect(res.status).toBe(200);
    expect(tempestViolations('v2_1/servers.get_console_output', res)).toEqual([]);
    return res.body.output as string;
  };

  test("length N is Nova's tail: the last N elements of the log split on newlines", async () => {
    const whole = await driver.getConsoleOutput(id);
    const lines = whole.replace('\x07', '').split('\n');
    expect(await output({ length: 3 })).toBe(lines.slice(-3).join('\n'));
    expect(await output({ length: '3' })).toBe(lines.slice(-3).join('\n'));
    expect(await output({ length: 3 })).toBe('line 6\nbell and\ttab\n');
  });

  test('no length, null or -1 is the whole log; 0 is empty; control characters other than tab and newline are removed', async () => {
    const all = await output({});
    expect(all).toContain('line 1\n');
    expect(all).toContain('bell and\ttab\n');
    expect(all).not.toContain('\x07');
    expect(await output({ length: null })).toBe(all);
    expect(await output({ length: -1 })).toBe(all);
    expect(await output({ length: 0 })).toBe('');
  });

  test.each([[{ length: -2 }], [{ length: 'abc' }], [{ length: 1.5 }], [{ lines: 3 }]])('%j is a 400', async (body) => {
    expect((await act(t, id, { 'os-getConsoleOutput': body })).status).toBe(400);
  });

  test('it works on a stopped server', async () => {
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect(await output({ length: 1 })).toBe('');
    expect(await output({ length: 2 })).toBe('bell and\ttab\n');
    expect((await act(t, id, { 'os-start': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
  });

  test('a server never scheduled is 409 "Instance <id> is not ready"', async () => {
    // A 100 GB flavor fits no fake host (16 GiB at ratio 1.5) yet is within quota: no valid host, no host recorded.
    const flavor = await call(t, 'post', '/compute/v2.1/flavors', { as: 'admin', body: { flavor: { name: 'huge-unplaced', ram: 100_000, vcpus: 1, disk: 1 } } });
    expect(flavor.status).toBe(200);
    const res = await boot(t, image, { name: 'unplaced', flavorRef: flavor.body.flavor.id });
    await t.services.compute.tasks.idle();
    const unplaced = res.body.server.id;
    expect((await show(t, unplaced))['OS-EXT-SRV-ATTR:host']).toBeNull();
    const out = await act(t, unplaced, { 'os-getConsoleOutput': {} });
    expect(out.status).toBe(409);
    expect(out.body.conflictingRequest.message).toBe(`Instance ${unplaced} is not ready`);
  });
});

describe('createImage', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'snapme' });
    driver.writeFile(id, '/root/made-here', 'precious');
  });

  test('at 2.1: 202, empty body, an absolute Location ending in the new image id; the image is listed at once and becomes active; the server keeps its state', async () => {
    g.hold('snapshot');
    const res = await act(t, id, { createImage: { name: 'snap1', metadata: { purpose: 'test' } } });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:8080\/image\/v2\/images\/[0-9a-f-]{36}$/);
    const imageId = res.headers.location.split('/').pop() as string;
    const during = await show(t, id);
    expect([during.status, during['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', 'image_snapshot']);
    const token = await t.token('demo');
    const listed = await request(t.app).get('/image/v2/images').set('X-Auth-Token', token);
    expect(listed.body.images.map((i: { id: string }) => i.id)).toContain(imageId);
    g.release();
    await t.services.compute.tasks.idle();
    await t.services.images.idle();
    const img = await request(t.app).get(`/image/v2/images/${imageId}`).set('X-Auth-Token', token);
    expect(img.body).toMatchObject({ status: 'active', name: 'snap1', image_type: 'snapshot', instance_uuid: id, purpose: 'test', container_format: 'docker' });
    const after = await show(t, id);
    expect([after.status, after['OS-EXT-STS:task_state'], after['OS-EXT-STS:vm_state']]).toEqual(['ACTIVE', null, 'active']);

    // The snapshot boots, with the file system of its server.
    const child = await bootActive(t, imageId, { name: 'from-snap' });
    expect((await show(t, child)).status).toBe('ACTIVE');
    expect(driver.readFile(child, '/root/made-here')).toBe('precious');
  });

  test('at 2.45: 202 with {"image_id"} and no Location', async () => {
    const res = await act(t, id, { createImage: { name: 'snap2' } }, { mv: '2.45' });
    expect(res.status).toBe(202);
    expect(tempestViolations('v2_45/images.create_image', res)).toEqual([]);
    expect(res.headers.location).toBeUndefined();
    await t.services.compute.tasks.idle();
  });

  test('a snapshot of a stopped server works; the name is required; an ERROR server is refused', async () => {
    expect((await act(t, id, { createImage: {} })).status).toBe(400);
    expect((await act(t, id, { 'os-resetState': { state: 'error' } }, { as: 'admin' })).status).toBe(202);
    const res = await act(t, id, { createImage: { name: 'nope' } });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'createImage' instance ${id} while it is in vm_state error`);
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('SHUTOFF');
    expect((await act(t, id, { createImage: { name: 'cold' } })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await show(t, id)).status).toBe('SHUTOFF');
  });

  test('a failed commit removes the queued image and clears the task', async () => {
    const failing = await makeTestApp({ driver: new FakeDriver({ host: 'fake-host', failOn: (op) => (op === 'snapshot' ? new Error('commit failed') : undefined) }) });
    try {
      const img = await uploadImage(failing);
      const sid = await bootActive(failing, img);
      const res = await act(failing, sid, { createImage: { name: 'broken' } }, { mv: '2.45' });
      expect(res.status).toBe(202);
      await failing.services.compute.tasks.idle();
      await failing.services.images.idle();
      const token = await failing.token('demo');
      expect((await request(failing.app).get(`/image/v2/images/${res.body.image_id}`).set('X-Auth-Token', token)).status).toBe(404);
      const s = await show(failing, sid);
      expect([s.status, s['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', null]);
    } finally {
      await failing.close();
    }
  });
});

describe('rebuild', () => {
  test('answers 202 with the rebuild view and adminPass (valid against tempest), shows REBUILD, ends ACTIVE on the new image with the same id and address', async () => {
    const id = await bootActive(t, image, { name: 'old' });
    const before = await show(t, id);
    const oldEngineImage = driver.specOf(id)!.imageRef;
    const newImage = await uploadImage(t, { name: 'newer' });
    g.hold('spawn');
    const res = await act(t, id, { rebuild: { imageRef: newImage, name: 'renewed', adminPass: 'pw', metadata: { v: '2' } } });
    expect(res.status).toBe(202);
    expect(tempestViolations('v2_1/servers.rebuild_server_with_admin_pass', res)).toEqual([]);
    expect(res.body.server).toMatchObject({ id, name: 'renewed', status: 'REBUILD', adminPass: 'pw', metadata: { v: '2' }, image: { id: newImage } });
    g.release();
    await t.services.compute.tasks.idle();
    const after = await show(t, id);
    expect([after.status, after.name, after.image.id]).toEqual(['ACTIVE', 'renewed', newImage]);
    expect(after.addresses).toEqual(before.addresses);
    // A new container from the new image's engine id.
    expect(driver.specOf(id)!.imageRef).toMatch(/^sha256:/);
    expect(driver.specOf(id)!.imageRef).not.toBe(oldEngineImage);
    expect(driver.specOf(id)!.env).toEqual({ v: '2' });
  });

  test('a stopped server is rebuilt and stays SHUTOFF; imageRef is required', async () => {
    const id = await bootActive(t, image, { name: 'cold' });
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await act(t, id, { rebuild: {} })).status).toBe(400);
    expect((await act(t, id, { rebuild: { imageRef: image } })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:power_state']]).toEqual(['SHUTOFF', 4]);
  });

  test('a paused server cannot be rebuilt', async () => {
    const id = await bootActive(t, image, { name: 'frozen' });
    expect((await act(t, id, { pause: null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    const res = await act(t, id, { rebuild: { imageRef: image } });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'rebuild' instance ${id} while it is in vm_state paused`);
  });
});

describe('lock, unlock, os-resetState, forceDelete', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'lockable' });
  });

  test('a locked server refuses its members\' actions with 409 "Instance <id> is locked"; an admin still acts', async () => {
    expect((await act(t, id, { lock: null })).status).toBe(202);
    expect((await show(t, id, { mv: '2.9' })).locked).toBe(true);
    const res = await act(t, id, { 'os-stop': null });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Instance ${id} is locked`);
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(409);
    expect((await act(t, id, { unlock: null })).status).toBe(202);
    expect((await act(t, id, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await act(t, id, { 'os-start': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
  });

  test('an admin\'s lock (with a reason at 2.73) cannot be lifted by the owner', async () => {
    expect((await act(t, id, { lock: { locked_reason: 'audit' } }, { as: 'admin', mv: '2.73' })).status).toBe(202);
    const s = await show(t, id, { mv: '2.73' });
    expect([s.locked, s.locked_reason]).toEqual([true, 'audit']);
    expect((await act(t, id, { unlock: null })).status).toBe(403);
    expect((await act(t, id, { 'os-stop': null }, { as: 'admin' })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await act(t, id, { unlock: null }, { as: 'admin' })).status).toBe(202);
    const after = await show(t, id, { mv: '2.73' });
    expect([after.locked, after.locked_reason]).toEqual([false, null]);
  });

  test('os-resetState is for admins; it sets vm_state and clears the task without touching the engine', async () => {
    expect((await act(t, id, { 'os-resetState': { state: 'error' } })).status).toBe(403);
    expect((await act(t, id, { 'os-resetState': { state: 'paused' } }, { as: 'admin' })).status).toBe(400);
    expect((await act(t, id, { 'os-resetState': { state: 'error' } }, { as: 'admin' })).status).toBe(202);
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:task_state']]).toEqual(['ERROR', null]);
    expect(await enginePower(id)).toBe(4);
    expect((await act(t, id, { 'os-resetState': { state: 'active' } }, { as: 'admin' })).status).toBe(202);
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('forceDelete deletes (202, then 404)', async () => {
    expect((await act(t, id, { forceDelete: null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
    expect(driver.specOf(id)).toBeUndefined();
  });
});

describe('metadata', () => {
  let id: string;
  const base = () => `/compute/v2.1/servers/${id}/metadata`;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'meta', metadata: { a: '1' } });
  });

  test('GET lists; POST merges and answers all items; PUT replaces', async () => {
    const list = await call(t, 'get', base());
    expect(tempestViolations('v2_1/servers.list_server_metadata', list)).toEqual([]);
    expect(list.body).toEqual({ metadata: { a: '1' } });
    const merged = await call(t, 'post', base(), { body: { metadata: { b: '2' } } });
    expect(tempestViolations('v2_1/servers.update_server_metadata', merged)).toEqual([]);
    expect(merged.body).toEqual({ metadata: { a: '1', b: '2' } });
    const replaced = await call(t, 'put', base(), { body: { metadata: { c: '3' } } });
    expect(replaced.body).toEqual({ metadata: { c: '3' } });
    expect((await show(t, id)).metadata).toEqual({ c: '3' });
  });

  test('one item: GET, PUT (key must match the URL), DELETE (204, then 404)', async () => {
    const put = await call(t, 'put', `${base()}/owner`, { body: { meta: { owner: 'alice' } } });
    expect(put.status).toBe(200);
    expect(tempestViolations('v2_1/servers.set_show_server_metadata_item', put)).toEqual([]);
    expect(put.body).toEqual({ meta: { owner: 'alice' } });
    expect((await call(t, 'get', `${base()}/owner`)).body).toEqual({ meta: { owner: 'alice' } });
    const mismatch = await call(t, 'put', `${base()}/owner`, { body: { meta: { other: 'x' } } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.badRequest.message).toBe('Request body and URI mismatch');
    expect((await call(t, 'put', `${base()}/owner`, { body: { meta: { owner: 'x', other: 'y' } } })).status).toBe(400);
    const del = await call(t, 'delete', `${base()}/owner`);
    expect(del.status).toBe(204);
    const gone = await call(t, 'get', `${base()}/owner`);
    expect(gone.status).toBe(404);
    expect(gone.body.itemNotFound.message).toBe('Metadata item was not found');
    expect((await call(t, 'delete', `${base()}/owner`)).status).toBe(404);
  });

  test('keys or values over 255 characters are 400s; more items than the quota is a 403', async () => {
    expect((await call(t, 'post', base(), { body: { metadata: { ['k'.repeat(256)]: 'v' } } })).status).toBe(400);
    expect((await call(t, 'post', base(), { body: { metadata: { k: 'v'.repeat(256) } } })).status).toBe(400);
    const quotas = t.services.config.seed.quotas;
    const saved = quotas.metadata_items;
    quotas.metadata_items = 2;
    try {
      const res = await call(t, 'post', base(), { body: { metadata: { x: '1', y: '2' } } });
      expect(res.status).toBe(403);
      expect(res.body.forbidden.message).toContain('metadata_items');
    } finally {
      quotas.metadata_items = saved;
    }
    expect((await show(t, id)).metadata).toEqual({ c: '3' });
  });

  test('a building server refuses metadata changes (409); a reader cannot write (403); another project gets 404', async () => {
    g.hold('spawn');
    const res = await boot(t, image, { name: 'metabuild' });
    const building = res.body.server.id;
    const r = await call(t, 'post', `/compute/v2.1/servers/${building}/metadata`, { body: { metadata: { a: 'b' } } });
    g.release();
    await t.services.compute.tasks.idle();
    expect(r.status).toBe(409);
    expect(r.body.conflictingRequest.message).toBe(`Cannot 'update metadata' instance ${building} while it is in vm_state building`);
    expect((await call(t, 'post', base(), { as: 'viewer', body: { metadata: { a: 'b' } } })).status).toBe(403);
    expect((await call(t, 'get', base(), { as: 'alt' })).status).toBe(404);
  });
});

describe('os-instance-actions', () => {
  test('every action is recorded with the request id that asked for it; show gives events to admins', async () => {
    const created = await boot(t, image, { name: 'audited' });
    const id = created.body.server.id;
    await t.services.compute.tasks.idle();
    const stop = await act(t, id, { 'os-stop': null });
    await t.services.compute.tasks.idle();
    const list = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(tempestViolations('v2_1/servers.list_instance_actions', list)).toEqual([]);
    expect(list.body.instanceActions.map((a: { action: string; request_id: string }) => [a.action, a.request_id])).toEqual([
      ['stop', stop.headers['x-openstack-request-id']],
      ['create', created.headers['x-openstack-request-id']],
    ]);

    const member = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/${stop.headers['x-openstack-request-id']}`);
    expect(tempestViolations('v2_1/servers.show_instance_action', member)).toEqual([]);
    expect(member.body.instanceAction).not.toHaveProperty('events');
    const admin = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/${stop.headers['x-openstack-request-id']}`, { as: 'admin' });
    expect(tempestViolations('v2_1/servers.show_instance_action', admin)).toEqual([]);
    expect(admin.body.instanceAction.events).toEqual([
      { event: 'compute_stop_instance', start_time: expect.any(String), finish_time: expect.any(String), result: 'Success', traceback: null },
    ]);
    const at258 = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/${stop.headers['x-openstack-request-id']}`, { mv: '2.58' });
    expect(tempestViolations('v2_58/servers.show_instance_action', at258)).toEqual([]);
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/req-unknown`)).status).toBe(404);
  });
});
