/**
 * A router's way out to the external network on hosts whose networks span hosts (issue 17), through
 * HTTP, the engine side recorded (RecordingRouterEngine) and the hosts' NAT in memory (FakeNat):
 * a router with an external gateway gets its container even for one subnet; each server on its
 * subnets is given the way out through the router's leg on its own subnet, except while it has a
 * floating IP (its own address is its source outside then); the router's SNAT and gateway address
 * are on its home host alone, routed to its exit there; on bridges every host holds the SNAT, as
 * before. The real engines are test/multihost/routers.test.ts.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { FakeNat } from '../../src/virt/fake/nat';
import { RecordingRouterEngine } from '../../src/virt/routers';
import { insertNetwork, insertPort } from '../helpers/network-rows';

let h: TestApp;
const engine = new RecordingRouterEngine();
const nat = new FakeNat();
const [HOME, OTHER] = ['xa', 'xb'];
const R = '/networking/v2.0/routers';
const FIP = '/networking/v2.0/floatingips';
const as = async (account: 'admin' | 'demo' = 'demo') => ({ 'X-Auth-Token': await h.token(account) });
const CIDR = '10.250.30.0/24';
let ext: { networkId: string; subnetId: string };
let net: { networkId: string; subnetId: string };
let id: string;
const servers: Record<string, { id: string; port: string }> = {};

const leg = () => engine.routers.get(HOME)?.get(id)?.[net.networkId];
const exitOf = (server: string) => engine.routes.get(servers[server].id)?.exitVia;

async function serverOn(name: string, last: number, host: string): Promise<void> {
  const port = await insertPort(h.db, { projectId: await h.projectId('demo'), networkId: net.networkId, subnetId: net.subnetId, ip: CIDR.replace('0/24', String(last)), host });
  servers[name] = { id: (await h.db('ports').where({ id: port }).first()).device_id, port };
}

beforeAll(async () => {
  h = await makeTestApp({ drivers: [new FakeDriver({ host: HOME }), new FakeDriver({ host: OTHER })], nat, routerEngine: engine, config: { externalInterface: 'ndext0' } });
  ext = await insertNetwork(h.db, { projectId: await h.projectId('admin'), name: 'public', external: true, cidr: '172.31.242.0/24', pool: ['172.31.242.10', '172.31.242.20'], gateway: '172.31.242.1' });
  net = await insertNetwork(h.db, { projectId: await h.projectId('demo'), name: 'net-x', cidr: CIDR, pool: ['10.250.30.2', '10.250.30.254'], gateway: '10.250.30.1' });
  await serverOn('s1', 5, HOME);
  await serverOn('s2', 6, OTHER);
  id = (await request(h.app).post(R).set(await as()).send({ router: { name: 'out', external_gateway_info: { network_id: ext.networkId } } })).body.router.id;
});
afterAll(async () => { await h.close(); });

test('on bridges every host SNATs the subnet to the router\'s gateway address, and no container is made', async () => {
  expect((await request(h.app).put(`${R}/${id}/add_router_interface`).set(await as()).send({ subnet_id: net.subnetId })).status).toBe(200);
  for (const host of [HOME, OTHER]) expect(nat.of(host).snat).toEqual([{ cidr: CIDR, externalIp: '172.31.242.10', routerId: id }]);
  expect(engine.routers.size).toBe(0);
  expect(engine.routes.size).toBe(0);
});

test('spanning hosts, one subnet is enough for a container; its servers leave through it; the home alone SNATs, to the exit', async () => {
  engine.spanning.add(HOME);
  engine.spanning.add(OTHER);
  await h.services.floatingIps.routing!.syncAll();
  await h.services.floatingIps.sync.idle();
  expect(leg()).toBeDefined();
  expect(engine.routers.get(OTHER)?.get(id)).toBeUndefined();
  for (const s of ['s1', 's2']) expect(engine.routes.get(servers[s].id)).toEqual({ host: s === 's1' ? HOME : OTHER, routes: [], exitVia: leg() });
  const exit = await engine.exitAddress(HOME, id);
  expect(exit).toMatch(/^198\.51\.100\./);
  expect(nat.of(HOME).snat).toEqual([{ cidr: CIDR, externalIp: '172.31.242.10', routerId: id, via: exit }]);
  expect(nat.of(OTHER).snat).toEqual([]);
});

test('a floating IP on a server: it leaves by its own host (its own address outside) until the floating IP goes', async () => {
  const fip = await request(h.app).post(FIP).set(await as()).send({ floatingip: { floating_network_id: ext.networkId, port_id: servers.s2.port } });
  expect(fip.status).toBe(201);
  expect(exitOf('s2')).toBeUndefined();
  expect(exitOf('s1')).toBe(leg());
  expect((await request(h.app).put(`${FIP}/${fip.body.floatingip.id}`).set(await as()).send({ floatingip: { port_id: null } })).status).toBe(200);
  expect(exitOf('s2')).toBe(leg());
  expect((await request(h.app).put(`${FIP}/${fip.body.floatingip.id}`).set(await as()).send({ floatingip: { port_id: servers.s2.port } })).status).toBe(200);
  expect(exitOf('s2')).toBeUndefined();
  expect((await request(h.app).delete(`${FIP}/${fip.body.floatingip.id}`).set(await as())).status).toBe(204);
  expect(exitOf('s2')).toBe(leg());
});

test('SNAT off, or the gateway cleared: no way out, no SNAT anywhere; then the interface and the router go with nothing left', async () => {
  expect((await request(h.app).put(`${R}/${id}`).set(await as('admin')).send({ router: { external_gateway_info: { network_id: ext.networkId, enable_snat: false } } })).status).toBe(200);
  for (const s of ['s1', 's2']) expect(engine.routes.get(servers[s].id)).toEqual({ host: s === 's1' ? HOME : OTHER, routes: [] });
  expect(engine.routers.get(HOME)?.get(id)).toBeUndefined(); // one subnet and no way out: nothing to route
  for (const host of [HOME, OTHER]) expect(nat.of(host).snat).toEqual([]);
  expect((await request(h.app).put(`${R}/${id}`).set(await as('admin')).send({ router: { external_gateway_info: { network_id: ext.networkId, enable_snat: true } } })).status).toBe(200);
  expect(exitOf('s1')).toBe(leg());
  expect((await request(h.app).put(`${R}/${id}`).set(await as()).send({ router: { external_gateway_info: {} } })).status).toBe(200);
  expect(exitOf('s1')).toBeUndefined();
  for (const host of [HOME, OTHER]) expect(nat.of(host).snat).toEqual([]);
  expect((await request(h.app).put(`${R}/${id}/remove_router_interface`).set(await as()).send({ subnet_id: net.subnetId })).status).toBe(200);
  expect((await request(h.app).delete(`${R}/${id}`).set(await as())).status).toBe(204);
  expect(engine.routers.get(HOME)?.size ?? 0).toBe(0);
});
