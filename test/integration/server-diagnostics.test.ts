/**
 * GET /servers/{id}/diagnostics and /os-server-password through HTTP (fake engine), checked
 * against Nova's server_diagnostics.py / server_password.py and tempest's schemas: admin-only
 * diagnostics in both shapes, the engine asked once per request (never by show or list),
 * Nova's 409 for a server that does not run; an empty password for a driver that sets none.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver, FakeOp } from '../../src/virt/fake/driver';
import { tempestProblems } from './tempest-schemas';
import { act, bootActive, call, uploadImage } from './servers-support';

let t: TestApp;
let image: string;
let id: string;
const calls: FakeOp[] = [];
const diag = (sid: string) => `/compute/v2.1/servers/${sid}/diagnostics`;

beforeAll(async () => {
  t = await makeTestApp({ driver: new FakeDriver({ host: 'fake-host', beforeCall: (op) => { calls.push(op); } }) });
  image = await uploadImage(t);
  id = await bootActive(t, image, { name: 'diag', networks: 'auto' }, { mv: '2.37' });
});
afterAll(async () => { await t.close(); });

describe('diagnostics', () => {
  it('at 2.48 an admin gets the standard shape from one engine sample, and the CPU time grows', async () => {
    calls.length = 0;
    const res = await call(t, 'get', diag(id), { as: 'admin', mv: '2.48' });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_48/servers.show_server_diagnostics', res)).toEqual([]);
    expect(calls.filter((c) => c === 'diagnostics')).toHaveLength(1);
    expect(res.body).toMatchObject({
      state: 'running', driver: 'libvirt', hypervisor: 'docker', hypervisor_os: 'linux', config_drive: false,
      num_cpus: 1, num_nics: 1, num_disks: 1, memory_details: { maximum: 512 },
    });
    expect(res.body.memory_details.used).toBeGreaterThan(0);
    expect(res.body.nic_details[0].mac_address).toMatch(/^(?:[a-f0-9]{2}:){5}[a-f0-9]{2}$/);
    const again = await call(t, 'get', diag(id), { as: 'admin', mv: '2.48' });
    expect(again.body.cpu_details[0].time).toBeGreaterThan(res.body.cpu_details[0].time);
  });

  it('before 2.48 it is the libvirt-like free-form dict', async () => {
    const res = await call(t, 'get', diag(id), { as: 'admin' });
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/servers.show_server_diagnostics', res)).toEqual([]);
    expect(res.body).toMatchObject({ memory: 512 * 1024, eth0_rx_packets: expect.any(Number), disk8_0_read: 4096 });
    expect(res.body.cpu0_time).toBeGreaterThan(0);
  });

  it('the owner (not admin) is refused with Nova\'s policy 403; another project sees 404', async () => {
    const mine = await call(t, 'get', diag(id), { mv: '2.48' });
    expect(mine.status).toBe(403);
    expect(mine.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.");
    expect((await call(t, 'get', diag(id), { as: 'alt', mv: '2.48' })).status).toBe(404);
  });

  it('a stopped server is 409 in Nova\'s words and the engine is not asked', async () => {
    const sid = await bootActive(t, image, { name: 'off' });
    expect((await act(t, sid, { 'os-stop': null })).status).toBe(202);
    await t.services.compute.tasks.idle();
    calls.length = 0;
    const res = await call(t, 'get', diag(sid), { as: 'admin', mv: '2.48' });
    expect(res.status).toBe(409);
    expect(res.body.conflictingRequest.message).toBe(`Cannot 'get_diagnostics' instance ${sid} while it is in power state shutdown`);
    expect(calls).not.toContain('diagnostics');
  });

  it('show and list never sample the engine', async () => {
    calls.length = 0;
    await call(t, 'get', `/compute/v2.1/servers/${id}`, { as: 'admin', mv: '2.48' });
    await call(t, 'get', '/compute/v2.1/servers/detail', { as: 'admin', mv: '2.48' });
    expect(calls).not.toContain('diagnostics');
  });

  it('an unknown server is 404; other methods are 405', async () => {
    expect((await call(t, 'get', diag('9a2b8c1d-0000-4000-8000-000000000001'), { as: 'admin' })).status).toBe(404);
    expect((await call(t, 'post', diag(id), { as: 'admin', body: {} })).status).toBe(405);
  });
});

describe('os-server-password', () => {
  it('is empty, and clearing it is 204, as Nova answers for a driver that sets none', async () => {
    const pw = `/compute/v2.1/servers/${id}/os-server-password`;
    const got = await call(t, 'get', pw);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ password: '' });
    expect(tempestProblems('v2_1/servers.show_password', got)).toEqual([]);
    const del = await call(t, 'delete', pw);
    expect(del.status).toBe(204);
    expect(tempestProblems('v2_1/servers.server_actions_delete_password', del)).toEqual([]);
    expect((await call(t, 'get', pw, { as: 'viewer' })).status).toBe(200);
    expect((await call(t, 'delete', pw, { as: 'viewer' })).status).toBe(403);
    expect((await call(t, 'get', pw, { as: 'alt' })).status).toBe(404);
  });
});
