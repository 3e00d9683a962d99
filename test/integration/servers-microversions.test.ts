/**
 * The server shapes at each microversion whose shape changes (contract §5.4.1), for a member and
 * for an admin: show, detail list, PUT and rebuild are validated against tempest's strict schema
 * of the highest tempest overlay not above the requested version (tempest ships them up to 2.79);
 * 2.90+ are checked key by key.
 */
import type { TestApp } from '../helpers/app';
import { makeTestApp } from '../helpers/app';
import schemas from './servers-tempest-schemas.json';
import { call, uploadImage, bootActive, act, tempestViolations } from './servers-support';

let t: TestApp;
let image: string;
let id: string;

beforeAll(async () => {
  t = await makeTestApp();
  image = await uploadImage(t);
  id = await bootActive(t, image, { name: 'mv', metadata: { a: 'b' } });
});
afterAll(async () => {
  await t.close();
});

const num = (v: string) => v.split('.').map(Number) as [number, number];
const le = (a: string, b: string) => {
  const [am, an] = num(a);
  const [bm, bn] = num(b);
  return am < bm || (am === bm && an <= bn);
};

/** The tempest schema that applies at `mv`: the highest overlay ≤ mv that defines `name`. */
function schemaFor(mv: string, name: string): string {
  const candidates = Object.keys(schemas)
    .filter((k) => k.endsWith(`/servers.${name}`))
    .map((k) => ({ k, v: k.split('/')[0].slice(1).replace('_', '.') }))
    .filter(({ v }) => le(v, mv))
    .sort((x, y) => (le(x.v, y.v) ? 1 : -1));
  if (!candidates.length) throw new Error(`no tempest schema ${name} ≤ ${mv}`);
  return candidates[0].k;
}

describe.each(['2.1', '2.3', '2.9', '2.16', '2.19', '2.26', '2.47', '2.57', '2.63', '2.71', '2.73', '2.75', '2.79'])('at %s', (mv) => {
  test.each(['demo', 'admin'] as const)('show, detail, PUT and rebuild as %s match tempest', async (as) => {
    const showRes = await call(t, 'get', `/compute/v2.1/servers/${id}`, { as, mv });
    expect(tempestViolations(schemaFor(mv, 'get_server'), showRes)).toEqual([]);
    const detail = await call(t, 'get', '/compute/v2.1/servers/detail', { as, mv, query: { all_tenants: '1' } });
    expect(tempestViolations(schemaFor(mv, 'list_servers_detail'), detail)).toEqual([]);
    expect(detail.body.servers.map((s: { id: string }) => s.id)).toContain(id);
    const put = await call(t, 'put', `/compute/v2.1/servers/${id}`, { as, mv, body: { server: { name: 'mv' } } });
    expect(tempestViolations(schemaFor(mv, 'update_server'), put)).toEqual([]);
    const rebuild = await act(t, id, { rebuild: { imageRef: image } }, { as, mv });
    expect(tempestViolations(schemaFor(mv, 'rebuild_server_with_admin_pass'), rebuild)).toEqual([]);
    await t.services.compute.tasks.idle();
  });
});

describe('the deltas themselves', () => {
  const server = async (mv: string, as: 'demo' | 'admin' = 'demo') => (await call(t, 'get', `/compute/v2.1/servers/${id}`, { as, mv })).body.server;

  test('2.47 embeds the flavor as it was at boot instead of linking it', async () => {
    expect((await server('2.46')).flavor).toEqual({ id: '1', links: [{ rel: 'bookmark', href: 'http://127.0.0.1:8080/compute/flavors/1' }] });
    expect((await server('2.47')).flavor).toEqual({ vcpus: 1, ram: 512, disk: 1, ephemeral: 0, swap: 0, original_name: 'm1.tiny', extra_specs: {} });
  });

  test('2.16 host_status is for admins only; 2.3 extended attributes too', async () => {
    expect(await server('2.16')).not.toHaveProperty('host_status');
    const admin = await server('2.16', 'admin');
    expect(admin.host_status).toBe('UP');
    expect(admin['OS-EXT-SRV-ATTR:hostname']).toBe('mv');
    expect(admin['OS-EXT-SRV-ATTR:launch_index']).toBe(0);
    expect(admin['OS-EXT-SRV-ATTR:reservation_id']).toMatch(/^r-/);
  });

  test('2.73 adds locked_reason; 2.71 adds server_groups to show but not to the detail list', async () => {
    expect(await server('2.72')).not.toHaveProperty('locked_reason');
    expect((await server('2.73')).locked_reason).toBeNull();
    expect((await server('2.71')).server_groups).toEqual([]);
    const detail = await call(t, 'get', '/compute/v2.1/servers/detail', { mv: '2.71' });
    expect(detail.body.servers[0]).not.toHaveProperty('server_groups');
  });

  test('2.75 makes PUT answer the full view', async () => {
    const old = await call(t, 'put', `/compute/v2.1/servers/${id}`, { mv: '2.74', body: { server: { name: 'mv' } } });
    expect(old.body.server).not.toHaveProperty('OS-EXT-STS:vm_state');
    const full = await call(t, 'put', `/compute/v2.1/servers/${id}`, { mv: '2.75', body: { server: { name: 'mv' } } });
    expect(full.body.server['OS-EXT-STS:vm_state']).toBe('active');
    expect(full.body.server.addresses.private[0]['OS-EXT-IPS:type']).toBe('fixed');
  });

  test('at 2.92 (the advertised maximum) a member sees exactly the expected keys, hostname included (2.90)', async () => {
    const s = await server('2.92');
    expect(Object.keys(s).sort()).toEqual([
      'OS-DCF:diskConfig', 'OS-EXT-AZ:availability_zone', 'OS-EXT-SRV-ATTR:hostname', 'OS-EXT-STS:power_state', 'OS-EXT-STS:task_state',
      'OS-EXT-STS:vm_state', 'OS-SRV-USG:launched_at', 'OS-SRV-USG:terminated_at', 'accessIPv4', 'accessIPv6', 'addresses', 'config_drive',
      'created', 'description', 'flavor', 'hostId', 'id', 'image', 'key_name', 'links', 'locked', 'locked_reason', 'metadata', 'name',
      'os-extended-volumes:volumes_attached', 'progress', 'security_groups', 'server_groups', 'status', 'tags', 'tenant_id',
      'trusted_image_certificates', 'updated', 'user_id',
    ]);
    expect(s['OS-EXT-SRV-ATTR:hostname']).toBe('mv');
    const admin = await server('2.92', 'admin');
    expect(Object.keys(admin).filter((k) => !(k in s)).sort()).toEqual([
      'OS-EXT-SRV-ATTR:host', 'OS-EXT-SRV-ATTR:hypervisor_hostname', 'OS-EXT-SRV-ATTR:instance_name', 'OS-EXT-SRV-ATTR:kernel_id',
      'OS-EXT-SRV-ATTR:launch_index', 'OS-EXT-SRV-ATTR:ramdisk_id', 'OS-EXT-SRV-ATTR:reservation_id', 'OS-EXT-SRV-ATTR:root_device_name',
      'OS-EXT-SRV-ATTR:user_data', 'host_status',
    ]);
  });

  test('description (2.19), tags (2.52) and hostname (2.90) are accepted on create at their versions only', async () => {
    const old = await call(t, 'post', '/compute/v2.1/servers', { body: { server: { name: 'd', imageRef: image, flavorRef: '1', description: 'x' } } });
    expect(old.status).toBe(400);
    const res = await call(t, 'post', '/compute/v2.1/servers', {
      mv: '2.90',
      body: { server: { name: 'described', imageRef: image, flavorRef: '1', networks: 'auto', description: 'hello', tags: ['t1', 't2'], hostname: 'custom-host' } },
    });
    expect(res.status).toBe(202);
    await t.services.compute.tasks.idle();
    const s = (await call(t, 'get', `/compute/v2.1/servers/${res.body.server.id}`, { mv: '2.90' })).body.server;
    expect([s.description, s.tags, s['OS-EXT-SRV-ATTR:hostname']]).toEqual(['hello', ['t1', 't2'], 'custom-host']);
    const tagged = await call(t, 'get', '/compute/v2.1/servers', { mv: '2.26', query: { tags: 't1' } });
    expect(tagged.body.servers.map((x: { id: string }) => x.id)).toEqual([res.body.server.id]);
  });

  test('at 2.57 rebuild answers user_data and takes new user_data', async () => {
    const ud = Buffer.from('echo again').toString('base64');
    const res = await act(t, id, { rebuild: { imageRef: image, user_data: ud } }, { mv: '2.57' });
    expect(res.status).toBe(202);
    expect(res.body.server.user_data).toBe(ud);
    await t.services.compute.tasks.idle();
  });
});
