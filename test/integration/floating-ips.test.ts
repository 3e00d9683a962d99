/**
 * /networking/v2.0/floatingips (issue 17) through HTTP on a real SQLite, the hosts' NAT in memory:
 * Neutron's shapes, association rules and errors, and the host's forward following each change.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeNat } from '../../src/virt/fake/nat';
import { insertNetwork, insertPort } from '../helpers/network-rows';

let h: TestApp;
const nat = new FakeNat();
let ext: { networkId: string; subnetId: string };
let priv: { networkId: string; subnetId: string };
let demoPort: string;
let bare: string;
let altPort: string;
let routerPort: string;
const BASE = '/networking/v2.0/floatingips';
const HOST = 'fake-host';

const as = async (account: 'admin' | 'demo' | 'alt' | 'viewer') => ({ 'X-Auth-Token': await h.token(account) });
const create = async (account: 'admin' | 'demo' | 'alt' | 'viewer', body: object) => request(h.app).post(BASE).set(await as(account)).send(body);
const put = async (id: string, body: object, account: 'admin' | 'demo' = 'demo') => request(h.app).put(`${BASE}/${id}`).set(await as(account)).send(body);

beforeAll(async () => {
  h = await makeTestApp({ nat, config: { externalInterface: 'ndext0' } });
  const admin = await h.projectId('admin');
  const demo = await h.projectId('demo');
  const alt = await h.projectId('alt');
  ext = await insertNetwork(h.db, { projectId: admin, name: 'public', external: true, cidr: '172.31.240.0/24', pool: ['172.31.240.10', '172.31.240.12'], gateway: '172.31.240.1' });
  priv = await insertNetwork(h.db, { projectId: demo, name: 'demo-net', cidr: '10.240.5.0/24', pool: ['10.240.5.2', '10.240.5.254'], gateway: '10.240.5.1' });
  demoPort = await insertPort(h.db, { projectId: demo, networkId: priv.networkId, subnetId: priv.subnetId, ip: '10.240.5.5', host: HOST });
  bare = await insertPort(h.db, { projectId: demo, networkId: priv.networkId });
  routerPort = await insertPort(h.db, { projectId: demo, networkId: priv.networkId, subnetId: priv.subnetId, ip: '10.240.5.1', deviceOwner: 'network:router_interface' });
  const altNet = await insertNetwork(h.db, { projectId: alt, name: 'alt-net', cidr: '10.240.6.0/24', pool: ['10.240.6.2', '10.240.6.254'] });
  altPort = await insertPort(h.db, { projectId: alt, networkId: altNet.networkId, subnetId: altNet.subnetId, ip: '10.240.6.5', host: HOST });
});
afterAll(async () => { await h.close(); });

describe('a floating IP\'s life', () => {
  let id: string;

  it('when a member creates one on the external network, then it has the first free address of the pool, DOWN, unassociated', async () => {
    const res = await create('demo', { floatingip: { floating_network_id: ext.networkId, description: 'web' } });
    expect(res.status).toBe(201);
    expect(res.body.floatingip).toMatchObject({
      floating_ip_address: '172.31.240.10', floating_network_id: ext.networkId, port_id: null, fixed_ip_address: null, router_id: null,
      status: 'DOWN', description: 'web', project_id: await h.projectId('demo'), tenant_id: await h.projectId('demo'), port_details: null, tags: [],
    });
    expect(res.body.floatingip.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    id = res.body.floatingip.id;
  });

  it('then its project lists and shows it, filtered by address, and another project sees nothing of it', async () => {
    const list = await request(h.app).get(`${BASE}?floating_ip_address=172.31.240.10`).set(await as('demo'));
    expect(list.status).toBe(200);
    expect(list.body.floatingips.map((f: { id: string }) => f.id)).toEqual([id]);
    const fields = await request(h.app).get(`${BASE}/${id}?fields=id&fields=status`).set(await as('viewer'));
    expect(fields.body.floatingip).toEqual({ id, status: 'DOWN' });
    expect((await request(h.app).get(BASE).set(await as('alt'))).body.floatingips).toEqual([]);
    const other = await request(h.app).get(`${BASE}/${id}`).set(await as('alt'));
    expect(other.status).toBe(404);
    expect(other.body.NeutronError).toEqual({ type: 'FloatingIPNotFound', message: `Floating IP ${id} could not be found`, detail: '' });
  });

  it('when it is associated with a server\'s port, then it is ACTIVE with the fixed IP and the server\'s host forwards it', async () => {
    const res = await put(id, { floatingip: { port_id: demoPort } });
    expect(res.status).toBe(200);
    expect(res.body.floatingip).toMatchObject({ port_id: demoPort, fixed_ip_address: '10.240.5.5', status: 'ACTIVE' });
    expect(res.body.floatingip.port_details).toMatchObject({ network_id: priv.networkId, device_owner: 'compute:nova', status: 'ACTIVE' });
    expect(nat.of(HOST)).toEqual({ externalInterface: 'ndext0', ownedRanges: ['172.31.240.0/24'], forwards: [{ floatingIp: '172.31.240.10', fixedIp: '10.240.5.5' }], snat: [], routed: [] });
  });

  it('when another floating IP is associated with the same port, then 409 FloatingIPPortAlreadyAssociated and the first keeps it', async () => {
    const second = await create('demo', { floatingip: { floating_network_id: ext.networkId } });
    const res = await put(second.body.floatingip.id, { floatingip: { port_id: demoPort } });
    expect(res.status).toBe(409);
    expect(res.body.NeutronError.type).toBe('FloatingIPPortAlreadyAssociated');
    expect(res.body.NeutronError.message).toBe(`Cannot associate floating IP 172.31.240.11 (${second.body.floatingip.id}) with port ${demoPort} using fixed IP 10.240.5.5, as that fixed IP already has a floating IP on external network ${ext.networkId}.`);
    expect(nat.of(HOST).forwards).toEqual([{ floatingIp: '172.31.240.10', fixedIp: '10.240.5.5' }]);
    expect((await request(h.app).delete(`${BASE}/${second.body.floatingip.id}`).set(await as('demo'))).status).toBe(204);
  });

  it('when it is disassociated (port_id null), then it is DOWN and the host forwards nothing', async () => {
    const res = await put(id, { floatingip: { port_id: null } });
    expect(res.status).toBe(200);
    expect(res.body.floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, status: 'DOWN', port_details: null });
    expect(nat.of(HOST).forwards).toEqual([]);
  });

  it('when it is deleted while associated, then the forward goes at once and its address is free again', async () => {
    expect((await put(id, { floatingip: { port_id: demoPort, fixed_ip_address: '10.240.5.5' } })).status).toBe(200);
    expect(nat.of(HOST).forwards).toHaveLength(1);
    expect((await request(h.app).delete(`${BASE}/${id}`).set(await as('demo'))).status).toBe(204);
    expect(nat.of(HOST).forwards).toEqual([]);
    expect((await request(h.app).get(`${BASE}/${id}`).set(await as('demo'))).status).toBe(404);
    expect(await h.db('ports').where({ device_id: id })).toEqual([]);
    const again = await create('demo', { floatingip: { floating_network_id: ext.networkId, port_id: demoPort } });
    expect(again.status).toBe(201);
    expect(again.body.floatingip).toMatchObject({ floating_ip_address: '172.31.240.10', port_id: demoPort, status: 'ACTIVE' });
    expect((await request(h.app).delete(`${BASE}/${again.body.floatingip.id}`).set(await as('demo'))).status).toBe(204);
  });

  it('when the associated port is deleted, then the floating IP lets go of it and the forward goes (PortEvents)', async () => {
    const serverId = '0b7c1d6e-0000-4000-8000-00000000aaaa';
    const port = await insertPort(h.db, { projectId: await h.projectId('demo'), networkId: priv.networkId, subnetId: priv.subnetId, ip: '10.240.5.7', host: HOST, deviceId: serverId });
    const fip = (await create('demo', { floatingip: { floating_network_id: ext.networkId, port_id: port } })).body.floatingip;
    expect(nat.of(HOST).forwards).toEqual([{ floatingIp: fip.floating_ip_address, fixedIp: '10.240.5.7' }]);
    expect((await request(h.app).delete(`/networking/v2.0/ports/${port}`).set(await as('demo'))).status).toBe(204);
    expect(nat.of(HOST).forwards).toEqual([]);
    const after = await request(h.app).get(`${BASE}/${fip.id}`).set(await as('demo'));
    expect(after.body.floatingip).toMatchObject({ port_id: null, fixed_ip_address: null, status: 'DOWN' });
    await request(h.app).delete(`${BASE}/${fip.id}`).set(await as('demo'));
  });

  it('when an admin asks for an exact address, then it is given, and a second ask for it is a 409', async () => {
    const res = await create('admin', { floatingip: { floating_network_id: ext.networkId, floating_ip_address: '172.31.240.50' } });
    expect(res.status).toBe(201);
    expect(res.body.floatingip.floating_ip_address).toBe('172.31.240.50');
    const again = await create('admin', { floatingip: { floating_network_id: ext.networkId, floating_ip_address: '172.31.240.50' } });
    expect(again.status).toBe(409);
    expect(again.body.NeutronError.type).toBe('IpAddressAlreadyAllocated');
    const outside = await create('admin', { floatingip: { floating_network_id: ext.networkId, floating_ip_address: '10.9.9.9' } });
    expect(outside.status).toBe(400);
    expect(outside.body.NeutronError.type).toBe('InvalidIpForNetwork');
    expect((await request(h.app).delete(`${BASE}/${res.body.floatingip.id}`).set(await as('admin'))).status).toBe(204);
  });
});

describe('bad requests get Neutron\'s errors and change nothing', () => {
  const cases: [string, 'demo' | 'viewer', () => object, number, string, () => string | RegExp][] = [
    ['no floatingip key', 'demo', () => ({ floating_network_id: ext.networkId }), 400, 'HTTPBadRequest', () => "Unable to find 'floatingip' in request body"],
    ['no floating_network_id', 'demo', () => ({ floatingip: {} }), 400, 'HTTPBadRequest', () => "Failed to parse request. Required attribute 'floating_network_id' not specified"],
    ['an unknown attribute', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, colour: 'red' } }), 400, 'HTTPBadRequest', () => "Unrecognized attribute(s) 'colour'"],
    ['a read-only attribute', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, status: 'ACTIVE' } }), 400, 'HTTPBadRequest', () => "Attribute 'status' not allowed in POST"],
    ['a network id that is not a UUID', 'demo', () => ({ floatingip: { floating_network_id: 'public' } }), 400, 'HTTPBadRequest', () => "Invalid input for floating_network_id. Reason: 'public' is not a valid UUID."],
    ['an unknown network', 'demo', () => ({ floatingip: { floating_network_id: '6e6d5cf2-0000-4000-8000-000000000000' } }), 404, 'NetworkNotFound', () => 'Network 6e6d5cf2-0000-4000-8000-000000000000 could not be found.'],
    ['a network that is not external', 'demo', () => ({ floatingip: { floating_network_id: priv.networkId } }), 400, 'BadRequest', () => /^Bad floatingip request: Network .* is not a valid external network\.$/],
    ['an address asked by a member', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, floating_ip_address: '172.31.240.40' } }), 403, 'PolicyNotAuthorized', () => '(rule:create_floatingip:floating_ip_address) is disallowed by policy'],
    ['a bad address', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, floating_ip_address: '300.1.1.1' } }), 400, 'HTTPBadRequest', () => "Invalid input for floating_ip_address. Reason: '300.1.1.1' is not a valid IP address."],
    ['a fixed IP without a port', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, fixed_ip_address: '10.240.5.5' } }), 400, 'BadRequest', () => 'Bad floatingip request: fixed_ip_address cannot be specified without a port_id.'],
    ['a port without fixed IPs', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, port_id: bare } }), 400, 'BadRequest', () => `Bad floatingip request: Cannot add floating IP to port ${bare} that has no fixed IPv4 addresses.`],
    ['a fixed IP the port does not have', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, port_id: demoPort, fixed_ip_address: '10.240.5.99' } }), 400, 'BadRequest', () => `Bad floatingip request: Port ${demoPort} does not have fixed ip 10.240.5.99.`],
    ['another project\'s port', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, port_id: altPort } }), 404, 'PortNotFound', () => `Port ${altPort} could not be found.`],
    ['a router\'s port', 'demo', () => ({ floatingip: { floating_network_id: ext.networkId, port_id: routerPort } }), 400, 'BadRequest', () => `Bad floatingip request: Port ${routerPort} is unable to be assigned a floating IP.`],
    ['a reader', 'viewer', () => ({ floatingip: { floating_network_id: ext.networkId } }), 403, 'HTTPForbidden', () => /Policy doesn't allow/],
  ];
  it.each(cases)('%s', async (_what, account, body, status, type, expected) => {
    const message = expected();
    const before = await h.db('floating_ips').count<{ n: number }[]>({ n: '*' });
    const res = await create(account, body());
    expect(res.status).toBe(status);
    expect(res.body.NeutronError.type).toBe(type);
    if (typeof message === 'string') expect(res.body.NeutronError.message).toBe(message);
    else expect(res.body.NeutronError.message).toMatch(message);
    expect(await h.db('floating_ips').count<{ n: number }[]>({ n: '*' })).toEqual(before);
    expect(await h.db('ports').where({ device_owner: 'network:floatingip' })).toEqual([]);
  });

  it('when the pool is used up, then 400 ExternalIpAddressExhausted', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await create('demo', { floatingip: { floating_network_id: ext.networkId } })).body.floatingip.id);
    const res = await create('demo', { floatingip: { floating_network_id: ext.networkId } });
    expect(res.status).toBe(400);
    expect(res.body.NeutronError).toEqual({ type: 'ExternalIpAddressExhausted', message: `Unable to find any IP address on external network ${ext.networkId}.`, detail: '' });
    for (const id of made) await request(h.app).delete(`${BASE}/${id}`).set(await as('demo'));
  });

  it('when an update names a read-only attribute, then 400 and nothing changes', async () => {
    const fip = (await create('demo', { floatingip: { floating_network_id: ext.networkId } })).body.floatingip;
    const res = await put(fip.id, { floatingip: { floating_network_id: ext.networkId } });
    expect(res.status).toBe(400);
    expect(res.body.NeutronError.message).toBe('Cannot update read-only attribute floating_network_id');
    const missing = await put('6e6d5cf2-0000-4000-8000-000000000001', { floatingip: { port_id: null } });
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.type).toBe('FloatingIPNotFound');
    await request(h.app).delete(`${BASE}/${fip.id}`).set(await as('demo'));
  });
});
