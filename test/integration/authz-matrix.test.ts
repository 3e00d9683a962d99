/**
 * Authorization matrix: two projects (demo, alt) and the admin/member/reader roles against every
 * endpoint. Another project's servers and private images are 404 (not 403: their existence is
 * not revealed); a reader cannot write (403); admin-only endpoints refuse members (403); forged,
 * expired, tampered, revoked and wrong-secret tokens are 401 everywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { makeTestApp, TestApp } from '../helpers/app';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import { insertNetwork } from '../helpers/network-rows'; // issue 17 (floating IPs and routers)

let t: TestApp;
const ids = { server: '', image: '', publicImage: '', flavor: '1', keypair: 'authz-key', serverGroup: '', demoProject: '', adminProject: '' };
const tok: Record<string, string> = {};
// issue 17 (net-core): demo's network, subnet and port
const net = { network: '', subnet: '', port: '' };
// issue 17 (floating IPs and routers)
const fipIds = { fip: '', router: '' };
let cells = 0;

interface Row { method: 'get' | 'post' | 'put' | 'patch' | 'delete'; path: () => string; body?: unknown; ctype?: string; write: boolean; adminOnly?: boolean; /** the resource belongs to demo's project */ owned?: boolean; /** compute microversion */ mv?: string }

const S = () => `/compute/v2.1/servers/${ids.server}`;
// issue 17 (net-secgroups): a security group of demo's project and one of its rules
const sg = { group: '', rule: '' };
const SG = () => `/networking/v2.0/security-groups/${sg.group}`;
const SGR = () => `/networking/v2.0/security-group-rules/${sg.rule}`;
const I = () => `/image/v2/images/${ids.image}`;
const rows: Row[] = [
  // compute: servers and their sub-resources (owned by demo)
  { method: 'get', path: S, write: false, owned: true },
  { method: 'put', path: S, body: { server: { name: 'x' } }, write: true, owned: true },
  { method: 'delete', path: S, write: true, owned: true },
  { method: 'get', path: () => `${S()}/metadata`, write: false, owned: true },
  { method: 'post', path: () => `${S()}/metadata`, body: { metadata: { a: 'b' } }, write: true, owned: true },
  { method: 'put', path: () => `${S()}/metadata`, body: { metadata: { a: 'b' } }, write: true, owned: true },
  { method: 'get', path: () => `${S()}/metadata/k`, write: false, owned: true },
  { method: 'put', path: () => `${S()}/metadata/k`, body: { meta: { k: 'v' } }, write: true, owned: true },
  { method: 'delete', path: () => `${S()}/metadata/k`, write: true, owned: true },
  { method: 'get', path: () => `${S()}/ips`, write: false, owned: true },
  { method: 'get', path: () => `${S()}/os-instance-actions`, write: false, owned: true },
  ...['os-stop', 'os-start', 'pause', 'unpause', 'suspend', 'resume', 'lock', 'unlock', 'forceDelete'].map((a): Row => ({ method: 'post', path: () => `${S()}/action`, body: { [a]: null }, write: true, owned: true })),
  { method: 'post', path: () => `${S()}/action`, body: { reboot: { type: 'HARD' } }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { rebuild: { imageRef: ids.image } }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { createImage: { name: 'snap' } }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { 'os-getConsoleOutput': {} }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { 'os-resetState': { state: 'active' } }, write: true, owned: true, adminOnly: true },
  // shelve (issue 15): shelve and unshelve for the project's members, shelveOffload for admins (Nova's policy)
  { method: 'post', path: () => `${S()}/action`, body: { shelve: null }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { unshelve: null }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { shelveOffload: null }, write: true, owned: true, adminOnly: true },
  // compute: issue 15 (server tags, diagnostics, password)
  { method: 'get', path: () => `${S()}/tags`, write: false, owned: true, mv: '2.26' },
  { method: 'put', path: () => `${S()}/tags`, body: { tags: ['a'] }, write: true, owned: true, mv: '2.26' },
  { method: 'delete', path: () => `${S()}/tags`, write: true, owned: true, mv: '2.26' },
  { method: 'put', path: () => `${S()}/tags/t`, write: true, owned: true, mv: '2.26' },
  { method: 'delete', path: () => `${S()}/tags/t`, write: true, owned: true, mv: '2.26' },
  { method: 'get', path: () => `${S()}/diagnostics`, write: false, owned: true, adminOnly: true },
  { method: 'get', path: () => `${S()}/os-server-password`, write: false, owned: true },
  { method: 'delete', path: () => `${S()}/os-server-password`, write: true, owned: true },
  { method: 'get', path: () => `/compute/v2.1/images/${ids.image}/metadata`, write: false, owned: true },
  { method: 'post', path: () => `/compute/v2.1/images/${ids.image}/metadata`, body: { metadata: { a: 'b' } }, write: true, owned: true },
  { method: 'delete', path: () => `/compute/v2.1/images/${ids.image}/metadata/a`, write: true, owned: true },
  // resize (issue 15)
  { method: 'post', path: () => `${S()}/action`, body: { resize: { flavorRef: '2' } }, write: true, owned: true },
  // serial console (issue 15): a console URL is a write (Nova's policy: project member or admin)
  { method: 'post', path: () => `${S()}/action`, body: { 'os-getSerialConsole': { type: 'serial' } }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/remote-consoles`, body: { remote_console: { protocol: 'serial', type: 'serial' } }, write: true, owned: true },
  // compute: collections and project-wide endpoints
  { method: 'get', path: () => '/compute/v2.1/servers', write: false },
  { method: 'get', path: () => '/compute/v2.1/servers/detail', write: false },
  { method: 'post', path: () => '/compute/v2.1/servers', body: { server: { name: 'n', imageRef: ids.publicImage, flavorRef: '1' } }, write: true },
  { method: 'get', path: () => '/compute/v2.1/flavors/detail', write: false },
  { method: 'post', path: () => '/compute/v2.1/flavors', body: { flavor: { name: 'authz', ram: 64, vcpus: 1, disk: 1 } }, write: true, adminOnly: true },
  { method: 'delete', path: () => `/compute/v2.1/flavors/${ids.flavor}`, write: true, adminOnly: true },
  { method: 'post', path: () => `/compute/v2.1/flavors/${ids.flavor}/os-extra_specs`, body: { extra_specs: { a: 'b' } }, write: true, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-hypervisors', write: false, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-hypervisors/detail', write: false, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-services', write: false, adminOnly: true },
  { method: 'put', path: () => '/compute/v2.1/os-services/enable', body: { host: 'fake-host', binary: 'nova-compute' }, write: true, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-aggregates', write: false, adminOnly: true },
  { method: 'post', path: () => '/compute/v2.1/os-aggregates', body: { aggregate: { name: 'authz-agg' } }, write: true, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-availability-zone/detail', write: false, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-keypairs', write: false },
  { method: 'post', path: () => '/compute/v2.1/os-keypairs', body: { keypair: { name: 'authz-new' } }, write: true },
  { method: 'get', path: () => '/compute/v2.1/limits', write: false },
  { method: 'get', path: () => '/compute/v2.1/os-server-groups', write: false },
  { method: 'post', path: () => '/compute/v2.1/os-server-groups', body: { server_group: { name: 'authz', policies: ['affinity'] } }, write: true },
  { method: 'get', path: () => `/compute/v2.1/os-server-groups/${ids.serverGroup}`, write: false, owned: true },
  { method: 'delete', path: () => `/compute/v2.1/os-server-groups/${ids.serverGroup}`, write: true, owned: true },
  // quotas (issue 15): own project's to read, another's and every write admin only
  { method: 'get', path: () => `/compute/v2.1/os-quota-sets/${ids.demoProject}`, write: false },
  { method: 'get', path: () => `/compute/v2.1/os-quota-sets/${ids.demoProject}/detail`, write: false },
  { method: 'get', path: () => `/compute/v2.1/os-quota-sets/${ids.adminProject}/defaults`, write: false },
  { method: 'get', path: () => `/compute/v2.1/os-quota-sets/${ids.adminProject}`, write: false, adminOnly: true },
  { method: 'get', path: () => `/compute/v2.1/os-quota-sets/${ids.adminProject}/detail`, write: false, adminOnly: true },
  { method: 'put', path: () => `/compute/v2.1/os-quota-sets/${ids.demoProject}`, body: { quota_set: { instances: 0 } }, write: true, adminOnly: true },
  { method: 'delete', path: () => `/compute/v2.1/os-quota-sets/${ids.demoProject}`, write: true, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-quota-class-sets/default', write: false, adminOnly: true },
  { method: 'put', path: () => '/compute/v2.1/os-quota-class-sets/default', body: { quota_class_set: { instances: 0 } }, write: true, adminOnly: true },
  // os-simple-tenant-usage (issue 15): own project's for its readers, every project's for admins
  { method: 'get', path: () => `/compute/v2.1/os-simple-tenant-usage/${ids.demoProject}`, write: false },
  { method: 'get', path: () => `/compute/v2.1/os-simple-tenant-usage/${ids.adminProject}`, write: false, adminOnly: true },
  { method: 'get', path: () => '/compute/v2.1/os-simple-tenant-usage?detailed=1', write: false, adminOnly: true },
  // image (demo's private image)
  { method: 'get', path: I, write: false, owned: true },
  { method: 'patch', path: I, body: [{ op: 'add', path: '/x', value: 'y' }], ctype: 'application/openstack-images-v2.1-json-patch', write: true, owned: true },
  { method: 'delete', path: I, write: true, owned: true },
  { method: 'get', path: () => `${I()}/file`, write: false, owned: true },
  { method: 'put', path: () => `${I()}/tags/t`, write: true, owned: true },
  { method: 'delete', path: () => `${I()}/tags/t`, write: true, owned: true },
  // Glance's default policy: admin, or a member of the owning project.
  { method: 'post', path: () => `${I()}/actions/reactivate`, write: true, owned: true },
  { method: 'get', path: () => '/image/v2/images', write: false },
  { method: 'get', path: () => '/image/v2/metadefs/namespaces', write: false },
  { method: 'get', path: () => '/image/v2/schemas/metadefs/namespaces', write: false },
  { method: 'post', path: () => '/image/v2/images', body: { name: 'authz' }, write: true },
  // issue 18 (the dashboard's calls): volume attachments, metadef resource types, Keystone's directory
  { method: 'get', path: () => `${S()}/os-volume_attachments`, write: false, owned: true },
  { method: 'get', path: () => '/image/v2/metadefs/resource_types', write: false },
  // issue 17 (net-compute): os-interface is the server's (another project's server is a 404)
  { method: 'get', path: () => `${S()}/os-interface`, write: false, owned: true },
  { method: 'get', path: () => '/identity/v3/auth/projects', write: false },
  { method: 'get', path: () => '/identity/v3/domains/default', write: false },
  ...['users', 'roles', 'domains', 'groups', 'role_assignments'].map((c): Row => ({ method: 'get', path: () => `/identity/v3/${c}`, write: false, adminOnly: true })),
  { method: 'post', path: () => '/identity/v3/projects', body: { project: { name: 'authz' } }, write: true, adminOnly: true },
  // identity: issue 18 part 4 (unlocking a user is identity:update_user, admins only)
  { method: 'patch', path: () => `/identity/v3/users/${(jwt.decode(tok.demo) as { sub: string }).sub}`, body: { user: { enabled: true } }, write: true, adminOnly: true },
  // issue 17 (net-secgroups): security groups and rules, and the compute API's proxy
  { method: 'get', path: () => '/networking/v2.0/security-groups', write: false },
  { method: 'post', path: () => '/networking/v2.0/security-groups', body: { security_group: { name: 'authz' } }, write: true },
  { method: 'get', path: SG, write: false, owned: true },
  { method: 'put', path: SG, body: { security_group: { description: 'x' } }, write: true, owned: true },
  { method: 'delete', path: SG, write: true, owned: true },
  { method: 'get', path: () => '/networking/v2.0/security-group-rules', write: false },
  { method: 'post', path: () => '/networking/v2.0/security-group-rules', body: { security_group_rule: { security_group_id: sg.group, direction: 'egress', protocol: 'udp' } }, write: true },
  { method: 'get', path: SGR, write: false, owned: true },
  { method: 'put', path: SGR, body: { security_group_rule: { description: 'x' } }, write: true, owned: true },
  { method: 'delete', path: SGR, write: true, owned: true },
  { method: 'get', path: () => '/compute/v2.1/os-security-groups', write: false },
  { method: 'get', path: () => `/compute/v2.1/os-security-groups/${sg.group}`, write: false, owned: true },
  { method: 'delete', path: () => `/compute/v2.1/os-security-groups/${sg.group}`, write: true, owned: true },
  { method: 'get', path: () => `${S()}/os-security-groups`, write: false, owned: true },
  // issue 17 (net-core): networks, subnets, ports (demo's), the network quotas
  ...(['networks', 'subnets', 'ports'] as const).flatMap((c): Row[] => {
    const one = () => `/networking/v2.0/${c}/${net[c.slice(0, -1) as 'network' | 'subnet' | 'port']}`;
    const key = c.slice(0, -1);
    return [
      { method: 'get', path: () => `/networking/v2.0/${c}`, write: false },
      { method: 'get', path: one, write: false, owned: true },
      { method: 'put', path: one, body: { [key]: { name: 'x' } }, write: true, owned: true },
      { method: 'delete', path: one, write: true, owned: true },
    ];
  }),
  { method: 'post', path: () => '/networking/v2.0/networks', body: { network: { name: 'authz' } }, write: true },
  { method: 'post', path: () => '/networking/v2.0/ports', body: { port: { network_id: net.network } }, write: true },
  { method: 'post', path: () => '/networking/v2.0/networks', body: { network: { name: 'authz', shared: true } }, write: true, adminOnly: true },
  { method: 'get', path: () => `/networking/v2.0/quotas/${ids.demoProject}`, write: false },
  { method: 'get', path: () => `/networking/v2.0/quotas/${ids.demoProject}/details`, write: false },
  { method: 'get', path: () => `/networking/v2.0/quotas/${ids.adminProject}`, write: false, adminOnly: true },
  { method: 'put', path: () => `/networking/v2.0/quotas/${ids.demoProject}`, body: { quota: { network: 50 } }, write: true, adminOnly: true },
  { method: 'delete', path: () => `/networking/v2.0/quotas/${ids.demoProject}`, write: true, adminOnly: true },
  // issue 17 (floating IPs and routers): demo's floating IP and router
  { method: 'get', path: () => `/networking/v2.0/floatingips/${fipIds.fip}`, write: false, owned: true },
  { method: 'put', path: () => `/networking/v2.0/floatingips/${fipIds.fip}`, body: { floatingip: { description: 'x' } }, write: true, owned: true },
  { method: 'delete', path: () => `/networking/v2.0/floatingips/${fipIds.fip}`, write: true, owned: true },
  { method: 'get', path: () => `/networking/v2.0/routers/${fipIds.router}`, write: false, owned: true },
  { method: 'put', path: () => `/networking/v2.0/routers/${fipIds.router}`, body: { router: { name: 'x' } }, write: true, owned: true },
  { method: 'delete', path: () => `/networking/v2.0/routers/${fipIds.router}`, write: true, owned: true },
  { method: 'put', path: () => `/networking/v2.0/routers/${fipIds.router}/add_router_interface`, body: { subnet_id: '6e6d5cf2-0000-4000-8000-000000000000' }, write: true, owned: true },
  { method: 'get', path: () => '/networking/v2.0/floatingips', write: false },
  { method: 'get', path: () => '/networking/v2.0/routers', write: false },
  // issue 17 (net-router): the compute API's floating IP proxy (< 2.36) and actions (< 2.44)
  { method: 'get', path: () => '/compute/v2.1/os-floating-ips', write: false },
  { method: 'get', path: () => `/compute/v2.1/os-floating-ips/${fipIds.fip}`, write: false, owned: true },
  { method: 'delete', path: () => `/compute/v2.1/os-floating-ips/${fipIds.fip}`, write: true, owned: true },
  { method: 'post', path: () => '/compute/v2.1/os-floating-ips', body: { pool: 'public' }, write: true },
  { method: 'get', path: () => '/compute/v2.1/os-floating-ip-pools', write: false },
  { method: 'post', path: () => `${S()}/action`, body: { addFloatingIp: { address: '172.31.242.10' } }, write: true, owned: true },
  { method: 'post', path: () => `${S()}/action`, body: { removeFloatingIp: { address: '172.31.242.10' } }, write: true, owned: true },
];

function call(row: Row, token: string | undefined) {
  const r = request(t.app)[row.method](row.path());
  if (token !== undefined) r.set('X-Auth-Token', token);
  if (row.mv) r.set('OpenStack-API-Version', `compute ${row.mv}`);
  if (row.body !== undefined) r.set('Content-Type', row.ctype ?? 'application/json').send(JSON.stringify(row.body));
  cells++;
  return r;
}

beforeAll(async () => {
  t = await makeTestApp();
  for (const a of ['admin', 'demo', 'alt', 'viewer'] as const) tok[a] = await t.token(a);
  ids.demoProject = await t.projectId('demo');
  ids.adminProject = await t.projectId('admin');
  const img = await request(t.app).post('/image/v2/images').set('X-Auth-Token', tok.demo).send({ name: 'private', container_format: 'docker', disk_format: 'raw' });
  ids.image = img.body.id;
  const { bytes } = await buildFakeArchive({ salt: 'authz' });
  const up = await request(t.app).put(`/image/v2/images/${ids.image}/file`).set('X-Auth-Token', tok.demo).set('Content-Type', 'application/octet-stream').send(bytes);
  expect(up.status).toBe(204);
  const srv = await request(t.app).post('/compute/v2.1/servers').set('X-Auth-Token', tok.demo).send({ server: { name: 'mine', imageRef: ids.image, flavorRef: '1' } });
  expect(srv.status).toBe(202);
  ids.server = srv.body.server.id;
  await t.services.compute.tasks.idle();
  const meta = await request(t.app).post(`/compute/v2.1/servers/${ids.server}/metadata`).set('X-Auth-Token', tok.demo).send({ metadata: { k: 'v' } });
  expect(meta.status).toBe(200);
  await request(t.app).post('/compute/v2.1/os-keypairs').set('X-Auth-Token', tok.demo).send({ keypair: { name: ids.keypair } });
  const group = await request(t.app).post('/compute/v2.1/os-server-groups').set('X-Auth-Token', tok.demo).send({ server_group: { name: 'authz', policies: ['affinity'] } });
  ids.serverGroup = group.body.server_group.id;
  // issue 17 (net-secgroups)
  const secGroup = await request(t.app).post('/networking/v2.0/security-groups').set('X-Auth-Token', tok.demo).send({ security_group: { name: 'authz-sg' } });
  sg.group = secGroup.body.security_group.id;
  const secRule = await request(t.app).post('/networking/v2.0/security-group-rules').set('X-Auth-Token', tok.demo)
    .send({ security_group_rule: { security_group_id: sg.group, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 } });
  sg.rule = secRule.body.security_group_rule.id;
  // issue 17 (net-core)
  net.network = (await request(t.app).post('/networking/v2.0/networks').set('X-Auth-Token', tok.demo).send({ network: { name: 'authz' } })).body.network.id;
  net.subnet = (await request(t.app).post('/networking/v2.0/subnets').set('X-Auth-Token', tok.demo).send({ subnet: { network_id: net.network, ip_version: 4, cidr: '10.210.77.0/24' } })).body.subnet.id;
  net.port = (await request(t.app).post('/networking/v2.0/ports').set('X-Auth-Token', tok.demo).send({ port: { network_id: net.network } })).body.port.id;
  // issue 17 (floating IPs and routers): an external network, and demo's floating IP and router
  const ext = await insertNetwork(t.db, { projectId: ids.adminProject, name: 'public', external: true, cidr: '172.31.242.0/24', pool: ['172.31.242.10', '172.31.242.20'], gateway: '172.31.242.1' });
  fipIds.fip = (await request(t.app).post('/networking/v2.0/floatingips').set('X-Auth-Token', tok.demo).send({ floatingip: { floating_network_id: ext.networkId } })).body.floatingip.id;
  fipIds.router = (await request(t.app).post('/networking/v2.0/routers').set('X-Auth-Token', tok.demo).send({ router: { name: 'authz' } })).body.router.id;

  // Bad tokens of every kind.
  const secret = fs.readFileSync(path.join(t.dataDir, 'token-secret'), 'utf8').trim();
  const good = jwt.decode(tok.demo) as Record<string, unknown>;
  const now = Math.floor(Date.now() / 1000);
  tok.expired = jwt.sign({ ...good, iat: now - 7200, exp: now - 3600 }, secret, { algorithm: 'HS256' });
  tok.wrongSecret = jwt.sign(good, 'not-the-secret-at-all-not-the-secret', { algorithm: 'HS256' });
  const [h, , sig] = tok.demo.split('.');
  tok.tampered = [h, Buffer.from(JSON.stringify({ ...good, pid: await t.projectId('admin') })).toString('base64url'), sig].join('.');
  tok.forged = [Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url'), Buffer.from(JSON.stringify(good)).toString('base64url'), ''].join('.');
  tok.garbage = 'gAAAAABnot-a-token';
  // A real token, then revoked.
  const victim = await request(t.app).post('/identity/v3/auth/tokens').send({ auth: { identity: { methods: ['password'], password: { user: { name: 'demo', domain: { name: 'Default' }, password: 'demo-secret' } } }, scope: { project: { name: 'demo', domain: { name: 'Default' } } } } });
  tok.revoked = victim.headers['x-subject-token'];
  const del = await request(t.app).delete('/identity/v3/auth/tokens').set('X-Auth-Token', tok.admin).set('X-Subject-Token', tok.revoked);
  expect(del.status).toBe(204);
});

afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log(`authorization matrix: ${rows.length} endpoints, ${cells} cells checked`);
  await t.close();
});

describe.each(['none', 'garbage', 'expired', 'wrongSecret', 'tampered', 'forged', 'revoked'])('with a %s token', (kind) => {
  test.each(rows.map((r, i) => [`${r.method.toUpperCase()} endpoint #${i}`, r] as const))('%s answers 401', async (_n, row) => {
    const res = await call(row, kind === 'none' ? undefined : tok[kind]);
    expect({ path: row.path(), status: res.status }).toEqual({ path: row.path(), status: 401 });
    expect(res.headers['www-authenticate']).toMatch(/^Keystone uri=/);
  });
});

test("another project's server and private image are 404 on every owned endpoint", async () => {
  for (const row of rows.filter((r) => r.owned && !r.adminOnly)) {
    const res = await call(row, tok.alt);
    expect({ call: `${row.method} ${row.path()}`, status: res.status }).toEqual({ call: `${row.method} ${row.path()}`, status: 404 });
  }
});

test("another project's resources do not appear in its lists", async () => {
  const servers = await request(t.app).get('/compute/v2.1/servers/detail').set('X-Auth-Token', tok.alt);
  expect(servers.status).toBe(200);
  expect(servers.body.servers.map((s: { id: string }) => s.id)).not.toContain(ids.server);
  const images = await request(t.app).get('/image/v2/images').set('X-Auth-Token', tok.alt);
  expect(images.status).toBe(200);
  expect(images.body.images.map((i: { id: string }) => i.id)).not.toContain(ids.image);
  cells += 2;
});

test('a reader can read but every write is 403', async () => {
  for (const row of rows.filter((r) => !r.adminOnly)) {
    const res = await call(row, tok.viewer);
    const call_ = `${row.method} ${row.path()}`;
    if (row.write) expect({ call: call_, status: res.status }).toEqual({ call: call_, status: 403 });
    else expect({ call: call_, ok: res.status >= 200 && res.status < 300 }).toEqual({ call: call_, ok: true });
  }
});

test('admin-only endpoints refuse members (403) and readers (403)', async () => {
  for (const row of rows.filter((r) => r.adminOnly)) {
    for (const who of ['demo', 'viewer']) {
      const res = await call(row, tok[who]);
      const call_ = `${who} ${row.method} ${row.path()}`;
      expect({ call: call_, status: res.status }).toEqual({ call: call_, status: 403 });
    }
  }
});

test('admin sees every project: the demo server and image are visible to admin', async () => {
  const s = await request(t.app).get(`/compute/v2.1/servers/${ids.server}`).set('X-Auth-Token', tok.admin);
  expect(s.status).toBe(200);
  const i = await request(t.app).get(`/image/v2/images/${ids.image}`).set('X-Auth-Token', tok.admin);
  expect(i.status).toBe(200);
  cells += 2;
});
