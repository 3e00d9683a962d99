/**
 * /networking/v2.0/routers (issue 17) through HTTP, the hosts' NAT in memory: the user's path to
 * the external network (router create; set --external-gateway; add subnet) with Neutron's shapes,
 * the SNAT it puts on every host, a floating IP's router_id, the routes between the subnets one
 * router joins (by subnet or by port), and Neutron's errors.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeNat } from '../../src/virt/fake/nat';
import { insertNetwork, insertPort } from '../helpers/network-rows';

let h: TestApp;
const nat = new FakeNat();
let ext: { networkId: string; subnetId: string };
let priv: { networkId: string; subnetId: string };
const R = '/networking/v2.0/routers';
const HOST = 'fake-host';
const as = async (account: 'admin' | 'demo' | 'alt' | 'viewer') => ({ 'X-Auth-Token': await h.token(account) });

beforeAll(async () => {
  h = await makeTestApp({ nat, config: { externalInterface: 'ndext0' } });
  ext = await insertNetwork(h.db, { projectId: await h.projectId('admin'), name: 'public', external: true, cidr: '172.31.241.0/24', pool: ['172.31.241.10', '172.31.241.20'], gateway: '172.31.241.1' });
  priv = await insertNetwork(h.db, { projectId: await h.projectId('demo'), name: 'demo-net', cidr: '10.240.7.0/24', pool: ['10.240.7.2', '10.240.7.254'], gateway: '10.240.7.1' });
});
afterAll(async () => { await h.close(); });

describe('a router to the external network', () => {
  let id: string;

  it('when a member creates one, then it has no gateway and is ACTIVE (an empty gateway is none, as Tempest sends it)', async () => {
    const empty = await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'r0', external_gateway_info: {} } });
    expect(empty.status).toBe(201);
    expect(empty.body.router.external_gateway_info).toBeNull();
    expect((await request(h.app).delete(`${R}/${empty.body.router.id}`).set(await as('demo'))).status).toBe(204);
    const res = await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'r1' } });
    expect(res.status).toBe(201);
    expect(res.body.router).toMatchObject({ name: 'r1', status: 'ACTIVE', admin_state_up: true, external_gateway_info: null, project_id: await h.projectId('demo') });
    id = res.body.router.id;
    expect((await request(h.app).get(`${R}/${id}`).set(await as('alt'))).body.NeutronError.type).toBe('RouterNotFound');
  });

  it('when its gateway is set to the external network, then it has an address there with SNAT on', async () => {
    const res = await request(h.app).put(`${R}/${id}`).set(await as('demo')).send({ router: { external_gateway_info: { network_id: ext.networkId } } });
    expect(res.status).toBe(200);
    expect(res.body.router.external_gateway_info).toEqual({ network_id: ext.networkId, enable_snat: true, external_fixed_ips: [{ subnet_id: ext.subnetId, ip_address: '172.31.241.10' }] });
  });

  it('when a subnet is added, then the router holds its gateway address and every host SNATs the subnet to the router\'s address', async () => {
    const res = await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ subnet_id: priv.subnetId });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, subnet_id: priv.subnetId, subnet_ids: [priv.subnetId], network_id: priv.networkId });
    const port = await h.db('ports').where({ id: res.body.port_id }).first();
    expect(port).toMatchObject({ device_id: id, device_owner: 'network:router_interface' });
    expect(await h.db('ip_allocations').where({ port_id: res.body.port_id }).pluck('ip_address')).toEqual(['10.240.7.1']);
    expect(nat.of(HOST).snat).toEqual([{ cidr: '10.240.7.0/24', externalIp: '172.31.241.10', routerId: id }]);
    const again = await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ subnet_id: priv.subnetId });
    expect(again.status).toBe(400);
    expect(again.body.NeutronError.message).toBe(`Bad router request: Router already has a port on subnet ${priv.subnetId}.`);
  });

  it('then a floating IP on a port of that subnet names the router', async () => {
    const port = await insertPort(h.db, { projectId: await h.projectId('demo'), networkId: priv.networkId, subnetId: priv.subnetId, ip: '10.240.7.9', host: HOST });
    const res = await request(h.app).post('/networking/v2.0/floatingips').set(await as('demo')).send({ floatingip: { floating_network_id: ext.networkId, port_id: port } });
    expect(res.status).toBe(201);
    expect(res.body.floatingip).toMatchObject({ router_id: id, fixed_ip_address: '10.240.7.9', status: 'ACTIVE' });
    expect((await request(h.app).delete(`/networking/v2.0/floatingips/${res.body.floatingip.id}`).set(await as('demo'))).status).toBe(204);
  });

  it('when it still has a subnet, then it cannot be deleted (409 RouterInUse)', async () => {
    const res = await request(h.app).delete(`${R}/${id}`).set(await as('demo'));
    expect(res.status).toBe(409);
    expect(res.body.NeutronError).toEqual({ type: 'RouterInUse', message: `Router ${id} still has ports`, detail: '' });
  });

  it('when the subnet is removed, the gateway unset and the router deleted, then no SNAT, port or address of it is left', async () => {
    const missing = await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as('demo')).send({ subnet_id: ext.subnetId });
    expect(missing.status).toBe(404);
    expect(missing.body.NeutronError.type).toBe('RouterInterfaceNotFoundForSubnet');
    expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as('demo')).send({ subnet_id: priv.subnetId })).status).toBe(200);
    expect(nat.of(HOST).snat).toEqual([]);
    const unset = await request(h.app).put(`${R}/${id}`).set(await as('demo')).send({ router: { external_gateway_info: {} } });
    expect(unset.body.router.external_gateway_info).toBeNull();
    expect((await request(h.app).delete(`${R}/${id}`).set(await as('demo'))).status).toBe(204);
    expect(await h.db('ports').where({ device_id: id })).toEqual([]);
  });
});

describe('a router between two networks of a project', () => {
  let a: { networkId: string; subnetId: string };
  let b: { networkId: string; subnetId: string };
  let id: string;
  const routed = () => nat.of(HOST).routed.map((g) => [...g].sort());

  beforeAll(async () => {
    const demo = await h.projectId('demo');
    a = await insertNetwork(h.db, { projectId: demo, name: 'net-a', cidr: '10.250.10.0/24', pool: ['10.250.10.2', '10.250.10.254'], gateway: '10.250.10.1' });
    b = await insertNetwork(h.db, { projectId: demo, name: 'net-b', cidr: '10.250.11.0/24', pool: ['10.250.11.2', '10.250.11.254'], gateway: '10.250.11.1' });
    id = (await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'between' } })).body.router.id;
  });

  it('when one subnet is added, then nothing is routed; when the second is, then every host routes them to each other', async () => {
    expect((await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ subnet_id: a.subnetId })).status).toBe(200);
    expect(routed()).toEqual([]);
    expect((await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ subnet_id: b.subnetId })).status).toBe(200);
    expect(routed()).toEqual([['10.250.10.0/24', '10.250.11.0/24']]);
  });

  it('when the router is set administratively down, then the routes go, and come back when it is up', async () => {
    await request(h.app).put(`${R}/${id}`).set(await as('demo')).send({ router: { admin_state_up: false } });
    expect(routed()).toEqual([]);
    await request(h.app).put(`${R}/${id}`).set(await as('demo')).send({ router: { admin_state_up: true } });
    expect(routed()).toEqual([['10.250.10.0/24', '10.250.11.0/24']]);
  });

  it('when a subnet\'s interface is removed, then the routes go; added back by a free port of the subnet, they return', async () => {
    expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as('demo')).send({ subnet_id: b.subnetId })).status).toBe(200);
    expect(routed()).toEqual([]);
    const demo = await h.projectId('demo');
    const port = await insertPort(h.db, { projectId: demo, networkId: b.networkId, subnetId: b.subnetId, ip: '10.250.11.5', deviceId: '', deviceOwner: '' });
    const res = await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ port_id: port });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id, tenant_id: demo, project_id: demo, port_id: port, network_id: b.networkId, subnet_id: b.subnetId, subnet_ids: [b.subnetId] });
    expect(await h.db('ports').where({ id: port }).first()).toMatchObject({ device_id: id, device_owner: 'network:router_interface' });
    expect(routed()).toEqual([['10.250.10.0/24', '10.250.11.0/24']]);
    // The port is the router's now: taking it again is refused.
    const other = (await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'other' } })).body.router.id;
    const taken = await request(h.app).put(`${R}/${other}/add_router_interface`).set(await as('demo')).send({ port_id: port });
    expect(taken.status).toBe(409);
    expect(taken.body.NeutronError).toEqual({ type: 'PortInUse', message: `Unable to complete operation on port ${port} for network ${b.networkId}. Port already has an attached device ${id}.`, detail: '' });
    expect((await request(h.app).delete(`${R}/${other}`).set(await as('demo'))).status).toBe(204);
  });

  it('a subnet overlapping one of the router\'s: 400, nothing added', async () => {
    const c = await insertNetwork(h.db, { projectId: await h.projectId('demo'), name: 'net-c', cidr: '10.250.10.0/25', pool: ['10.250.10.2', '10.250.10.100'], gateway: '10.250.10.1' });
    const res = await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as('demo')).send({ subnet_id: c.subnetId });
    expect(res.status).toBe(400);
    expect(res.body.NeutronError.message).toBe(`Bad router request: Cidr 10.250.10.0/25 of subnet ${c.subnetId} overlaps with cidr 10.250.10.0/24 of subnet ${a.subnetId}.`);
    expect(routed()).toEqual([['10.250.10.0/24', '10.250.11.0/24']]);
  });

  it('when the port is removed from the router, then it goes with the routes, and the router can be deleted', async () => {
    const port = (await h.db('ports').where({ device_id: id, network_id: b.networkId }).first()).id;
    expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as('demo')).send({ port_id: port })).status).toBe(200);
    expect(routed()).toEqual([]);
    expect(await h.db('ports').where({ id: port })).toEqual([]);
    expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as('demo')).send({ subnet_id: a.subnetId })).status).toBe(200);
    expect((await request(h.app).delete(`${R}/${id}`).set(await as('demo'))).status).toBe(204);
  });

  it.each([
    ['both a subnet and a port', (p: string) => ({ subnet_id: a.subnetId, port_id: p }), 400, 'BadRequest', 'Bad router request: Cannot specify both subnet-id and port-id.'],
    ['a port of a server', (p: string) => ({ port_id: p }), 409, 'PortInUse', ''],
    ['a port without addresses', () => ({ port_id: 'noaddr' }), 400, 'BadRequest', 'Bad router request: Router port must have at least one fixed IP.'],
    ['an unknown port', () => ({ port_id: '6e6d5cf2-0000-4000-8000-00000000abcd' }), 404, 'PortNotFound', 'Port 6e6d5cf2-0000-4000-8000-00000000abcd could not be found.'],
  ])('adding %s: Neutron\'s error', async (_what, body, status, type, message) => {
    const demo = await h.projectId('demo');
    const r = (await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'bad' } })).body.router.id;
    const serverPort = await insertPort(h.db, { projectId: demo, networkId: a.networkId, subnetId: a.subnetId, ip: '10.250.10.7' });
    const noAddr = await insertPort(h.db, { projectId: demo, networkId: a.networkId, deviceId: '', deviceOwner: '' });
    const sent = body(serverPort);
    if (sent.port_id === 'noaddr') sent.port_id = noAddr;
    const res = await request(h.app).put(`${R}/${r}/add_router_interface`).set(await as('demo')).send(sent);
    expect(res.status).toBe(status);
    expect(res.body.NeutronError.type).toBe(type);
    if (message) expect(res.body.NeutronError.message).toBe(message);
    expect(await h.db('ports').where({ device_id: r })).toEqual([]);
    await h.db('ip_allocations').whereIn('port_id', [serverPort, noAddr]).delete();
    await h.db('ports').whereIn('id', [serverPort, noAddr]).delete();
    expect((await request(h.app).delete(`${R}/${r}`).set(await as('demo'))).status).toBe(204);
  });
});

describe('bad router requests get Neutron\'s errors', () => {
  it.each([
    ['an unknown attribute', { router: { name: 'x', routes: [] } }, 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'routes'"],
    ['a gateway network that is not a UUID', { router: { external_gateway_info: { network_id: 'public' } } }, 400, 'HTTPBadRequest', "Invalid input for external_gateway_info. Reason: 'public' is not a valid UUID."],
    ['enable_snat from a member', { router: { external_gateway_info: { network_id: '6e6d5cf2-0000-4000-8000-000000000000', enable_snat: false } } }, 403, 'PolicyNotAuthorized', '(rule:create_router:external_gateway_info:enable_snat) is disallowed by policy'],
    ['an unknown gateway network', { router: { external_gateway_info: { network_id: '6e6d5cf2-0000-4000-8000-000000000000' } } }, 404, 'NetworkNotFound', 'Network 6e6d5cf2-0000-4000-8000-000000000000 could not be found.'],
  ])('%s', async (_what, body, status, type, message) => {
    const before = (await h.db('routers')).length;
    const res = await request(h.app).post(R).set(await as('demo')).send(body);
    expect(res.status).toBe(status);
    expect(res.body.NeutronError).toEqual({ type, message, detail: '' });
    expect((await h.db('routers')).length).toBe(before);
  });

  it('a gateway on a network that is not external: 400, and the router is not made', async () => {
    const res = await request(h.app).post(R).set(await as('demo')).send({ router: { external_gateway_info: { network_id: priv.networkId } } });
    expect(res.status).toBe(400);
    expect(res.body.NeutronError.message).toBe(`Bad router request: Network ${priv.networkId} is not an external network.`);
  });

  it('an interface on a subnet without a gateway, or by port: 400', async () => {
    const r = (await request(h.app).post(R).set(await as('demo')).send({ router: { name: 'r2' } })).body.router;
    const noGw = await insertNetwork(h.db, { projectId: await h.projectId('demo'), name: 'nogw', cidr: '10.240.8.0/24', pool: ['10.240.8.2', '10.240.8.9'], gateway: null });
    const res = await request(h.app).put(`${R}/${r.id}/add_router_interface`).set(await as('demo')).send({ subnet_id: noGw.subnetId });
    expect(res.body.NeutronError.message).toBe('Bad router request: Subnet for router interface must have a gateway IP.');
    const bad = await request(h.app).put(`${R}/${r.id}/add_router_interface`).set(await as('demo')).send({ subnet: 'x' });
    expect(bad.status).toBe(400);
    expect(bad.body.NeutronError.message).toBe("Unrecognized attribute(s) 'subnet'");
    expect((await request(h.app).delete(`${R}/${r.id}`).set(await as('demo'))).status).toBe(204);
  });
});
