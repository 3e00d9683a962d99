/**
 * The compute API's floating IP proxy (issue 17): /os-floating-ips, /os-floating-ip-pools and the
 * addFloatingIp/removeFloatingIp actions answer from the Networking API's floating IP records,
 * with Nova's shapes and errors (nova/api/openstack/compute/floating_ips.py), on a real SQLite
 * with the hosts' NAT in memory; a server booted on the fake driver has its ports made at boot.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeNat } from '../../src/virt/fake/nat';
import { FakeDriver } from '../../src/virt/fake/driver';
import { insertNetwork } from '../helpers/network-rows';
import { act, bootActive, call, uploadImage } from './servers-support';

let t: TestApp;
const nat = new FakeNat();
let ext: { networkId: string; subnetId: string };
let server: string;
let fixedIp: string;
const F = '/compute/v2.1/os-floating-ips';

beforeAll(async () => {
  t = await makeTestApp({ nat, driver: new FakeDriver({ host: 'fake-host' }), config: { externalInterface: 'ndext0' } });
  ext = await insertNetwork(t.db, { projectId: await t.projectId('admin'), name: 'public', external: true, cidr: '172.31.242.0/24', pool: ['172.31.242.10', '172.31.242.11'], gateway: '172.31.242.1' });
  const image = await uploadImage(t);
  server = await bootActive(t, image, { name: 'fip-vm' });
  const ports = await call(t, 'get', `/networking/v2.0/ports?device_id=${server}`);
  fixedIp = ports.body.ports[0].fixed_ips[0].ip_address;
});
afterAll(async () => { await t.close(); });

describe('os-floating-ips over the network service\'s floating IPs', () => {
  let id: string;

  it('the pools are the external networks, by name', async () => {
    const res = await call(t, 'get', '/compute/v2.1/os-floating-ip-pools');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ floating_ip_pools: [{ name: 'public' }] });
  });

  it('when a member allocates one from the pool, then Nova\'s shape shows it, and the Networking API has the same record', async () => {
    const res = await call(t, 'post', F, { body: { pool: 'public' } });
    expect(res.status).toBe(200);
    expect(res.body.floating_ip).toEqual({ id: expect.any(String), ip: '172.31.242.10', pool: 'public', fixed_ip: null, instance_id: null });
    id = res.body.floating_ip.id;
    const neutron = await call(t, 'get', `/networking/v2.0/floatingips/${id}`);
    expect(neutron.body.floatingip).toMatchObject({ floating_ip_address: '172.31.242.10', floating_network_id: ext.networkId });
    expect((await call(t, 'get', F)).body.floating_ips.map((f: { id: string }) => f.id)).toEqual([id]);
    expect((await call(t, 'get', F, { as: 'alt' })).body.floating_ips).toEqual([]);
    expect((await call(t, 'get', `${F}/${id}`, { as: 'alt' })).status).toBe(404);
  });

  it('when added to the server, then it shows the fixed IP and the instance, and the host forwards it', async () => {
    const res = await act(t, server, { addFloatingIp: { address: '172.31.242.10' } });
    expect(res.status).toBe(202);
    expect((await call(t, 'get', `${F}/${id}`)).body.floating_ip).toEqual({ id, ip: '172.31.242.10', pool: 'public', fixed_ip: fixedIp, instance_id: server });
    expect(nat.of('fake-host').forwards).toEqual([{ floatingIp: '172.31.242.10', fixedIp }]);
    const again = await act(t, server, { addFloatingIp: { address: '172.31.242.10' } });
    expect(again.status).toBe(400);
    expect(again.body.badRequest.message).toBe('floating IP is already associated');
  });

  it('when removed from the server, then it is unassociated and the forward goes; removing it again is a conflict', async () => {
    expect((await act(t, server, { removeFloatingIp: { address: '172.31.242.10' } })).status).toBe(202);
    expect((await call(t, 'get', `${F}/${id}`)).body.floating_ip).toMatchObject({ fixed_ip: null, instance_id: null });
    expect(nat.of('fake-host').forwards).toEqual([]);
    const again = await act(t, server, { removeFloatingIp: { address: '172.31.242.10' } });
    expect(again.status).toBe(409);
    expect(again.body.conflictingRequest.message).toBe(`Floating IP 172.31.242.10 is not associated with instance ${server}.`);
  });

  it('when deleted (associated), then it is released: 202, then 404 in both APIs', async () => {
    expect((await act(t, server, { addFloatingIp: { address: '172.31.242.10', fixed_address: fixedIp } })).status).toBe(202);
    expect((await call(t, 'delete', `${F}/${id}`)).status).toBe(202);
    expect(nat.of('fake-host').forwards).toEqual([]);
    const gone = await call(t, 'get', `${F}/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.itemNotFound.message).toBe(`Floating IP not found for ID ${id}`);
    expect((await call(t, 'get', `/networking/v2.0/floatingips/${id}`)).status).toBe(404);
  });

  it('without a pool, then the only external network is used', async () => {
    const res = await call(t, 'post', F, { body: {} });
    expect(res.status).toBe(200);
    expect(res.body.floating_ip.pool).toBe('public');
    expect((await call(t, 'delete', `${F}/${res.body.floating_ip.id}`)).status).toBe(202);
  });
});

describe('Nova\'s errors', () => {
  it.each([
    ['an unknown pool', 'post', F, { pool: 'nope' }, 404, 'itemNotFound', 'Floating IP pool not found.'],
    ['an unknown attribute', 'post', F, { pool: 'public', bogus: 1 }, 400, 'badRequest', undefined],
    ['an unknown floating IP', 'get', `${F}/6e6d5cf2-0000-4000-8000-00000000abcd`, undefined, 404, 'itemNotFound', 'Floating IP not found for ID 6e6d5cf2-0000-4000-8000-00000000abcd'],
    ['deleting an unknown floating IP', 'delete', `${F}/6e6d5cf2-0000-4000-8000-00000000abcd`, undefined, 404, 'itemNotFound', 'Floating IP not found for ID 6e6d5cf2-0000-4000-8000-00000000abcd'],
  ] as const)('%s', async (_what, method, path, body, status, key, message) => {
    const res = await call(t, method, path, { body });
    expect(res.status).toBe(status);
    expect(res.body[key]).toBeDefined();
    if (message) expect(res.body[key].message).toBe(message);
  });

  it('when the pool is exhausted, then 404 No more floating IPs in pool', async () => {
    const a = await call(t, 'post', F, { body: { pool: 'public' } });
    const b = await call(t, 'post', F, { body: { pool: 'public' } });
    expect([a.status, b.status]).toEqual([200, 200]);
    const none = await call(t, 'post', F, { body: { pool: 'public' } });
    expect(none.status).toBe(404);
    expect(none.body.itemNotFound.message).toBe('No more floating IPs in pool public.');
    for (const r of [a, b]) expect((await call(t, 'delete', `${F}/${r.body.floating_ip.id}`)).status).toBe(202);
  });

  it('an address the project does not hold: 404; a fixed address not the server\'s: 400; from 2.44 the actions are gone; from 2.36 the API is', async () => {
    const notHeld = await act(t, server, { addFloatingIp: { address: '172.31.242.99' } });
    expect(notHeld.status).toBe(404);
    expect(notHeld.body.itemNotFound.message).toBe('floating IP not found');
    const wrongFixed = await act(t, server, { addFloatingIp: { address: '172.31.242.10', fixed_address: '10.9.9.9' } });
    expect(wrongFixed.status).toBe(400);
    expect(wrongFixed.body.badRequest.message).toBe('Specified fixed address not assigned to instance');
    expect((await act(t, server, { addFloatingIp: { address: '172.31.242.10' } }, { mv: '2.44' })).status).toBe(404);
    expect((await act(t, server, { removeFloatingIp: { address: '172.31.242.10' } }, { mv: '2.44' })).status).toBe(404);
    expect((await call(t, 'get', F, { mv: '2.36' })).status).toBe(404);
    expect((await call(t, 'get', '/compute/v2.1/os-floating-ip-pools', { mv: '2.36' })).status).toBe(404);
  });
});
