/**
 * Security groups follow their rows onto servers (issue 17), with the recording firewall: a port
 * joining a group applies its server's rules and those of servers whose groups name that group as
 * remote; a rule added or removed through the API re-applies the group's servers. And the compute
 * API's proxy (os-security-groups, a server's groups, add/removeSecurityGroup) over the same rows.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';
import { RecordingFirewall, Ruleset } from '../../src/virt/firewall';
import { act, bootActive, call, uploadImage } from './servers-support';
import { stableUuid } from '../../src/compute/networks';

/** A server's one port in these tests: an id of a port's length (PostgreSQL holds ids to 36 characters). */
const portIdOf = (serverId: string) => stableUuid('test-port', serverId);

let h: TestApp;
const firewall = new RecordingFirewall();
const N = '/networking/v2.0';

beforeAll(async () => { h = await makeTestApp({ firewall }); });
afterAll(async () => { await h.close(); });

const settle = () => h.services.compute.tasks.idle();

async function portFor(serverId: string, ip: string, groupId: string, projectId: string) {
  const at = new Date().toISOString();
  const id = portIdOf(serverId);
  await h.db('ports').insert({ id, network_id: 'enf-net', project_id: projectId, mac_address: `fa:16:3e:00:00:${ip.split('.')[3].padStart(2, '0')}`, device_id: serverId, device_owner: 'compute:nova', host: 'h1', status: 'ACTIVE', created_at: at, updated_at: at });
  await h.db('ip_allocations').insert({ subnet_id: 'enf-subnet', ip_address: ip, port_id: id, network_id: 'enf-net' });
  await h.db('port_security_groups').insert({ port_id: id, security_group_id: groupId });
  await h.services.portEvents.emit(serverId);
  await settle();
}

const rulesOf = (serverId: string) => (firewall.applied.get(serverId)?.policy as Ruleset).rules;

test('when ports join groups and rules change, then each concerned server gets its rules again', async () => {
  const token = await h.token('demo');
  const projectId = await h.projectId('demo');
  const at = new Date().toISOString();
  await h.db('networks').insert({ id: 'enf-net', project_id: projectId, name: 'enf', created_at: at, updated_at: at });
  await h.db('subnets').insert({ id: 'enf-subnet', network_id: 'enf-net', project_id: projectId, cidr: '10.230.50.0/24', created_at: at, updated_at: at });
  const mk = async (name: string) => (await request(h.app).post(`${N}/security-groups`).set('X-Auth-Token', token).send({ security_group: { name } })).body.security_group.id as string;
  const db = await mk('db');
  const app = await mk('app');
  // db admits the app group's members on 5432.
  const r = await request(h.app).post(`${N}/security-group-rules`).set('X-Auth-Token', token)
    .send({ security_group_rule: { security_group_id: db, direction: 'ingress', protocol: 'tcp', port_range_min: 5432, port_range_max: 5432, remote_group_id: app } });
  expect(r.status).toBe(201);

  await portFor('srv-db', '10.230.50.2', db, projectId);
  expect(firewall.applied.get('srv-db')?.host).toBe('h1');
  expect(rulesOf('srv-db')).toContainEqual({ direction: 'ingress', family: 4, protocol: 6, ports: { min: 5432, max: 5432 }, remote: [] });

  await portFor('srv-app', '10.230.50.3', app, projectId);
  expect(rulesOf('srv-db')).toContainEqual({ direction: 'ingress', family: 4, protocol: 6, ports: { min: 5432, max: 5432 }, remote: ['10.230.50.3/32'] });

  const ssh = await request(h.app).post(`${N}/security-group-rules`).set('X-Auth-Token', token)
    .send({ security_group_rule: { security_group_id: app, direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '10.230.60.0/24' } });
  await settle();
  expect(rulesOf('srv-app')).toContainEqual({ direction: 'ingress', family: 4, protocol: 6, ports: { min: 22, max: 22 }, remote: ['10.230.60.0/24'] });
  await request(h.app).delete(`${N}/security-group-rules/${ssh.body.security_group_rule.id}`).set('X-Auth-Token', token);
  await settle();
  expect(rulesOf('srv-app').some((x) => x.ports?.min === 22)).toBe(false);

  // A stopped container is skipped; the reconciler applies its rules when it runs again.
  firewall.stopped.add('srv-app');
  expect(await h.services.securityGroupEnforcement.applyServer('srv-app')).toBe('notRunning');
  expect(await h.services.securityGroupEnforcement.applyServer('no-ports')).toBe('none');
});

test('when the compute API is asked, then os-security-groups answers from the same groups, in Nova\'s form', async () => {
  const list = await call(h, 'get', '/compute/v2.1/os-security-groups');
  expect(list.status).toBe(200);
  const neutronDefault = (await request(h.app).get(`${N}/security-groups?name=default`).set('X-Auth-Token', await h.token('demo'))).body.security_groups[0];
  const d = list.body.security_groups.find((g: { name: string }) => g.name === 'default');
  expect(d).toMatchObject({ id: neutronDefault.id, tenant_id: await h.projectId('demo'), description: 'Default security group' });
  expect(d.rules).toContainEqual({ id: expect.any(String), parent_group_id: d.id, ip_protocol: null, from_port: null, to_port: null, group: { name: 'default', tenant_id: await h.projectId('demo') }, ip_range: {} });
  expect(d.rules).toHaveLength(2);

  const made = await call(h, 'post', '/compute/v2.1/os-security-groups', { body: { security_group: { name: 'nova-made', description: 'from nova' } } });
  expect(made.status).toBe(200);
  expect(made.body.security_group).toMatchObject({ name: 'nova-made', description: 'from nova', rules: [] });
  const id = made.body.security_group.id;
  expect((await call(h, 'get', `/compute/v2.1/os-security-groups/${id}`)).body.security_group.name).toBe('nova-made');
  expect((await call(h, 'get', '/compute/v2.1/os-security-groups/not-a-uuid')).body).toEqual({ badRequest: { code: 400, message: 'Security group id should be uuid' } });
  expect((await call(h, 'get', `/compute/v2.1/os-security-groups/${id}`, { as: 'alt' })).body).toEqual({ itemNotFound: { code: 404, message: `Security group ${id} not found.` } });
  expect((await call(h, 'delete', `/compute/v2.1/os-security-groups/${id}`)).status).toBe(202);
  expect((await call(h, 'get', `/compute/v2.1/os-security-groups/${id}`)).status).toBe(404);
});

test('when a server is added to a group and removed, then the port made at boot carries the membership, its rules follow, and so does the server', async () => {
  const projectId = await h.projectId('demo');
  const image = await uploadImage(h);
  const serverId = await bootActive(h, image);
  const [port] = await h.db('ports').where({ device_id: serverId }).pluck('id');
  const defaultId = (await request(h.app).get(`${N}/security-groups?name=default`).set('X-Auth-Token', await h.token('demo'))).body.security_groups[0].id;
  expect(await h.db('port_security_groups').where({ port_id: port }).pluck('security_group_id')).toEqual([defaultId]);
  const token = await h.token('demo');
  const web = (await request(h.app).post(`${N}/security-groups`).set('X-Auth-Token', token).send({ security_group: { name: 'nova-web' } })).body.security_group.id;
  await request(h.app).post(`${N}/security-group-rules`).set('X-Auth-Token', token)
    .send({ security_group_rule: { security_group_id: web, direction: 'ingress', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '10.230.70.0/24' } });

  expect((await act(h, serverId, { addSecurityGroup: { name: 'nova-web' } })).status).toBe(202);
  await settle();
  expect((await h.db('port_security_groups').where({ port_id: port }).pluck('security_group_id')).sort()).toEqual([defaultId, web].sort());
  expect(rulesOf(serverId)).toContainEqual({ direction: 'ingress', family: 4, protocol: 6, ports: { min: 8080, max: 8080 }, remote: ['10.230.70.0/24'] });
  const shown = await call(h, 'get', `/compute/v2.1/servers/${serverId}/os-security-groups`);
  expect(shown.body.security_groups.map((g: { name: string }) => g.name).sort()).toEqual(['default', 'nova-web']);
  expect((await call(h, 'get', `/compute/v2.1/servers/${serverId}`)).body.server.security_groups.map((g: { name: string }) => g.name).sort()).toEqual(['default', 'nova-web']);

  expect((await act(h, serverId, { addSecurityGroup: { name: 'nosuch' } })).body).toEqual({ itemNotFound: { code: 404, message: `Security group nosuch is not found for project ${projectId}` } });
  expect((await act(h, serverId, { removeSecurityGroup: { name: 'nova-web' } })).status).toBe(202);
  await settle();
  expect(rulesOf(serverId).some((r) => r.ports?.min === 8080)).toBe(false);
  expect((await act(h, serverId, { removeSecurityGroup: { name: 'nova-web' } })).body).toEqual({ itemNotFound: { code: 404, message: `Security group nova-web not associated with the instance ${serverId}` } });
  expect((await act(h, serverId, { addSecurityGroup: { name: 'nova-web' } }, { as: 'alt' })).status).toBe(404);
  expect((await call(h, 'get', `/compute/v2.1/servers/${serverId}`)).body.server.security_groups).toEqual([{ name: 'default' }]);
  expect((await call(h, 'delete', `/compute/v2.1/servers/${serverId}`)).status).toBe(204);
  await h.services.compute.tasks.idle();
  expect(await h.db('ports').where({ device_id: serverId }).pluck('id')).toEqual([]);
});

test('when a rule is made through os-security-group-rules, then it is an ingress rule of the group, in Nova\'s form', async () => {
  const made = await call(h, 'post', '/compute/v2.1/os-security-groups', { body: { security_group: { name: 'nova-rules', description: '' } } });
  const id = made.body.security_group.id;
  const rule = await call(h, 'post', '/compute/v2.1/os-security-group-rules', { body: { security_group_rule: { parent_group_id: id, ip_protocol: 'tcp', from_port: 8080, to_port: 8080, cidr: '10.230.80.0/24' } } });
  expect(rule.status).toBe(200);
  expect(rule.body.security_group_rule).toEqual({ id: expect.any(String), parent_group_id: id, ip_protocol: 'tcp', from_port: 8080, to_port: 8080, group: {}, ip_range: { cidr: '10.230.80.0/24' } });
  const icmp = await call(h, 'post', '/compute/v2.1/os-security-group-rules', { body: { security_group_rule: { parent_group_id: id, ip_protocol: 'icmp', from_port: -1, to_port: -1 } } });
  expect(icmp.body.security_group_rule).toMatchObject({ ip_protocol: 'icmp', from_port: -1, to_port: -1, ip_range: { cidr: '0.0.0.0/0' } });
  const bad = await call(h, 'post', '/compute/v2.1/os-security-group-rules', { body: { security_group_rule: { parent_group_id: id, ip_protocol: 'tcp', from_port: 90, to_port: 80 } } });
  expect(bad.body).toEqual({ badRequest: { code: 400, message: 'For TCP/UDP protocols, port_range_min must be <= port_range_max' } });
  const neutronSide = await request(h.app).get(`${N}/security-group-rules/${rule.body.security_group_rule.id}`).set('X-Auth-Token', await h.token('demo'));
  expect(neutronSide.body.security_group_rule).toMatchObject({ direction: 'ingress', protocol: 'tcp', port_range_min: 8080, remote_ip_prefix: '10.230.80.0/24' });
  expect((await call(h, 'delete', `/compute/v2.1/os-security-group-rules/${rule.body.security_group_rule.id}`)).status).toBe(202);
  expect((await call(h, 'delete', `/compute/v2.1/os-security-group-rules/${rule.body.security_group_rule.id}`)).status).toBe(404);
});

test('a server of a project that never listed its groups leaves `default` and joins it again (Tempest\'s remove-all-groups walk)', async () => {
  const image = await uploadImage(h, { as: 'alt' });
  const serverId = await bootActive(h, image, {}, { as: 'alt' });
  expect((await act(h, serverId, { removeSecurityGroup: { name: 'default' } }, { as: 'alt' })).status).toBe(202);
  expect((await call(h, 'get', `/compute/v2.1/servers/${serverId}`, { as: 'alt' })).body.server.security_groups ?? []).toEqual([]);
  expect((await act(h, serverId, { addSecurityGroup: { name: 'default' } }, { as: 'alt' })).status).toBe(202);
});
