/**
 * The Compute and Image calls the OpenStack dashboard (Horizon, Zed) makes on its Overview,
 * Instances, instance detail, Key Pairs, Images and admin pages, at the microversions it asks
 * for (openstack_dashboard/api/{nova,_nova,glance}.py), each checked for what Horizon reads.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { bootActive, call } from './servers-support';
import { uploadImage } from './servers-support';

const C = '/compute/v2.1';
let t: TestApp;
let image: string;
let server: string;

beforeAll(async () => {
  t = await makeTestApp();
  image = await uploadImage(t, { extra: { visibility: 'public' }, as: 'admin' });
  server = await bootActive(t, image, { name: 'web' });
});
afterAll(async () => { await t.close(); });

describe('instance list and detail', () => {
  it('after a delete the list still loads with the deleted server as marker (Horizon pages with it)', async () => {
    const gone = await bootActive(t, image, { name: 'gone' });
    const newer = await bootActive(t, image, { name: 'newer' });
    expect((await call(t, 'delete', `${C}/servers/${gone}`)).status).toBe(204);
    await t.services.compute.tasks.idle();
    const page = await call(t, 'get', `${C}/servers/detail`, { query: { marker: gone, limit: '21' } });
    expect(page.status).toBe(200);
    // Newest first: only what was created before the marker follows it.
    expect(page.body.servers.map((s: { id: string }) => s.id)).toEqual([server]);
    expect(page.body.servers.map((s: { id: string }) => s.id)).not.toContain(newer);
    // Another project's server is still not a marker (nor its existence revealed).
    const alts = await bootActive(t, image, { name: 'alts' }, { as: 'alt' });
    expect((await call(t, 'get', `${C}/servers/detail`, { query: { marker: alts } })).body.badRequest.message).toBe(`marker [${alts}] not found`);
    expect((await call(t, 'delete', `${C}/servers/${newer}`)).status).toBe(204);
    expect((await call(t, 'delete', `${C}/servers/${alts}`, { as: 'alt' })).status).toBe(204);
    await t.services.compute.tasks.idle();
  });

  it('a server without volumes lists no volume attachments; an unknown server is 404', async () => {
    const res = await call(t, 'get', `${C}/servers/${server}/os-volume_attachments`);
    expect([res.status, res.body]).toEqual([200, { volumeAttachments: [] }]);
    const unknown = '6b1c6f1e-0000-4000-8000-000000000000';
    const missing = await call(t, 'get', `${C}/servers/${unknown}/os-volume_attachments`);
    expect([missing.status, missing.body]).toEqual([404, { itemNotFound: { code: 404, message: `Instance ${unknown} could not be found.` } }]);
    expect((await call(t, 'get', `${C}/servers/${server}/os-volume_attachments`, { as: 'alt' })).status).toBe(404);
    const vol = '0e7f7d3c-0000-4000-8000-000000000001';
    const one = await call(t, 'get', `${C}/servers/${server}/os-volume_attachments/${vol}`);
    expect([one.status, one.body.itemNotFound?.message]).toEqual([404, `Instance ${server} is not attached to volume ${vol}`]);
    expect((await call(t, 'get', `${C}/servers/${server}/os-volume_attachments`, { query: { limit: '-1' } })).status).toBe(400);
  });

  it('the action log lists the create (os-instance-actions)', async () => {
    const res = await call(t, 'get', `${C}/servers/${server}/os-instance-actions`, { mv: '2.58' });
    expect(res.status).toBe(200);
    expect(res.body.instanceActions.map((a: { action: string }) => a.action)).toContain('create');
  });
});

describe('Overview: usage, limits, quotas, zones', () => {
  const window = () => {
    const end = new Date(Date.now() + 3_600_000).toISOString().slice(0, 19);
    return { start: '2026-01-01T00:00:00', end };
  };
  it('usage for the project and for all projects at 2.40, as usage_get and usage_list ask', async () => {
    const one = await call(t, 'get', `${C}/os-simple-tenant-usage/${await t.projectId('demo')}`, { mv: '2.40', query: window() });
    expect(one.status).toBe(200);
    expect(one.body.tenant_usage).toMatchObject({ tenant_id: await t.projectId('demo'), total_hours: expect.any(Number), server_usages: expect.any(Array) });
    const all = await call(t, 'get', `${C}/os-simple-tenant-usage`, { as: 'admin', mv: '2.40', query: { ...window(), detailed: '1' } });
    expect(all.status).toBe(200);
    expect(all.body.tenant_usages.map((u: { tenant_id: string }) => u.tenant_id)).toContain(await t.projectId('demo'));
  });

  it('absolute limits, quota sets and their defaults, and zones (detail for admins)', async () => {
    const limits = await call(t, 'get', `${C}/limits`);
    expect(limits.body.limits.absolute).toMatchObject({ maxTotalInstances: expect.any(Number), totalInstancesUsed: expect.any(Number), totalCoresUsed: expect.any(Number), totalRAMUsed: expect.any(Number) });
    const demo = await t.projectId('demo');
    expect((await call(t, 'get', `${C}/os-quota-sets/${demo}`)).body.quota_set).toMatchObject({ id: demo, instances: expect.any(Number), key_pairs: expect.any(Number) });
    expect((await call(t, 'get', `${C}/os-quota-sets/${demo}/defaults`)).body.quota_set).toMatchObject({ id: demo, cores: expect.any(Number) });
    const zones = await call(t, 'get', `${C}/os-availability-zone`);
    expect(zones.body.availabilityZoneInfo).toEqual([{ zoneName: 'nova', zoneState: { available: true }, hosts: null }]);
    const detail = await call(t, 'get', `${C}/os-availability-zone/detail`, { as: 'admin' });
    expect(detail.body.availabilityZoneInfo.find((z: { zoneName: string }) => z.zoneName === 'nova').hosts).toEqual(expect.any(Object));
    expect((await call(t, 'get', `${C}/os-availability-zone/detail`)).status).toBe(403);
  });
});

describe('Key Pairs', () => {
  it('create (2.2, key_type ssh) returns the private key; import takes the public one', async () => {
    const made = await call(t, 'post', `${C}/os-keypairs`, { mv: '2.2', body: { keypair: { name: 'hz-made', type: 'ssh' } } });
    expect(made.status).toBe(201);
    expect(made.body.keypair).toMatchObject({ name: 'hz-made', type: 'ssh', private_key: expect.stringContaining('PRIVATE KEY'), fingerprint: expect.any(String) });
    const imported = await call(t, 'post', `${C}/os-keypairs`, { mv: '2.2', body: { keypair: { name: 'hz-imported', type: 'ssh', public_key: made.body.keypair.public_key } } });
    expect(imported.status).toBe(201);
    expect(imported.body.keypair.private_key).toBeUndefined();
    const list = await call(t, 'get', `${C}/os-keypairs`, { mv: '2.2' });
    expect(list.body.keypairs.map((k: { keypair: { name: string } }) => k.keypair.name)).toEqual(expect.arrayContaining(['hz-made', 'hz-imported']));
  });
});

describe('admin: Flavors, Hypervisors, services', () => {
  it('flavor create, private access, extra specs and delete, as the Flavors panel does them', async () => {
    const made = await call(t, 'post', `${C}/flavors`, { as: 'admin', body: { flavor: { name: 'hz.tiny', ram: 256, vcpus: 1, disk: 1, id: null, 'os-flavor-access:is_public': false, swap: 0, 'OS-FLV-EXT-DATA:ephemeral': 0, rxtx_factor: 1 } } });
    expect(made.status).toBe(200);
    const id = made.body.flavor.id as string;
    expect((await call(t, 'get', `${C}/flavors/${id}/os-flavor-access`, { as: 'admin' })).body.flavor_access).toEqual([]);
    // Horizon's Flavor Access step: addTenantAccess per chosen project.
    const demo = await t.projectId('demo');
    const added = await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { addTenantAccess: { tenant: demo } } });
    expect([added.status, added.body]).toEqual([200, { flavor_access: [{ flavor_id: id, tenant_id: demo }] }]);
    expect((await call(t, 'get', `${C}/flavors/${id}/os-flavor-access`, { as: 'admin' })).body.flavor_access).toEqual([{ flavor_id: id, tenant_id: demo }]);
    expect((await call(t, 'post', `${C}/flavors/${id}/os-extra_specs`, { as: 'admin', body: { extra_specs: { 'hw:cpu_policy': 'shared' } } })).status).toBe(200);
    expect((await call(t, 'get', `${C}/flavors/${id}/os-extra_specs`, { as: 'admin' })).body.extra_specs).toEqual({ 'hw:cpu_policy': 'shared' });
    expect((await call(t, 'get', `${C}/flavors/detail`, { as: 'admin', query: { is_public: 'None' } })).body.flavors.map((f: { name: string }) => f.name)).toContain('hz.tiny');
    expect((await call(t, 'delete', `${C}/flavors/${id}`, { as: 'admin' })).status).toBe(202);
    expect((await call(t, 'get', `${C}/flavors/${id}`, { as: 'admin' })).status).toBe(404);
  });

  it('os-services lists the compute host and the control services; hypervisors carry usage figures', async () => {
    const services = await call(t, 'get', `${C}/os-services`, { as: 'admin' });
    expect(services.status).toBe(200);
    const binaries = services.body.services.map((s: { binary: string }) => s.binary);
    expect(binaries).toContain('nova-compute');
    for (const s of services.body.services) expect(s).toMatchObject({ id: expect.anything(), host: expect.any(String), zone: expect.any(String), status: expect.stringMatching(/^(enabled|disabled)$/), state: expect.stringMatching(/^(up|down)$/) });
    expect((await call(t, 'get', `${C}/os-services`)).status).toBe(403);
    const hv = await call(t, 'get', `${C}/os-hypervisors/detail`, { as: 'admin' });
    expect(hv.body.hypervisors[0]).toMatchObject({ hypervisor_hostname: expect.any(String), vcpus_used: expect.any(Number), memory_mb_used: expect.any(Number), running_vms: expect.any(Number) });
    expect((await call(t, 'get', `${C}/os-hypervisors/statistics`, { as: 'admin' })).body.hypervisor_statistics).toMatchObject({ count: expect.any(Number) });
  });
});

describe('flavor access (addTenantAccess/removeTenantAccess)', () => {
  it('a private flavor given to a project is listed and shown to it, not to others; grants answer Nova\'s errors', async () => {
    const made = await call(t, 'post', `${C}/flavors`, { as: 'admin', body: { flavor: { name: 'hz.private', ram: 128, vcpus: 1, disk: 0, 'os-flavor-access:is_public': false } } });
    const id = made.body.flavor.id as string;
    const demo = await t.projectId('demo');
    const names = async (as: 'demo' | 'alt') => (await call(t, 'get', `${C}/flavors/detail`, { as })).body.flavors.map((f: { id: string }) => f.id);
    expect(await names('demo')).not.toContain(id);
    expect((await call(t, 'get', `${C}/flavors/${id}`)).status).toBe(404);

    expect((await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'demo', body: { addTenantAccess: { tenant: demo } } })).status).toBe(403);
    expect((await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { addTenantAccess: { tenant: demo } } })).status).toBe(200);
    expect(await names('demo')).toContain(id);
    expect(await names('alt')).not.toContain(id);
    expect((await call(t, 'get', `${C}/flavors/${id}`)).body.flavor.name).toBe('hz.private');
    expect((await call(t, 'get', `${C}/flavors/${id}`, { as: 'alt' })).status).toBe(404);

    const again = await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { addTenantAccess: { tenant: demo } } });
    expect([again.status, again.body.conflictingRequest?.message]).toEqual([409, `Flavor access already exists for flavor ${id} and project ${demo} combination.`]);
    const pub = await call(t, 'post', `${C}/flavors/1/action`, { as: 'admin', body: { addTenantAccess: { tenant: demo } } });
    expect([pub.status, pub.body.conflictingRequest?.message]).toEqual([409, 'Can not add access to a public flavor.']);
    expect((await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { addTenantAccess: {} } })).status).toBe(400);
    expect((await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { bogus: {} } })).body.badRequest.message).toBe('There is no such action: bogus');

    const removed = await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { removeTenantAccess: { tenant: demo } } });
    expect([removed.status, removed.body]).toEqual([200, { flavor_access: [] }]);
    expect(await names('demo')).not.toContain(id);
    const gone = await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { removeTenantAccess: { tenant: demo } } });
    expect([gone.status, gone.body.itemNotFound?.message]).toEqual([404, `Flavor access not found for ${id} / ${demo} combination.`]);

    // A deleted flavor takes its grants along: a new flavor with the same id starts with none.
    expect((await call(t, 'post', `${C}/flavors/${id}/action`, { as: 'admin', body: { addTenantAccess: { tenant: demo } } })).status).toBe(200);
    expect((await call(t, 'delete', `${C}/flavors/${id}`, { as: 'admin' })).status).toBe(202);
    expect((await t.db('flavor_projects').where({ flavor_id: id })).length).toBe(0);
  });
});

describe('Images: metadata definitions', () => {
  const get = async (path: string) => request(t.app).get(`/image/v2${path}`).set('X-Auth-Token', await t.token('demo'));
  it('namespaces filtered by resource type, and resource types, are empty as in a Glance with none loaded', async () => {
    const ns = await get('/metadefs/namespaces?resource_types=OS%3A%3AGlance%3A%3AImage');
    expect([ns.status, ns.body.namespaces]).toEqual([200, []]);
    expect((await get('/metadefs/resource_types')).body).toEqual({ resource_types: [] });
    const one = await request(t.app).get('/image/v2/metadefs/namespaces/OS::Compute::Quota').set('X-Auth-Token', await t.token('demo')).set('Accept', 'application/json');
    expect([one.status, one.body.message]).toEqual([404, 'Metadata definition namespace=OS::Compute::Quota was not found.']);
    expect((await request(t.app).get('/image/v2/metadefs/resource_types')).status).toBe(401);
  });
});
