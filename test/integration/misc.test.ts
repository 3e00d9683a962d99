/**
 * The compute periphery through HTTP on a real SQLite: limits, availability zones, the
 * os-networks / os-security-groups proxies OSC uses without a network service (contract §5.13),
 * and os-hypervisors from the engines' own info (cached; reads never call the engine).
 * Shapes are checked against tempest's strict schemas.
 */
import crypto from 'node:crypto';
import request from 'supertest';
import { makeTestApp, TestApp, Account, PUBLIC_URL } from '../helpers/app';
import { tempestProblems } from './tempest-schemas';
import { bootActive, show, uploadImage } from './servers-support';
import { ServerRepository, NewServer } from '../../src/db/server-repo';
import { FakeDriver } from '../../src/virt/fake/driver';
import { PRIVATE_NETWORK_ID } from '../../src/compute/networks';
import { DEFAULT_QUOTAS } from '../../src/config';
import type { FakeOp } from '../../src/virt/fake/driver';

let h: TestApp;
let live: FakeDriver;
let dead: FakeDriver;
const calls: FakeOp[] = [];

beforeAll(async () => {
  live = new FakeDriver({ host: 'engine-1', beforeCall: (op) => { calls.push(op); } });
  dead = new FakeDriver({ host: 'engine-2', unavailable: true });
  h = await makeTestApp({ drivers: [live, dead] });
});
afterAll(async () => { await h.close(); });

const headers = async (account: Account, version?: string) => {
  const hd: Record<string, string> = { 'X-Auth-Token': await h.token(account) };
  if (version) hd['OpenStack-API-Version'] = `compute ${version}`;
  return hd;
};
const get = async (path: string, account: Account = 'demo', version?: string) =>
  request(h.app).get(`/compute/v2.1${path}`).set(await headers(account, version));

/** Records a server row the way the compute service would (no engine involved). */
async function putServer(account: Account, flavor: { vcpus: number; ram: number; disk?: number }, host = 'engine-1') {
  const id = crypto.randomUUID();
  const server: NewServer = {
    id, name: `s-${id.slice(0, 8)}`, project_id: await h.projectId(account), user_id: await h.userId(account),
    image_id: null, flavor_id: 'x', flavor: { id: 'x', name: 'x', ram: flavor.ram, vcpus: flavor.vcpus, disk: flavor.disk ?? 0, ephemeral: 0, swap: 0, extra_specs: {} },
    vm_state: 'active', task_state: null, power_state: 1, host, availability_zone: 'nova', reservation_id: 'r-1', launch_index: 0,
    hostname: 'h', description: null, metadata: {}, addresses: {}, requested_networks: 'auto', access_ip_v4: '', access_ip_v6: '',
    key_name: null, key_data: null, user_data: null, config_drive: false, security_groups: ['default'], tags: [], locked: false,
    locked_by: null, locked_reason: null, progress: 0, fault: null, launched_at: null, terminated_at: null,
  };
  const r = await new ServerRepository(h.db).insertWithinQuota([server], 1, { instances: -1, cores: -1, ram: -1 });
  if (!r.ok) throw new Error('insert failed');
  return r.servers[0];
}

describe('GET /limits', () => {
  it('shows the configured quotas and the project\'s usage in the exact 2.1 shape', async () => {
    await putServer('demo', { vcpus: 2, ram: 1024 });
    await putServer('demo', { vcpus: 1, ram: 512 });
    await putServer('alt', { vcpus: 4, ram: 4096 });
    const res = await get('/limits');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/limits.get_limit', res)).toEqual([]);
    expect(res.body.limits.rate).toEqual([]);
    expect(res.body.limits.absolute).toMatchObject({
      maxTotalInstances: DEFAULT_QUOTAS.instances, maxTotalCores: DEFAULT_QUOTAS.cores, maxTotalRAMSize: DEFAULT_QUOTAS.ram,
      maxTotalKeypairs: DEFAULT_QUOTAS.key_pairs, maxServerMeta: DEFAULT_QUOTAS.metadata_items,
      totalInstancesUsed: 2, totalCoresUsed: 3, totalRAMUsed: 1536,
    });
    expect(Object.keys(res.body.limits.absolute)).toHaveLength(19);
  });

  it.each([
    ['2.36', 'v2_36/limits.get_limit', 14],
    ['2.39', 'v2_39/limits.get_limit', 13],
    ['2.57', 'v2_57/limits.get_limit', 11],
  ] as const)('drops the keys Nova dropped at %s', async (version, schema, count) => {
    const res = await get('/limits', 'demo', version);
    expect(tempestProblems(schema, res)).toEqual([]);
    expect(Object.keys(res.body.limits.absolute)).toHaveLength(count);
  });

  it('lets an admin read another project\'s usage with tenant_id, and forbids members (403)', async () => {
    const alt = await h.projectId('alt');
    const admin = await get(`/limits?tenant_id=${alt}`, 'admin');
    expect(admin.status).toBe(200);
    expect(admin.body.limits.absolute).toMatchObject({ totalInstancesUsed: 1, totalCoresUsed: 4, totalRAMUsed: 4096 });
    const member = await get(`/limits?tenant_id=${alt}`, 'demo');
    expect(member.status).toBe(403);
    expect(member.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:limits:other_project to be performed.");
  });
});

describe('availability zones', () => {
  it('lists the zone "nova" as available (tempest schema)', async () => {
    const res = await get('/os-availability-zone', 'viewer');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/availability_zone.list_availability_zone_list', res)).toEqual([]);
    expect(res.body).toEqual({ availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] });
  });

  it('details the hosts of the zone for admins, a down engine as not available, and forbids members', async () => {
    const res = await get('/os-availability-zone/detail', 'admin');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/availability_zone.list_availability_zone_list_detail', res)).toEqual([]);
    const hosts = res.body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'nova').hosts;
    expect(hosts['engine-1']['nova-compute']).toMatchObject({ available: true, active: true });
    expect(hosts['engine-2']['nova-compute']).toEqual({ available: false, active: true, updated_at: null });
    expect((await get('/os-availability-zone/detail', 'demo')).status).toBe(403);
  });
});

describe('os-networks (OSC `--network NAME` without a network service)', () => {
  it('lists the one pseudo network, labelled "private"', async () => {
    const res = await get('/os-networks');
    expect(res.status).toBe(200);
    expect(res.body.networks).toHaveLength(1);
    const [net] = res.body.networks;
    expect(net).toMatchObject({ id: PRIVATE_NETWORK_ID, label: 'private', cidr: null });
    // The fields tempest's tenant network schema knows are present with the right types.
    const { id, cidr, label } = net;
    expect(tempestProblems('v2_1/tenant_networks.param_network', { status: 200, body: { id, cidr, label } })).toEqual([]);
  });

  it('answers the lookup by name with 404 and by id with the network: OSC\'s find then succeeds', async () => {
    const byName = await get('/os-networks/private');
    expect(byName.status).toBe(404);
    expect(byName.body.itemNotFound.message).toBe('Network private could not be found.');
    const id = PRIVATE_NETWORK_ID;
    const byId = await get(`/os-networks/${id}`);
    expect(byId.status).toBe(200);
    expect(byId.body.network).toMatchObject({ id, label: 'private' });
  });

  it('shows every project the same "private" id, as nova-network did (Tempest resolves it as admin and boots tenants with it)', async () => {
    expect((await get('/os-networks', 'alt')).body.networks[0].id).toBe(PRIVATE_NETWORK_ID);
    expect((await get(`/os-networks/${PRIVATE_NETWORK_ID}`, 'alt')).status).toBe(200);
    expect((await get('/os-networks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('stays at every microversion (unlike Nova, which 404s from 2.36): Tempest resolves networks with its class microversion', async () => {
    expect((await get('/os-networks', 'demo', '2.36')).status).toBe(200);
    expect((await get('/os-networks', 'demo', '2.92')).body.networks[0].id).toBe(PRIVATE_NETWORK_ID);
    expect((await get('/os-networks', 'demo', '2.35')).status).toBe(200);
  });
});

describe('os-security-groups (OSC `--security-group NAME`)', () => {
  it('lists the default group of the project (tempest schema)', async () => {
    const res = await get('/os-security-groups');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/security_groups.list_security_groups', res)).toEqual([]);
    // issue 17: the real default group, with Neutron's two ingress rules in Nova's form (from its own members).
    const demo = await h.projectId('demo');
    expect(res.body.security_groups).toEqual([{
      id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: 'default', description: 'Default security group', tenant_id: demo,
      rules: [expect.objectContaining({ group: { name: 'default', tenant_id: demo }, ip_range: {} }), expect.objectContaining({ group: { name: 'default', tenant_id: demo }, ip_range: {} })],
    }]);
  });

  it('refuses a name with 400 (Nova) so OSC lists, and shows the group by its id', async () => {
    const byName = await get('/os-security-groups/default');
    expect(byName.status).toBe(400);
    expect(byName.body.badRequest.message).toBe('Security group id should be uuid');
    const { id } = (await get('/os-security-groups')).body.security_groups[0];
    const byId = await get(`/os-security-groups/${id}`);
    expect(byId.status).toBe(200);
    expect(tempestProblems('v2_1/security_groups.get_security_group', byId)).toEqual([]);
    const unknown = await get(`/os-security-groups/${crypto.randomUUID()}`);
    expect(unknown.status).toBe(404);
  });

  it('gives each project its own group id, stable across calls', async () => {
    const a = (await get('/os-security-groups')).body.security_groups[0].id;
    const b = (await get('/os-security-groups', 'alt')).body.security_groups[0].id;
    expect(a).not.toBe(b);
    expect((await get('/os-security-groups')).body.security_groups[0].id).toBe(a);
    expect((await get(`/os-security-groups/${b}`)).status).toBe(404);
  });

  it('is gone from 2.36', async () => {
    expect((await get('/os-security-groups', 'demo', '2.36')).status).toBe(404);
  });
});

describe('os-hypervisors (admin)', () => {
  it('forbids members and readers (403)', async () => {
    for (const account of ['demo', 'viewer'] as Account[]) {
      const res = await get('/os-hypervisors', account);
      expect(res.status).toBe(403);
      expect(res.body.forbidden.message).toBe("Policy doesn't allow os_compute_api:os-hypervisors:list to be performed.");
      expect((await get('/os-hypervisors/detail', account)).status).toBe(403);
      expect((await get('/os-hypervisors/statistics', account)).status).toBe(403);
      expect((await get('/os-hypervisors/1', account)).status).toBe(403);
    }
  });

  it('lists every configured engine, the one that does not answer as "down" (tempest 2.1 schema)', async () => {
    const res = await get('/os-hypervisors', 'admin');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/hypervisors.list_search_hypervisors', res)).toEqual([]);
    expect(res.body.hypervisors).toEqual([
      { id: 1, hypervisor_hostname: 'engine-1', state: 'up', status: 'enabled' },
      { id: 2, hypervisor_hostname: 'engine-2', state: 'down', status: 'enabled' },
    ]);
  });

  it('details the engines with what placement allocated there plus the reserve, as Nova counts them (tempest 2.1 schema)', async () => {
    const image = await uploadImage(h, { as: 'admin' });
    const booted = await bootActive(h, image, { name: 'counted', flavorRef: '2' }, { as: 'admin' });
    expect((await show(h, booted))['OS-EXT-SRV-ATTR:host']).toBe('engine-1');
    const res = await get('/os-hypervisors/detail', 'admin');
    expect(res.status).toBe(200);
    expect(tempestProblems('v2_1/hypervisors.list_hypervisors_detail', res)).toEqual([]);
    const one = res.body.hypervisors[0];
    const held = await h.db('allocations').where({ host: 'engine-1' });
    const ram = held.reduce((n: number, a: { memory_mb: number }) => n + Number(a.memory_mb), 0);
    const vcpus = held.reduce((n: number, a: { vcpus: number }) => n + Number(a.vcpus), 0);
    expect(ram).toBeGreaterThanOrEqual(2048);
    expect(one).toMatchObject({
      id: 1, hypervisor_hostname: 'engine-1', hypervisor_type: 'fake', hypervisor_version: 1000, host_ip: '127.0.0.1',
      vcpus: 8, memory_mb: 16384, vcpus_used: vcpus, memory_mb_used: ram + 512, free_ram_mb: 16384 - ram - 512,
      running_vms: held.length, current_workload: 0,
      service: { host: 'engine-1', id: 1, disabled_reason: null }, state: 'up', status: 'enabled',
    });
    expect(typeof one.cpu_info).toBe('string');
    expect(res.body.hypervisors[1]).toMatchObject({ id: 2, state: 'down', host_ip: null, vcpus: 0, vcpus_used: 0, memory_mb_used: 512, running_vms: 0 });
  });

  it('shows one engine and its statistics (tempest 2.1 schemas); unknown ids are 404', async () => {
    const one = await get('/os-hypervisors/1', 'admin');
    expect(one.status).toBe(200);
    expect(tempestProblems('v2_1/hypervisors.get_hypervisor', one)).toEqual([]);
    const stats = await get('/os-hypervisors/statistics', 'admin');
    expect(stats.status).toBe(200);
    expect(tempestProblems('v2_1/hypervisors.get_hypervisor_statistics', stats)).toEqual([]);
    expect(stats.body.hypervisor_statistics).toMatchObject({ count: 2, vcpus: 8, memory_mb: 16384 });
    const uptime = await get('/os-hypervisors/1/uptime', 'admin');
    expect(uptime.status).toBe(501);
    expect(uptime.body.notImplemented.message).toBe('Virt driver does not implement uptime function.');
    for (const id of ['3', 'abc']) {
      const res = await get(`/os-hypervisors/${id}`, 'admin');
      expect(res.status).toBe(404);
      expect(res.body.itemNotFound.message).toBe(`Hypervisor with ID ${id} could not be found.`);
    }
  });

  it('searches by hostname and lists an engine\'s servers below 2.53 (tempest schemas)', async () => {
    const search = await get('/os-hypervisors/engine-1/search', 'admin');
    expect(search.status).toBe(200);
    expect(tempestProblems('v2_1/hypervisors.list_search_hypervisors', search)).toEqual([]);
    expect(search.body.hypervisors.map((x: { id: number }) => x.id)).toEqual([1]);
    const servers = await get('/os-hypervisors/engine-1/servers', 'admin');
    expect(tempestProblems('v2_1/hypervisors.get_hypervisors_servers', servers)).toEqual([]);
    expect(servers.body.hypervisors[0].servers.length).toBeGreaterThan(0);
    expect((await get('/os-hypervisors/nomatch/search', 'admin')).status).toBe(404);
  });

  it('renders cpu_info as an object at 2.28, pages at 2.33, and uses UUIDs from 2.53', async () => {
    const r228 = await get('/os-hypervisors/detail', 'admin', '2.28');
    expect(tempestProblems('v2_28/hypervisors.list_hypervisors_detail', r228)).toEqual([]);
    expect(typeof r228.body.hypervisors[0].cpu_info).toBe('object');

    const r233 = await get('/os-hypervisors?limit=1', 'admin', '2.33');
    expect(tempestProblems('v2_33/hypervisors.list_search_hypervisors', r233)).toEqual([]);
    expect(r233.body.hypervisors).toHaveLength(1);
    expect(r233.body.hypervisors_links).toEqual([{ rel: 'next', href: `${PUBLIC_URL}/compute/v2.1/os-hypervisors?limit=1&marker=1` }]);

    const r253 = await get('/os-hypervisors/detail?with_servers=true', 'admin', '2.53');
    expect(tempestProblems('v2_53/hypervisors.list_hypervisors_detail', r253)).toEqual([]);
    const [first] = r253.body.hypervisors;
    expect(first.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.servers.length).toBeGreaterThan(0);
    const show = await get(`/os-hypervisors/${first.id}`, 'admin', '2.53');
    expect(show.status).toBe(200);
    expect(tempestProblems('v2_53/hypervisors.get_hypervisor', show)).toEqual([]);
    expect((await get('/os-hypervisors/1', 'admin', '2.53')).status).toBe(400);
    const pattern = await get('/os-hypervisors?hypervisor_hostname_pattern=engine-2', 'admin', '2.53');
    expect(pattern.body.hypervisors.map((x: { hypervisor_hostname: string }) => x.hypervisor_hostname)).toEqual(['engine-2']);
    expect((await get('/os-hypervisors?hypervisor_hostname_pattern=zzz', 'admin', '2.53')).status).toBe(404);
  });

  it('lists `servers: []` for an engine without servers from 2.75 when asked (no key below)', async () => {
    const at253 = await get('/os-hypervisors?with_servers=true', 'admin', '2.53');
    expect(at253.body.hypervisors[1]).toEqual({ id: expect.any(String), hypervisor_hostname: 'engine-2', state: 'down', status: 'enabled' });
    const at275 = await get('/os-hypervisors?with_servers=true', 'admin', '2.75');
    expect(at275.body.hypervisors[1].servers).toEqual([]);
    expect((await get('/os-hypervisors/detail?with_servers=true', 'admin', '2.75')).body.hypervisors[1].servers).toEqual([]);
    expect((await get('/os-hypervisors', 'admin', '2.75')).body.hypervisors[1].servers).toBeUndefined();
  });

  it('drops the resource figures and statistics at 2.88, showing uptime instead', async () => {
    const one = await get('/os-hypervisors/detail', 'admin', '2.88');
    expect(one.body.hypervisors[0].vcpus).toBeUndefined();
    expect(one.body.hypervisors[0].cpu_info).toBeUndefined();
    expect(one.body.hypervisors.map((x: { uptime: unknown }) => x.uptime)).toEqual([null, null]);
    const id = one.body.hypervisors[0].id;
    const show = await get(`/os-hypervisors/${id}`, 'admin', '2.88');
    expect(show.body.hypervisor).toHaveProperty('uptime', null);
    expect((await get('/os-hypervisors/statistics', 'admin', '2.88')).status).toBe(404);
    expect((await get(`/os-hypervisors/${id}/uptime`, 'admin', '2.88')).status).toBe(404);
    expect((await get('/os-hypervisors/engine-1/search', 'admin', '2.53')).status).toBe(404);
  });

  it('answers reads from the cache: no engine call per request; a background refresh marks a failing engine down, keeping its last figures', async () => {
    await get('/os-hypervisors', 'admin');
    const before = calls.filter((c) => c === 'hypervisorInfo').length;
    for (let i = 0; i < 5; i++) await get('/os-hypervisors/detail', 'admin');
    expect(calls.filter((c) => c === 'hypervisorInfo').length).toBe(before);

    live.setUnavailable(true);
    await h.services.compute.hosts.refresh();
    const res = await get('/os-hypervisors/detail', 'admin');
    expect(res.body.hypervisors[0]).toMatchObject({ state: 'down', vcpus: 8, memory_mb: 16384 });
    live.setUnavailable(false);
    await h.services.compute.hosts.refresh();
    expect((await get('/os-hypervisors', 'admin')).body.hypervisors[0].state).toBe('up');
  });
});
