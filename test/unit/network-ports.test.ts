/**
 * The port service the compute side uses (src/network/ports.ts) and IP allocation, on an
 * in-memory database: ports made at boot, the user's port taken and let go, attach order, a
 * failure leaving nothing behind, concurrent allocation never handing out one address twice.
 */
import pino from 'pino';
import { openDb, migrate, Db } from '../../src/db/knex';
import { ProjectSubnetRepository } from '../../src/db/subnet-repo';
import { ServerRepository } from '../../src/db/server-repo';
import { SecurityGroupRepository } from '../../src/db/security-group-repo';
import { ProjectSubnets } from '../../src/compute/services/project-subnets';
import { buildNetworkCore, NetworkCore } from '../../src/network/build';
import type { RequestContext } from '../../src/http/context';
import { NeutronError } from '../../src/network/errors';

const ctx = (projectId: string): RequestContext => ({
  requestId: 'req-1', userId: 'u', userName: 'u', userDomainId: 'default', projectId, projectName: projectId, projectDomainId: 'default', roles: ['member'], isAdmin: false, auditId: 'a',
});

let db: Db;
let core: NetworkCore;
beforeEach(async () => {
  db = openDb(':memory:');
  await migrate(db);
  const projectSubnets = new ProjectSubnets({ repo: new ProjectSubnetRepository(db), servers: new ServerRepository(db, 'w1'), settings: { range: '10.210.128.0/17', prefix: 24 }, log: pino({ level: 'silent' }) });
  core = buildNetworkCore({ db, projectSubnets, projectRange: '10.210.128.0/17', projectHasServers: async () => false, projectExists: async () => true });
});
afterEach(async () => { await db.destroy(); });

async function network(projectId: string, cidr: string) {
  const net = await core.networks.create(ctx(projectId), { network: { name: `n-${cidr}` } });
  const sub = await core.subnets.create(ctx(projectId), { subnet: { network_id: net.id, ip_version: 4, cidr } });
  return { id: net.id as string, subnetId: sub.id as string };
}

test('auto: one port on the project default network, made for the server, in the default group', async () => {
  const ports = await core.serverPorts.allocate(ctx('p1'), 'srv-1', 'nova', 'auto', []);
  expect(ports).toHaveLength(1);
  const [p] = ports;
  expect(p.network).toMatchObject({ name: 'private', default_for: 'p1' });
  expect(p.port).toMatchObject({ device_id: 'srv-1', device_owner: 'compute:nova', auto_delete: true, status: 'DOWN', project_id: 'p1' });
  expect(p.fixed_ips).toEqual([{ subnet_id: expect.any(String), ip_address: '10.210.128.254' }]);
  const group = await new SecurityGroupRepository(db).ensureDefault('p1');
  expect(p.security_group_ids).toEqual([group.id]);
  expect(await core.serverPorts.allocate(ctx('p1'), 'srv-2', 'nova', 'none', [])).toEqual([]);
});

test('nics in attach order: a network with a fixed IP, then the user\'s port; bind, then release deletes ours and lets the user\'s go', async () => {
  const a = await network('p1', '10.210.1.0/24');
  const b = await network('p1', '10.210.2.0/24');
  const mine = await core.ports.create(ctx('p1'), { port: { network_id: b.id, name: 'mine' } });
  const got = await core.serverPorts.allocate(ctx('p1'), 'srv-1', 'az1', [{ networkId: a.id, fixedIp: '10.210.1.50' }, { portId: mine.id as string }], []);
  expect(got.map((p) => [p.network.id, p.fixed_ips[0].ip_address])).toEqual([[a.id, '10.210.1.50'], [b.id, '10.210.2.254']]);
  expect(got[1].port).toMatchObject({ id: mine.id, device_id: 'srv-1', device_owner: 'compute:az1', auto_delete: false });
  // someone else's server cannot take the bound port
  await expect(core.serverPorts.allocate(ctx('p1'), 'srv-2', 'az1', [{ portId: mine.id as string }], [])).rejects.toMatchObject({ type: 'PortInUse' });
  await core.serverPorts.bind('srv-1', 'host-a', 'ACTIVE');
  expect((await core.serverPorts.portsOf('srv-1')).map((p) => [p.port.host, p.port.status])).toEqual([['host-a', 'ACTIVE'], ['host-a', 'ACTIVE']]);
  let heard = '';
  core.events.on((id) => { heard = id; });
  await core.serverPorts.release('srv-1');
  expect(heard).toBe('srv-1');
  expect(await core.serverPorts.portsOf('srv-1')).toEqual([]);
  expect(await core.portRepo.get(got[0].port.id)).toBeUndefined();
  expect(await core.portRepo.allocatedIn(a.subnetId)).toEqual(new Set());
  expect(await core.portRepo.get(mine.id as string)).toMatchObject({ device_id: '', device_owner: '', host: '', status: 'DOWN' });
});

test('a failure part way leaves nothing: ports made are deleted, the user\'s port let go', async () => {
  const a = await network('p1', '10.210.3.0/24');
  const mine = await core.ports.create(ctx('p1'), { port: { network_id: a.id } });
  await core.ports.create(ctx('p1'), { port: { network_id: a.id, fixed_ips: [{ ip_address: '10.210.3.9' }] } });
  const err = await core.serverPorts.allocate(ctx('p1'), 'srv-1', 'nova', [{ portId: mine.id as string }, { networkId: a.id }, { networkId: a.id, fixedIp: '10.210.3.9' }], []).catch((e) => e);
  expect(err).toBeInstanceOf(NeutronError);
  expect(err.type).toBe('IpAddressAlreadyAllocated');
  expect(await core.serverPorts.portsOf('srv-1')).toEqual([]);
  expect((await core.portRepo.list({ networkId: a.id })).map((p) => p.device_id)).toEqual(['', '']);
});

test('a security group named at boot must be the project\'s; another project\'s network is not found', async () => {
  await expect(core.serverPorts.allocate(ctx('p1'), 'srv-1', 'nova', 'auto', ['web'])).rejects.toThrow('Security group web not found for project p1.');
  const theirs = await network('p2', '10.210.4.0/24');
  await expect(core.serverPorts.allocate(ctx('p1'), 'srv-1', 'nova', [{ networkId: theirs.id }], [])).rejects.toMatchObject({ type: 'NetworkNotFound' });
  expect(await core.portRepo.list({ deviceId: 'srv-1' })).toEqual([]);
});

test('concurrent allocations on one subnet never share an address, and the pool runs out with IpAddressGenerationFailure', async () => {
  const a = await network('p1', '10.210.5.0/28'); // .2–.14: 13 addresses
  const results = await Promise.allSettled(Array.from({ length: 16 }, () => core.ports.create(ctx('p1'), { port: { network_id: a.id } })));
  const ok = results.filter((r): r is PromiseFulfilledResult<Record<string, unknown>> => r.status === 'fulfilled');
  const ips = ok.map((r) => (r.value.fixed_ips as { ip_address: string }[])[0].ip_address);
  expect(ips).toHaveLength(13);
  expect(new Set(ips).size).toBe(13);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(failed.map((r) => r.reason.type)).toEqual(['IpAddressGenerationFailure', 'IpAddressGenerationFailure', 'IpAddressGenerationFailure']);
  expect(await core.portRepo.list({ networkId: a.id })).toHaveLength(13);
});
