/**
 * Routers on networks spanning hosts (issue 17) through HTTP, the engine side recorded
 * (RecordingRouterEngine): while the hosts' networks are bridges nothing but the hosts' routes is
 * made; once they span hosts, a router joining two subnets or more gets a container on one host with
 * a leg on each subnet's network, and every server with an address on one of them a route to the
 * others through the router's leg on its own: kept as interfaces, servers and the router's state change.
 * The real engines are test/multihost/routers.test.ts.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeNat } from '../../src/virt/fake/nat';
import { RecordingRouterEngine } from '../../src/virt/routers';
import { insertNetwork, insertPort } from '../helpers/network-rows';

let h: TestApp;
const engine = new RecordingRouterEngine();
const HOST = 'fake-host';
const R = '/networking/v2.0/routers';
const as = async () => ({ 'X-Auth-Token': await h.token('demo') });
const nets: Record<string, { networkId: string; subnetId: string }> = {};
const CIDRS = { a: '10.250.20.0/24', b: '10.250.21.0/24', c: '10.250.22.0/24' };
let id: string;
const servers: Record<string, string> = {};

const routerLegs = () => engine.routers.get(HOST)?.get(id);
const routesOf = (server: string) => engine.routes.get(servers[server])?.routes ?? [];
const addSubnet = async (net: keyof typeof CIDRS) => expect((await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as()).send({ subnet_id: nets[net].subnetId })).status).toBe(200);
const removeSubnet = async (net: keyof typeof CIDRS) => expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as()).send({ subnet_id: nets[net].subnetId })).status).toBe(200);

/** A server's ports changed (PortEvents); the routes follow off the emitter, counted in the compute services' idle(). */
async function portsChanged(serverId: string): Promise<void> {
  await h.services.portEvents.emit(serverId);
  await h.services.compute.tasks.idle();
}

/** A server's port with one address on `net`, bound to the host, as a booted server's. */
async function serverOn(name: string, net: keyof typeof CIDRS, last: number, host = HOST): Promise<void> {
  const port = await insertPort(h.db, { projectId: await h.projectId('demo'), networkId: nets[net].networkId, subnetId: nets[net].subnetId, ip: CIDRS[net].replace('0/24', String(last)), host });
  servers[name] = (await h.db('ports').where({ id: port }).first()).device_id;
}

beforeAll(async () => {
  h = await makeTestApp({ nat: new FakeNat(), routerEngine: engine });
  const demo = await h.projectId('demo');
  for (const [net, cidr] of Object.entries(CIDRS)) {
    const base = cidr.replace('.0/24', '');
    nets[net] = await insertNetwork(h.db, { projectId: demo, name: `net-${net}`, cidr, pool: [`${base}.2`, `${base}.254`], gateway: `${base}.1` });
  }
  await serverOn('a1', 'a', 5);
  await serverOn('b1', 'b', 5);
  await serverOn('x1', 'a', 6, 'bridged-host'); // a host whose networks are bridges: its host routes it
  id = (await request(h.app).post(R).set(await as()).send({ router: { name: 'across' } })).body.router.id;
});
afterAll(async () => { await h.close(); });

test('on bridges (no host in a swarm) a router joining two subnets makes no container and sets no route', async () => {
  await addSubnet('a');
  await addSubnet('b');
  expect(engine.routers.size).toBe(0);
  expect(engine.routes.size).toBe(0);
  await removeSubnet('b');
  await removeSubnet('a');
});

test('spanning hosts, one subnet is not routed; the second makes the router\'s container and both servers\' routes', async () => {
  engine.spanning.add(HOST);
  await addSubnet('a');
  expect(routerLegs()).toBeUndefined();
  await addSubnet('b');
  const legs = routerLegs()!;
  expect(Object.keys(legs).sort()).toEqual([nets.a.networkId, nets.b.networkId].sort());
  expect(routesOf('a1')).toEqual([{ cidr: CIDRS.b, via: legs[nets.a.networkId] }]);
  expect(routesOf('b1')).toEqual([{ cidr: CIDRS.a, via: legs[nets.b.networkId] }]);
  expect(engine.routes.has(servers.x1)).toBe(false);
  await portsChanged(servers.x1);
  expect(engine.routes.has(servers.x1)).toBe(false);
});

test('a server whose ports change (booted, moved) gets its routes from the port events', async () => {
  await serverOn('b2', 'b', 6);
  expect(engine.routes.has(servers.b2)).toBe(false);
  await portsChanged(servers.b2);
  expect(routesOf('b2')).toEqual([{ cidr: CIDRS.a, via: routerLegs()![nets.b.networkId] }]);
});

test('a subnet whose network is not made on the engines yet: routed to from the others; its leg comes with its first server', async () => {
  engine.missing.add(nets.c.networkId);
  await addSubnet('c');
  expect(Object.keys(routerLegs()!)).not.toContain(nets.c.networkId);
  expect(routesOf('a1').map((r) => r.cidr).sort()).toEqual([CIDRS.b, CIDRS.c]);
  engine.missing.delete(nets.c.networkId);
  await serverOn('c1', 'c', 5);
  await portsChanged(servers.c1);
  const legs = routerLegs()!;
  expect(legs[nets.c.networkId]).toBeDefined();
  expect(routesOf('c1')).toEqual([{ cidr: CIDRS.a, via: legs[nets.c.networkId] }, { cidr: CIDRS.b, via: legs[nets.c.networkId] }]);
});

test('administratively down: the container goes and every server\'s routes are emptied; up: all back', async () => {
  await request(h.app).put(`${R}/${id}`).set(await as()).send({ router: { admin_state_up: false } });
  expect(routerLegs()).toBeUndefined();
  for (const s of ['a1', 'b1', 'b2', 'c1']) expect(routesOf(s)).toEqual([]);
  await request(h.app).put(`${R}/${id}`).set(await as()).send({ router: { admin_state_up: true } });
  expect(routesOf('a1').map((r) => r.cidr).sort()).toEqual([CIDRS.b, CIDRS.c]);
});

test('a stopped server is told again at its next start; interfaces removed and the router deleted leave nothing', async () => {
  engine.stopped.add(servers.b2);
  await removeSubnet('c');
  expect(routesOf('a1')).toEqual([{ cidr: CIDRS.b, via: routerLegs()![nets.a.networkId] }]);
  expect(routesOf('c1')).toEqual([]);
  expect(routesOf('b2').map((r) => r.cidr)).toContain(CIDRS.c); // not running: not told
  engine.stopped.delete(servers.b2);
  await portsChanged(servers.b2);
  expect(routesOf('b2')).toEqual([{ cidr: CIDRS.a, via: routerLegs()![nets.b.networkId] }]);
  await removeSubnet('b');
  expect(routerLegs()).toBeUndefined();
  for (const s of ['a1', 'b1', 'b2']) expect(routesOf(s)).toEqual([]);
  await removeSubnet('a');
  expect((await request(h.app).delete(`${R}/${id}`).set(await as())).status).toBe(204);
  expect(engine.routers.get(HOST)?.size ?? 0).toBe(0);
});
