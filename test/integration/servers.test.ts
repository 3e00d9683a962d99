/**
 * /servers through HTTP at microversion 2.1 (no header, as tempest and OSC send): create, show,
 * list with filters and paging, update, delete — each response checked against tempest's strict
 * schema, and the new state (database and fake engine) checked too.
 */
import { makeTestApp, TestApp } from '../helpers/app';
import { FakeDriver } from '../../src/virt/fake/driver';
import { PRIVATE_NETWORK_ID } from '../../src/compute/networks';
import { call, uploadImage, boot, bootActive, show, act, tempestViolations } from './servers-support';

let t: TestApp;
let driver: FakeDriver;
let image: string;
const URL = 'http://127.0.0.1:8080';

beforeAll(async () => {
  t = await makeTestApp();
  // The service reads the configured quotas live: room for every test of this file.
  Object.assign(t.services.config.seed.quotas, { instances: 100, cores: 100, ram: 100 * 2048 });
  driver = t.driver as FakeDriver;
  image = await uploadImage(t, { name: 'busybox' });
});
afterAll(async () => {
  await t.close();
});

describe('POST /servers', () => {
  test('a boot answers 202 with exactly the 2.1 create body and a Location, and the server is readable at once in BUILD', async () => {
    // Hold the spawn until the server has been read in BUILD.
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const held = new FakeDriver({ host: 'fake-host', beforeCall: (op) => (op === 'spawn' ? gate : undefined) });
    const g = await makeTestApp({ driver: held });
    try {
      const img = await uploadImage(g);
      const res = await boot(g, img, { name: 'fresh', adminPass: 'Secret123' });
      expect(res.status).toBe(202);
      const now = await show(g, res.body.server.id, { as: 'demo' });
      expect(now.status).toBe('BUILD');
      expect(now['OS-EXT-STS:vm_state']).toBe('building');
      expect(['scheduling', 'block_device_mapping', 'spawning']).toContain(now['OS-EXT-STS:task_state']);
      expect(now['OS-EXT-STS:power_state']).toBe(0);
      expect(now.addresses).toEqual({});
      expect(now.progress).toBe(0);
      expect(tempestViolations('v2_1/servers.get_server', { status: 200, body: { server: now } })).toEqual([]);
      release();
      await g.services.compute.tasks.idle();
      expect((await show(g, res.body.server.id)).status).toBe('ACTIVE');
    } finally {
      release();
      await g.close();
    }
  });

  test('a boot answers the create body, and the build ends ACTIVE with an address on the engine', async () => {
    const res = await boot(t, image, { name: 'fresh', adminPass: 'Secret123' });
    expect(res.status).toBe(202);
    expect(tempestViolations('v2_1/servers.create_server_with_admin_pass', res)).toEqual([]);
    expect(Object.keys(res.body.server).sort()).toEqual(['OS-DCF:diskConfig', 'adminPass', 'id', 'links', 'security_groups']);
    expect(res.body.server.adminPass).toBe('Secret123');
    expect(res.headers.location).toBe(`${URL}/compute/v2.1/servers/${res.body.server.id}`);
    expect(res.headers['x-compute-request-id']).toBe(res.headers['x-openstack-request-id']);

    await t.services.compute.tasks.idle();
    const done = await show(t, res.body.server.id, { as: 'demo' });
    expect(done.status).toBe('ACTIVE');
    expect(done['OS-EXT-STS:task_state']).toBeNull();
    expect(done['OS-EXT-STS:power_state']).toBe(1);
    expect(done.addresses.private[0].addr).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(done['OS-SRV-USG:launched_at']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(done.hostId).toMatch(/^[0-9a-f]{56}$/);
    // The engine runs it with the flavor's limits.
    const spec = driver.specOf(res.body.server.id)!;
    expect(spec.memoryMb).toBe(512);
    expect(spec.vcpus).toBe(1);
    expect(spec.hostname).toBe('fresh');
  });

  test('without adminPass one is generated', async () => {
    const res = await boot(t, image, { name: 'genpass' });
    expect(res.status).toBe(202);
    expect(res.body.server.adminPass).toMatch(/^[A-Za-z0-9]{12}$/);
    await t.services.compute.tasks.idle();
  });

  test('metadata become the environment, the image command property the command, user_data and the key pair are written', async () => {
    const cmdImage = await uploadImage(t, { name: 'cmd', extra: { os_command_line: "/bin/sh -c 'echo hi; sleep 100' && x" } });
    const key = await call(t, 'post', '/compute/v2.1/os-keypairs', { body: { keypair: { name: 'k1', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVnMbKrs9VbzK3LDzZuz1NS0c8vfa7zDkIz5Lw9AqhW test@x' } } });
    expect(key.status).toBe(200);
    const id = await bootActive(t, cmdImage, {
      name: 'env me', metadata: { owner: 'alice', 'tier.x': 'web' }, user_data: Buffer.from('#!/bin/sh\necho boot\n').toString('base64'), key_name: 'k1',
    });
    const spec = driver.specOf(id)!;
    expect(spec.env).toEqual({ owner: 'alice', 'tier.x': 'web' });
    expect(spec.command).toEqual(['/bin/sh', '-c', 'echo hi; sleep 100', '&&', 'x']);
    expect(spec.hostname).toBe('env-me');
    expect(driver.readFile(id, '/var/lib/cloud/user-data')).toBe('#!/bin/sh\necho boot\n');
    expect(driver.readFile(id, '/root/.ssh/authorized_keys')).toContain('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVnMbKrs9VbzK3LDzZuz1NS0c8vfa7zDkIz5Lw9AqhW');
    const s = await show(t, id);
    expect(s.key_name).toBe('k1');
    expect(s.metadata).toEqual({ owner: 'alice', 'tier.x': 'web' });
  });

  test('networks "none" (2.37) boots without a network and without addresses', async () => {
    const id = await bootActive(t, image, { name: 'nonet', networks: 'none' }, { mv: '2.37' });
    expect(driver.specOf(id)!.network).toBeNull();
    expect((await show(t, id)).addresses).toEqual({});
  });

  test("networks as a list naming the private network boots on the project's own network; another id is a 400", async () => {
    const demo = await t.projectId('demo');
    const id = await bootActive(t, image, { name: 'withnet', networks: [{ uuid: PRIVATE_NETWORK_ID }] });
    // Its one port is on the project's default network, the project's own subnet.
    expect(driver.specOf(id)!.projectId).toBe(demo);
    expect(driver.specOf(id)!.nics).toEqual([expect.objectContaining({ projectDefault: true, label: 'private', subnet: expect.stringMatching(/^10\.(16\d|17[0-5])\.\d+\.0\/24$/) })]);
    const bad = await boot(t, image, { name: 'badnet', networks: [{ uuid: '00000000-0000-4000-8000-000000000000' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toMatch(/^Network .* could not be found\.$/);
  });

  test('at 2.37 networks is required; "auto" works', async () => {
    const missing = await boot(t, image, { name: 'nonets' }, { mv: '2.37' });
    expect(missing.status).toBe(400);
    expect(missing.body.badRequest.message).toContain("'networks' is a required property");
    const auto = await boot(t, image, { name: 'autonet', networks: 'auto' }, { mv: '2.37' });
    expect(auto.status).toBe(202);
    await t.services.compute.tasks.idle();
  });

  test.each([
    ['an unknown image', () => ({ imageRef: '7b8e4c1e-0000-4000-8000-000000000000' }), 'Can not find requested image'],
    ['a non-UUID image', () => ({ imageRef: '-1' }), 'Can not find requested image'],
    ['an unknown flavor', () => ({ flavorRef: '99' }), 'Flavor 99 could not be found.'],
    ['a flavor URL of an unknown flavor', () => ({ flavorRef: `${URL}/compute/v2.1/flavors/77` }), 'Flavor 77 could not be found.'],
    ['an unknown key pair', () => ({ key_name: 'nokey' }), 'Invalid key_name provided.'],
    ['an unknown availability zone', () => ({ availability_zone: 'mars' }), 'The requested availability zone is not available'],
    ['min_count above max_count', () => ({ min_count: 3, max_count: 2 }), 'min_count must be <= max_count'],
    ['user_data that is not base64', () => ({ user_data: 'not base64!' }), "is not a 'base64'"],
    ['a bad accessIPv4', () => ({ accessIPv4: '1.1.1.1.1' }), 'accessIPv4'],
    ['a name of spaces', () => ({ name: '   ' }), 'name'],
    ['a numeric name', () => ({ name: 12345 }), "is not of type 'string'"],
    ['a 256-character name', () => ({ name: 'x'.repeat(256) }), 'name'],
    ['an unknown key', () => ({ colour: 'blue' }), "'colour' was unexpected"],
    ['an unknown security group', () => ({ security_groups: [{ name: 'web' }] }), 'Security group web not found'],
    ['metadata values over 255 characters', () => ({ metadata: { a: 'x'.repeat(256) } }), 'metadata'],
  ])('%s is a 400 naming the problem, and creates nothing', async (_what, extra, message) => {
    const before = (await call(t, 'get', '/compute/v2.1/servers')).body.servers.length;
    const res = await boot(t, image, extra());
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain(message);
    expect((await call(t, 'get', '/compute/v2.1/servers')).body.servers.length).toBe(before);
  });

  test('an image that is not active, not docker, or needs more RAM than the flavor is refused with 400', async () => {
    const token = await t.token('demo');
    const request = (await import('supertest')).default;
    const queued = await request(t.app).post('/image/v2/images').set('X-Auth-Token', token).send({ name: 'empty', container_format: 'docker', disk_format: 'raw' });
    const r1 = await boot(t, queued.body.id);
    expect(r1.status).toBe(400);
    expect(r1.body.badRequest.message).toBe(`Image ${queued.body.id} is not active.`);

    const bare = await uploadImage(t, { name: 'bare', containerFormat: 'bare' });
    const r2 = await boot(t, bare);
    expect(r2.status).toBe(400);
    expect(r2.body.badRequest.message).toContain("container_format 'docker'");

    const big = await uploadImage(t, { name: 'big', extra: { min_ram: 1024 } });
    const r3 = await boot(t, big, { flavorRef: '1' });
    expect(r3.status).toBe(400);
    expect(r3.body.badRequest.message).toBe("Flavor's memory is too small for requested image.");
    const ok = await boot(t, big, { flavorRef: '2', name: 'bigger' });
    expect(ok.status).toBe(202);
    await t.services.compute.tasks.idle();
  });

  test("another project's private image is not found", async () => {
    const altImage = await uploadImage(t, { as: 'alt', name: 'alt-private', extra: { visibility: 'private' } });
    const res = await boot(t, altImage);
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe('Can not find requested image');
  });

  test('a spawn that fails leaves the server ERROR with a fault saying why, never BUILD', async () => {
    const failing = await makeTestApp({ driver: new FakeDriver({ host: 'fake-host', failSpawn: () => 'The image process exited at once (exit code 1).' }) });
    try {
      const img = await uploadImage(failing);
      const id = await bootActive(failing, img, { name: 'doomed' });
      const s = await show(failing, id);
      expect(s.status).toBe('ERROR');
      expect(s['OS-EXT-STS:power_state']).toBe(0);
      expect(s.fault).toEqual({ code: 500, message: 'The image process exited at once (exit code 1).', created: expect.stringMatching(/Z$/) });
      expect(s).not.toHaveProperty('progress');
      expect(tempestViolations('v2_1/servers.get_server', { status: 200, body: { server: s } })).toEqual([]);
      const actions = await call(failing, 'get', `/compute/v2.1/servers/${id}/os-instance-actions/${(await call(failing, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`)).body.instanceActions[0].request_id}`, { as: 'admin' });
      expect(actions.body.instanceAction.events[0]).toMatchObject({ event: 'compute__do_build_and_run_instance', result: 'Error' });
    } finally {
      await failing.close();
    }
  });

  test('an engine known to be down takes no boot: 202, then ERROR with Nova\'s "No valid host" fault (Nova answers so; this was a 503 before the scheduler)', async () => {
    const down = new FakeDriver({ host: 'fake-host' });
    const t2 = await makeTestApp({ driver: down });
    try {
      const img = await uploadImage(t2);
      down.setUnavailable(true);
      await t2.services.compute.hosts.refresh(); // as the reconciler notices
      const res = await boot(t2, img);
      expect(res.status).toBe(202);
      await t2.services.compute.tasks.idle();
      const s = await show(t2, res.body.server.id);
      expect([s.status, s['OS-EXT-SRV-ATTR:host'], s['OS-EXT-STS:task_state']]).toEqual(['ERROR', null, null]);
      expect(s.fault).toMatchObject({ code: 500, message: 'No valid host was found. There are not enough hosts available.' });
      expect(down.specOf(res.body.server.id)).toBeUndefined();
    } finally {
      await t2.close();
    }
  });
});

describe('multiple create and quotas', () => {
  let q: TestApp;
  let img: string;
  beforeAll(async () => {
    q = await makeTestApp({ config: {} });
    q.services.config.seed.quotas.instances = 4;
    img = await uploadImage(q);
  });
  afterAll(async () => {
    await q.close();
  });

  test('min_count/max_count creates every server before the 202, named name-1…name-N, listed at once', async () => {
    const res = await boot(q, img, { name: 'multi', min_count: 1, max_count: 3 });
    expect(res.status).toBe(202);
    const list = await call(q, 'get', '/compute/v2.1/servers', { as: 'demo' });
    expect(list.body.servers.map((s: { name: string }) => s.name).sort()).toEqual(['multi-1', 'multi-2', 'multi-3']);
    await q.services.compute.tasks.idle();
    const detail = await call(q, 'get', '/compute/v2.1/servers/detail');
    expect(detail.body.servers.map((s: { status: string }) => s.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);
    const res2 = await boot(q, img, { name: 'rid', return_reservation_id: true });
    expect(res2.status).toBe(202);
    expect(Object.keys(res2.body)).toEqual(['reservation_id']);
    expect(res2.body.reservation_id).toMatch(/^r-[a-z0-9]{8}$/);
    await q.services.compute.tasks.idle();
  });

  test('over the instances quota is a 403 "Quota exceeded for instances" and creates nothing', async () => {
    const res = await boot(q, img, { name: 'over', min_count: 2 });
    expect(res.status).toBe(403);
    expect(res.body.forbidden.message).toBe('Quota exceeded for instances: Requested 2, but already used 4 of 4 instances');
    expect((await call(q, 'get', '/compute/v2.1/servers')).body.servers).toHaveLength(4);
    expect(await q.services.compute.queries.usage(await q.projectId('demo'))).toEqual({ instances: 4, cores: 4, ram: 2048 });
  });

  test('a deleted server frees its quota', async () => {
    const victim = (await call(q, 'get', '/compute/v2.1/servers')).body.servers[0].id;
    expect((await call(q, 'delete', `/compute/v2.1/servers/${victim}`)).status).toBe(204);
    await q.services.compute.tasks.idle();
    expect((await q.services.compute.queries.usage(await q.projectId('demo'))).instances).toBe(3);
    expect((await boot(q, img, { name: 'fits' })).status).toBe(202);
    await q.services.compute.tasks.idle();
  });
});

describe('GET /servers/{id}', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'shown', metadata: { k1: 'v1' }, accessIPv4: '1.2.3.4', accessIPv6: '0:0:0:0:0:babe:202:202' });
  });

  test('a member sees the 2.1 detail, valid against tempest, without OS-EXT-SRV-ATTR', async () => {
    const res = await call(t, 'get', `/compute/v2.1/servers/${id}`);
    expect(res.status).toBe(200);
    expect(tempestViolations('v2_1/servers.get_server', res)).toEqual([]);
    const s = res.body.server;
    expect(Object.keys(s).filter((k) => k.startsWith('OS-EXT-SRV-ATTR'))).toEqual([]);
    expect(s).toMatchObject({
      id, name: 'shown', status: 'ACTIVE', tenant_id: await t.projectId('demo'), metadata: { k1: 'v1' },
      image: { id: image, links: [{ rel: 'bookmark', href: `${URL}/compute/images/${image}` }] },
      flavor: { id: '1', links: [{ rel: 'bookmark', href: `${URL}/compute/flavors/1` }] },
      accessIPv4: '1.2.3.4', accessIPv6: '::babe:202:202',
      links: [{ rel: 'self', href: `${URL}/compute/v2.1/servers/${id}` }, { rel: 'bookmark', href: `${URL}/compute/servers/${id}` }],
      'OS-EXT-STS:vm_state': 'active', 'OS-EXT-STS:power_state': 1, progress: 0, config_drive: '',
      'OS-EXT-AZ:availability_zone': 'nova', security_groups: [{ name: 'default' }], 'os-extended-volumes:volumes_attached': [],
    });
    expect(s.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(s.updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(s).not.toHaveProperty('locked');
    expect(s).not.toHaveProperty('description');
  });

  test('an admin also sees host, instance name and hypervisor (still valid at 2.1)', async () => {
    const res = await call(t, 'get', `/compute/v2.1/servers/${id}`, { as: 'admin' });
    expect(tempestViolations('v2_1/servers.get_server', res)).toEqual([]);
    expect(res.body.server['OS-EXT-SRV-ATTR:host']).toBe('fake-host');
    expect(res.body.server['OS-EXT-SRV-ATTR:hypervisor_hostname']).toBe('fake-host');
    expect(res.body.server['OS-EXT-SRV-ATTR:instance_name']).toMatch(/^instance-[0-9a-f]{8}$/);
    expect(res.body.server).not.toHaveProperty('OS-EXT-SRV-ATTR:hostname');
  });

  test.each([
    ['a name', 'nosuch'],
    ['a non-UUID id', '-1'],
    ['an unknown UUID', '0f1c7a8e-1111-4222-8333-444455556666'],
  ])('%s is a 404 itemNotFound', async (_w, ref) => {
    const res = await call(t, 'get', `/compute/v2.1/servers/${ref}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ itemNotFound: { code: 404, message: `Instance ${ref} could not be found.` } });
  });

  test("another project's server is a 404, not a 403", async () => {
    const res = await call(t, 'get', `/compute/v2.1/servers/${id}`, { as: 'alt' });
    expect(res.status).toBe(404);
  });

  test('/ips lists the addresses without type and MAC; /ips/{network} one network; unknown network 404', async () => {
    const ips = await call(t, 'get', `/compute/v2.1/servers/${id}/ips`);
    expect(tempestViolations('v2_1/servers.list_addresses', ips)).toEqual([]);
    expect(ips.body.addresses.private[0]).toEqual({ version: 4, addr: expect.any(String) });
    const one = await call(t, 'get', `/compute/v2.1/servers/${id}/ips/private`);
    expect(tempestViolations('v2_1/servers.list_addresses_by_network', one)).toEqual([]);
    expect(one.body).toEqual({ private: ips.body.addresses.private });
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}/ips/public`)).status).toBe(404);
  });
});

describe('GET /servers and /servers/detail', () => {
  let l: TestApp;
  let img: string;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    l = await makeTestApp();
    img = await uploadImage(l, { as: 'admin', extra: { visibility: 'public' } });
    for (const name of ['vm1', 'vm2', 'web3', 'vm4']) ids[name] = await bootActive(l, img, { name, flavorRef: name === 'web3' ? '2' : '1' });
    ids.alt1 = await bootActive(l, img, { name: 'alt1' }, { as: 'alt' });
    expect((await act(l, ids.vm2, { 'os-stop': null })).status).toBe(202);
    await l.services.compute.tasks.idle();
  });
  afterAll(async () => {
    await l.close();
  });
  const names = (res: { body: { servers: { name: string }[] } }) => res.body.servers.map((s) => s.name);

  test('the summary list items are exactly {id, name, links}, newest first, own project only', async () => {
    const res = await call(l, 'get', '/compute/v2.1/servers');
    expect(tempestViolations('v2_1/servers.list_servers', res)).toEqual([]);
    expect(names(res)).toEqual(['vm4', 'web3', 'vm2', 'vm1']);
    expect(res.body).not.toHaveProperty('servers_links');
  });

  test('the detail list is valid against tempest for members and admins', async () => {
    const member = await call(l, 'get', '/compute/v2.1/servers/detail');
    expect(tempestViolations('v2_1/servers.list_servers_detail', member)).toEqual([]);
    expect(names(member)).toEqual(['vm4', 'web3', 'vm2', 'vm1']);
    const admin = await call(l, 'get', '/compute/v2.1/servers/detail', { as: 'admin', query: { all_tenants: 'True' } });
    expect(tempestViolations('v2_1/servers.list_servers_detail', admin)).toEqual([]);
    expect(names(admin)).toEqual(['alt1', 'vm4', 'web3', 'vm2', 'vm1']);
  });

  test('name is an unanchored regular expression; an invalid or explosive one is a 400', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { name: 'vm[24]' } }))).toEqual(['vm4', 'vm2']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { name: '^vm' } }))).toEqual(['vm4', 'vm2', 'vm1']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { name: 'b3' } }))).toEqual(['web3']);
    const bad = await call(l, 'get', '/compute/v2.1/servers', { query: { name: 'vm[' } });
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.message).toContain('not a valid regular expression');
    const evil = await call(l, 'get', '/compute/v2.1/servers', { query: { name: '(a+)+$' } });
    expect(evil.status).toBe(400);
  });

  test('status is matched case-insensitively; an unknown status gives an empty list at 2.1 and a 400 at 2.38', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { status: 'shutoff' } }))).toEqual(['vm2']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers/detail', { query: { status: 'ACTIVE' } }))).toEqual(['vm4', 'web3', 'vm1']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { status: 'BOGUS' } }))).toEqual([]);
    expect((await call(l, 'get', '/compute/v2.1/servers', { query: { status: 'BOGUS' }, mv: '2.38' })).status).toBe(400);
  });

  test('image, flavor and ip filters; unknown values give an empty list', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { flavor: '2' } }))).toEqual(['web3']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { image: img } }))).toHaveLength(4);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { image: '00000000-0000-4000-8000-000000000000' } }))).toEqual([]);
    const web3 = await show(l, ids.web3);
    const addr = web3.addresses.private[0].addr as string;
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { ip: `${addr.replace(/\./g, '\\.')}$` } }))).toEqual(['web3']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { ip: '192\\.' } }))).toEqual([]);
    // Anchored at the start, as Nova's re.match: a prefix of the address matches, a middle part does not.
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { ip: addr.split('.').slice(0, 3).join('.') } }))).toHaveLength(4);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { ip: addr.split('.').slice(1).join('.') } }))).toEqual([]);
  });

  test('all_tenants shows every project to an admin and is ignored for a member; tenant_id picks one project', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { all_tenants: '1' } }))).toEqual(['alt1', 'vm4', 'web3', 'vm2', 'vm1']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'demo', query: { all_tenants: '1' } }))).toEqual(['vm4', 'web3', 'vm2', 'vm1']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { tenant_id: await l.projectId('alt') } }))).toEqual(['alt1']);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'admin' }))).toEqual([]);
  });

  test('limit and marker page through the list; a full page carries servers_links; the end is an empty page', async () => {
    const p1 = await call(l, 'get', '/compute/v2.1/servers/detail', { query: { limit: '2' } });
    expect(names(p1)).toEqual(['vm4', 'web3']);
    const next = new globalThis.URL(p1.body.servers_links[0].href);
    expect(p1.body.servers_links[0].rel).toBe('next');
    expect(next.pathname).toBe('/compute/v2.1/servers/detail');
    expect(next.searchParams.get('limit')).toBe('2');
    expect(next.searchParams.get('marker')).toBe(ids.web3);
    const p2 = await call(l, 'get', '/compute/v2.1/servers/detail', { query: { limit: '2', marker: ids.web3 } });
    expect(names(p2)).toEqual(['vm2', 'vm1']);
    const p3 = await call(l, 'get', '/compute/v2.1/servers/detail', { query: { limit: '2', marker: ids.vm1 } });
    expect(p3.body).toEqual({ servers: [] });
  });

  test.each([['-1'], ['abc'], ['1.5']])('limit=%s is a 400', async (limit) => {
    const res = await call(l, 'get', '/compute/v2.1/servers', { query: { limit } });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toContain('limit');
  });

  test('an unknown marker (or another project\'s server) is 400 "marker [X] not found"', async () => {
    const unknown = '3c1c0d4a-0000-4000-8000-000000000000';
    const res = await call(l, 'get', '/compute/v2.1/servers', { query: { marker: unknown } });
    expect(res.status).toBe(400);
    expect(res.body.badRequest.message).toBe(`marker [${unknown}] not found`);
    expect((await call(l, 'get', '/compute/v2.1/servers', { query: { marker: ids.alt1 } })).status).toBe(400);
  });

  test('sort_key/sort_dir order the list; an invalid key is a 400; host is for admins only', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { sort_key: 'display_name', sort_dir: 'asc' } }))).toEqual(['vm1', 'vm2', 'vm4', 'web3']);
    expect((await call(l, 'get', '/compute/v2.1/servers', { query: { sort_key: 'nope' } })).status).toBe(400);
    // Names of Object's own members are not sort keys or power states either (no prototype lookups).
    for (const key of ['constructor', 'toString', '__proto__']) {
      expect((await call(l, 'get', '/compute/v2.1/servers', { query: { sort_key: key } })).status).toBe(400);
      expect((await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { power_state: key } })).status).toBe(400);
    }
    expect((await call(l, 'get', '/compute/v2.1/servers', { query: { sort_key: 'host' } })).status).toBe(403);
    expect((await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { sort_key: 'host' } })).status).toBe(200);
  });

  test('changes-since lists servers changed since then, deleted ones included as DELETED; malformed is a 400', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const gone = await bootActive(l, img, { name: 'gone' });
    expect((await call(l, 'delete', `/compute/v2.1/servers/${gone}`)).status).toBe(204);
    await l.services.compute.tasks.idle();
    const res = await call(l, 'get', '/compute/v2.1/servers/detail', { query: { 'changes-since': since } });
    expect(res.status).toBe(200);
    const deleted = res.body.servers.find((s: { id: string }) => s.id === gone);
    expect(deleted.status).toBe('DELETED');
    expect(tempestViolations('v2_1/servers.list_servers_detail', res)).toEqual([]);
    expect((await call(l, 'get', '/compute/v2.1/servers', {})).body.servers.map((s: { id: string }) => s.id)).not.toContain(gone);
    const future = await call(l, 'get', '/compute/v2.1/servers', { query: { 'changes-since': '2999-01-01T00:00:00Z' } });
    expect(future.body.servers).toEqual([]);
    const bad = await call(l, 'get', '/compute/v2.1/servers', { query: { 'changes-since': 'yesterday' } });
    expect(bad.status).toBe(400);
  });

  test('filters a member may not use are ignored below 2.75, unknown ones too; from 2.75 unknown ones are a 400', async () => {
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { host: 'elsewhere' } }))).toHaveLength(4);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { query: { colour: 'blue' } }))).toHaveLength(4);
    expect((await call(l, 'get', '/compute/v2.1/servers', { query: { colour: 'blue' }, mv: '2.75' })).status).toBe(400);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { all_tenants: '1', host: 'elsewhere' } }))).toEqual([]);
    expect(names(await call(l, 'get', '/compute/v2.1/servers', { as: 'admin', query: { all_tenants: '1', vm_state: 'stopped' } }))).toEqual(['vm2']);
  });
});

describe('PUT /servers/{id}', () => {
  let id: string;
  beforeAll(async () => {
    id = await bootActive(t, image, { name: 'before' });
  });

  test('renames and sets access IPs (IPv6 canonicalised); the answer is the basic view, valid against tempest', async () => {
    const res = await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { name: 'after', accessIPv4: '10.0.0.1', accessIPv6: '2001:0db8:0000:0000:0000:0000:0000:0001' } } });
    expect(res.status).toBe(200);
    expect(tempestViolations('v2_1/servers.update_server', res)).toEqual([]);
    expect(res.body.server).toMatchObject({ name: 'after', accessIPv4: '10.0.0.1', accessIPv6: '2001:db8::1' });
    expect(res.body.server).not.toHaveProperty('OS-EXT-STS:vm_state');
    expect(res.body.server).not.toHaveProperty('key_name');
    expect(res.body.server.addresses.private[0]).not.toHaveProperty('OS-EXT-IPS:type');
    expect((await show(t, id)).name).toBe('after');
  });

  test('description needs 2.19; unknown keys and bad IPs are 400s', async () => {
    expect((await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { description: 'x' } } })).status).toBe(400);
    const ok = await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { description: 'hello' } }, mv: '2.19' });
    expect(ok.status).toBe(200);
    expect(ok.body.server.description).toBe('hello');
    expect((await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { accessIPv4: 'nope' } } })).status).toBe(400);
    expect((await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: { server: { bogus: 1 } } })).status).toBe(400);
    expect((await call(t, 'put', `/compute/v2.1/servers/${id}`, { body: 'not json' })).status).toBe(400);
  });
});

describe('DELETE /servers/{id}', () => {
  test('answers 204, shows task deleting until done, then 404; the container is gone; a second DELETE is harmless', async () => {
    let release: () => void = () => undefined;
    let gate: Promise<void> | undefined;
    const held = new FakeDriver({ host: 'fake-host', beforeCall: (op) => (op === 'destroy' ? gate : undefined) });
    const g = await makeTestApp({ driver: held });
    try {
      const img = await uploadImage(g);
      const id = await bootActive(g, img, { name: 'doomed' });
      expect(held.specOf(id)).toBeDefined();
      gate = new Promise<void>((r) => { release = r; });
      const res = await call(g, 'delete', `/compute/v2.1/servers/${id}`);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      const during = await call(g, 'get', `/compute/v2.1/servers/${id}`);
      expect(during.status).toBe(200);
      expect(during.body.server.status).toBe('ACTIVE');
      expect(during.body.server['OS-EXT-STS:task_state']).toBe('deleting');
      expect((await call(g, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
      release();
      await g.services.compute.tasks.idle();
      expect((await call(g, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
      expect((await call(g, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(404);
      expect(held.specOf(id)).toBeUndefined();
      const actions = await call(g, 'get', `/compute/v2.1/servers/${id}/os-instance-actions`, { mv: '2.21' });
      expect(actions.body.instanceActions.map((a: { action: string }) => a.action)).toEqual(['delete', 'create']);
    } finally {
      release();
      await g.close();
    }
  });

  test('a server is deletable while it builds, and no container is left', async () => {
    const res = await boot(t, image, { name: 'quick' });
    const id = res.body.server.id;
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await t.services.compute.tasks.idle();
    expect((await call(t, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
    expect(driver.specOf(id)).toBeUndefined();
  });

  test('ERROR servers delete too', async () => {
    const failing = await makeTestApp({ driver: new FakeDriver({ host: 'fake-host', failSpawn: () => 'no' }) });
    try {
      const img = await uploadImage(failing);
      const id = await bootActive(failing, img);
      expect((await show(failing, id)).status).toBe('ERROR');
      expect((await call(failing, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
      await failing.services.compute.tasks.idle();
      expect((await call(failing, 'get', `/compute/v2.1/servers/${id}`)).status).toBe(404);
    } finally {
      await failing.close();
    }
  });

  test("a reader cannot delete (403) and another project's member gets 404", async () => {
    const id = await bootActive(t, image, { name: 'keep' });
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}`, { as: 'viewer' })).status).toBe(403);
    expect((await call(t, 'delete', `/compute/v2.1/servers/${id}`, { as: 'alt' })).status).toBe(404);
    expect((await show(t, id)).status).toBe('ACTIVE');
  });

  test('the engine down makes DELETE a 503 that changes nothing', async () => {
    const id = await bootActive(t, image, { name: 'stays' });
    driver.setUnavailable(true);
    try {
      const res = await call(t, 'delete', `/compute/v2.1/servers/${id}`);
      expect(res.status).toBe(503);
    } finally {
      driver.setUnavailable(false);
    }
    const s = await show(t, id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-STS:task_state']).toBeNull();
  });
});

describe('the compute API surface', () => {
  test('the legacy /v2.1/{project_id}/servers form works; another project id there is a 400', async () => {
    const demo = await t.projectId('demo');
    const res = await call(t, 'get', `/compute/v2.1/${demo}/servers`);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.servers)).toBe(true);
    expect((await call(t, 'get', `/compute/v2.1/${await t.projectId('alt')}/servers`)).status).toBe(400);
    const request = (await import('supertest')).default;
    const doc = await request(t.app).get(`/compute/v2.1/${demo}`);
    expect(doc.status).toBe(200);
    expect(doc.body.version.id).toBe('v2.1');
  });

  test('no token is a 401; a malformed JSON body a 400; an unknown path a 404 in Nova\'s shape', async () => {
    const request = (await import('supertest')).default;
    expect((await request(t.app).get('/compute/v2.1/servers')).status).toBe(401);
    const bad = await request(t.app).post('/compute/v2.1/servers').set('X-Auth-Token', await t.token('demo')).set('Content-Type', 'application/json').send('{"server": ');
    expect(bad.status).toBe(400);
    expect(bad.body.badRequest.code).toBe(400);
    const nf = await call(t, 'get', '/compute/v2.1/nothing-here');
    expect(nf.status).toBe(404);
    expect(nf.body.itemNotFound.code).toBe(404);
  });

  test('responses carry the microversion headers', async () => {
    const res = await call(t, 'get', '/compute/v2.1/servers', { mv: '2.47' });
    expect(res.headers['openstack-api-version']).toBe('compute 2.47');
    expect(res.headers['x-openstack-nova-api-version']).toBe('2.47');
  });
});
