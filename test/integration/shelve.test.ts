/**
 * shelve, shelveOffload and unshelve through HTTP (nova/api/openstack/compute/shelve.py): 202
 * with no body, the statuses a client polls for (SHELVED_OFFLOADED, then ACTIVE), the shelved
 * image in Glance under "<name>-shelved", Nova's 404/403/409/400 texts and its microversion gates
 * (2.77 availability_zone, 2.91 host and a null zone), and the instance actions.
 */
import type { TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { call, uploadImage, bootActive, show, act, tempestViolations, gatedApp, GatedApp } from './servers-support';

let g: GatedApp;
let t: TestApp;
let driver: FakeDriver;
let image: string;

beforeAll(async () => {
  g = await gatedApp();
  t = g.t;
  driver = g.driver;
  image = await uploadImage(t);
});
afterAll(async () => {
  g.release();
  await t.close();
});

const idle = () => t.services.compute.tasks.idle();
const conflict = (message: string) => ({ conflictingRequest: { code: 409, message } });

async function shelvedOffloaded(name: string): Promise<string> {
  const id = await bootActive(t, image, { name });
  expect((await act(t, id, { shelve: null })).status).toBe(202);
  await idle();
  return id;
}

describe('shelve', () => {
  test('202 with an empty body; SHELVED_OFFLOADED with no host, power 4, the container gone; the image listed in Glance', async () => {
    const id = await bootActive(t, image, { name: 'shelf' });
    g.hold('snapshot');
    const res = await act(t, id, { shelve: null });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const during = await show(t, id);
    expect([during.status, during['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', 'shelving']);
    const listed = await call(t, 'get', '/image/v2/images', { query: { name: 'shelf-shelved' } });
    expect(listed.body.images.map((i: { name: string }) => i.name)).toEqual(['shelf-shelved']);
    g.release();
    await idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:vm_state'], s['OS-EXT-STS:task_state'], s['OS-EXT-STS:power_state']]).toEqual(['SHELVED_OFFLOADED', 'shelved_offloaded', null, 4]);
    expect([s['OS-EXT-SRV-ATTR:host'], s['OS-EXT-SRV-ATTR:hypervisor_hostname']]).toEqual([null, null]);
    expect(tempestViolations('v2_1/servers.get_server', { status: 200, body: { server: s } })).toEqual([]);
    await expect(driver.getInfo(id)).rejects.toThrow(/could not be found/);
    const img = await call(t, 'get', `/image/v2/images/${listed.body.images[0].id}`);
    expect([img.body.status, img.body.image_type, img.body.instance_uuid]).toEqual(['active', 'snapshot', id]);
    const actions = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(actions.body.instanceActions[0].action).toBe('shelve');
    expect((await call(t, 'get', '/compute/v2.1/servers/detail', { query: { status: 'SHELVED_OFFLOADED' } })).body.servers.map((x: { id: string }) => x.id)).toContain(id);
  });

  test("shelving a shelved server is Nova's 409; an unknown server 404; another project's 404", async () => {
    const id = await shelvedOffloaded('twice');
    expect(await act(t, id, { shelve: null }).then((r) => [r.status, r.body])).toEqual([409, conflict(`Cannot 'shelve' instance ${id} while it is in vm_state shelved_offloaded`)]);
    const unknown = '6f8a4f5e-0000-4000-8000-000000000000';
    expect((await act(t, unknown, { shelve: null })).status).toBe(404);
    expect((await act(t, unknown, { unshelve: null })).status).toBe(404);
    expect((await act(t, id, { unshelve: null }, { as: 'alt' })).status).toBe(404);
  });

  test('a reader may not shelve (403); a member of the project may', async () => {
    const id = await bootActive(t, image, { name: 'reader' });
    expect((await act(t, id, { shelve: null }, { as: 'viewer' })).status).toBe(403);
    expect((await act(t, id, { shelve: {} })).status).toBe(202);
    await idle();
  });
});

describe('unshelve', () => {
  test('202; ACTIVE again with a host and addresses; the shelved image is gone from Glance', async () => {
    const id = await shelvedOffloaded('back');
    const imageId = (await call(t, 'get', '/image/v2/images', { query: { name: 'back-shelved' } })).body.images[0].id;
    const res = await act(t, id, { unshelve: null });
    expect([res.status, res.text]).toEqual([202, '']);
    await idle();
    const s = await show(t, id);
    expect([s.status, s['OS-EXT-STS:power_state'], s['OS-EXT-SRV-ATTR:host']]).toEqual(['ACTIVE', 1, 'fake-host']);
    expect(Object.keys(s.addresses)).toEqual(['private']);
    expect((await call(t, 'get', `/image/v2/images/${imageId}`)).status).toBe(404);
    const actions = await call(t, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`);
    expect(actions.body.instanceActions.map((x: { action: string }) => x.action).slice(0, 2)).toEqual(['unshelve', 'shelve']);
  });

  test("unshelving an active server is Nova's 409", async () => {
    const id = await bootActive(t, image, { name: 'busy' });
    expect(await act(t, id, { unshelve: null }).then((r) => [r.status, r.body])).toEqual([409, conflict(`Cannot 'unshelve' instance ${id} while it is in vm_state active`)]);
  });

  test('below 2.77 any value is accepted and ignored; 2.77 wants null or exactly availability_zone', async () => {
    const id = await shelvedOffloaded('mv');
    expect((await act(t, id, { unshelve: { availability_zone: 'nosuch' } }, { mv: '2.76' })).status).toBe(202);
    await idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
    expect((await act(t, id, { shelve: null })).status).toBe(202);
    await idle();
    for (const body of [{}, { host: 'fake-host' }, { availability_zone: '' }, { availability_zone: 'nova', x: 1 }]) {
      expect((await act(t, id, { unshelve: body }, { mv: '2.77' })).status).toBe(400);
    }
    const unknownZone = await act(t, id, { unshelve: { availability_zone: 'nosuch' } }, { mv: '2.77' });
    expect([unknownZone.status, unknownZone.body]).toEqual([400, { badRequest: { code: 400, message: 'The requested availability zone is not available' } }]);
    expect((await act(t, id, { unshelve: { availability_zone: 'nova' } }, { mv: '2.77' })).status).toBe(202);
    await idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
    for (const mv of ['2.77', '2.91']) {
      expect((await act(t, id, { shelve: null })).status).toBe(202);
      await idle();
      expect((await act(t, id, { unshelve: null }, { mv })).status).toBe(202);
      await idle();
      expect((await show(t, id)).status).toBe('ACTIVE');
    }
  });

  test('2.91: host is for admins (403), must exist (400); a null zone unpins; {} is a plain unshelve', async () => {
    const id = await shelvedOffloaded('to-host');
    expect((await act(t, id, { unshelve: { host: 'fake-host' } }, { mv: '2.90' })).status).toBe(400);
    const member = await act(t, id, { unshelve: { host: 'fake-host' } }, { mv: '2.91' });
    expect([member.status, member.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed."]);
    const unknown = await act(t, id, { unshelve: { host: 'nosuch' } }, { mv: '2.91', as: 'admin' });
    expect([unknown.status, unknown.body]).toEqual([400, { badRequest: { code: 400, message: 'Compute host nosuch could not be found.' } }]);
    expect((await act(t, id, { unshelve: { availability_zone: null, host: 'fake-host' } }, { mv: '2.91', as: 'admin' })).status).toBe(202);
    await idle();
    expect((await show(t, id))['OS-EXT-SRV-ATTR:host']).toBe('fake-host');
    expect((await act(t, id, { shelve: null })).status).toBe(202);
    await idle();
    expect((await act(t, id, { unshelve: {} }, { mv: '2.91' })).status).toBe(202);
    await idle();
    expect((await show(t, id)).status).toBe('ACTIVE');
  });
});

describe('shelveOffload', () => {
  test('admin only (403 for the owner); 409 unless SHELVED', async () => {
    const id = await shelvedOffloaded('offload');
    const member = await act(t, id, { shelveOffload: null });
    expect([member.status, member.body.forbidden?.message]).toEqual([403, "Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed."]);
    expect(await act(t, id, { shelveOffload: null }, { as: 'admin' }).then((r) => [r.status, r.body])).toEqual([409, conflict(`Cannot 'shelveOffload' instance ${id} while it is in vm_state shelved_offloaded`)]);
  });
});

describe('delete', () => {
  test("deleting a SHELVED_OFFLOADED server: 204, then 404, and its shelved image is deleted as Nova does", async () => {
    const id = await shelvedOffloaded('bye');
    const imageId = (await call(t, 'get', '/image/v2/images', { query: { name: 'bye-shelved' } })).body.images[0].id;
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await idle();
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
    expect((await call(t, 'get', `/image/v2/images/${imageId}`)).status).toBe(404);
  });
});
