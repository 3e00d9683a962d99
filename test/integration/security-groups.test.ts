/**
 * Security groups and rules of the Networking API through HTTP (issue 17): Neutron's shapes, the
 * project's default group, who sees what, and every bad input answered with neutron-lib's type and
 * text.
 */
import request from 'supertest';
import { makeTestApp, TestApp } from '../helpers/app';

let h: TestApp;
const N = '/networking/v2.0';

beforeAll(async () => { h = await makeTestApp(); });
afterAll(async () => { await h.close(); });

const as = async (account: 'admin' | 'demo' | 'alt' | 'viewer') => ({ 'X-Auth-Token': await h.token(account) });

async function newGroup(account: 'admin' | 'demo' | 'alt', name: string) {
  const res = await request(h.app).post(`${N}/security-groups`).set(await as(account)).send({ security_group: { name, description: `${name} group` } });
  expect(res.status).toBe(201);
  return res.body.security_group as { id: string; security_group_rules: { id: string }[] };
}

async function newRule(account: 'admin' | 'demo' | 'alt', rule: Record<string, unknown>) {
  return request(h.app).post(`${N}/security-group-rules`).set(await as(account)).send({ security_group_rule: rule });
}

describe('the project default group', () => {
  test('when a project first lists its groups, then its default group is there with Neutron\'s four rules', async () => {
    const res = await request(h.app).get(`${N}/security-groups`).set(await as('demo'));
    expect(res.status).toBe(200);
    const demo = await h.projectId('demo');
    const defaults = res.body.security_groups.filter((g: { name: string }) => g.name === 'default');
    expect(defaults).toHaveLength(1);
    const d = defaults[0];
    expect(d).toMatchObject({ project_id: demo, tenant_id: demo, stateful: true, shared: false, description: 'Default security group', tags: [] });
    expect(d.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const rules = d.security_group_rules.map((r: Record<string, unknown>) => `${r.direction}/${r.ethertype}/${r.remote_group_id === d.id ? 'self' : String(r.remote_group_id)}`).sort();
    expect(rules).toEqual(['egress/IPv4/null', 'egress/IPv6/null', 'ingress/IPv4/self', 'ingress/IPv6/self']);
    expect(d.security_group_rules.every((r: { belongs_to_default_sg: boolean }) => r.belongs_to_default_sg)).toBe(true);
  });

  test('when a member deletes its default group, then it is refused with SecurityGroupCannotRemoveDefault', async () => {
    const list = await request(h.app).get(`${N}/security-groups?name=default`).set(await as('demo'));
    const id = list.body.security_groups[0].id;
    const res = await request(h.app).delete(`${N}/security-groups/${id}`).set(await as('demo'));
    expect(res.status).toBe(409);
    expect(res.body.NeutronError).toEqual({ type: 'SecurityGroupCannotRemoveDefault', message: 'Insufficient rights for removing default security group.', detail: '' });
    const rename = await request(h.app).put(`${N}/security-groups/${id}`).set(await as('demo')).send({ security_group: { name: 'renamed' } });
    expect(rename.status).toBe(409);
    expect(rename.body.NeutronError.type).toBe('SecurityGroupCannotUpdateDefault');
  });
});

describe('groups', () => {
  test('when a member creates, updates, shows and deletes a group, then each answer is Neutron\'s and the group is gone after', async () => {
    const g = await newGroup('demo', 'web');
    expect(g.security_group_rules.map((r) => (r as unknown as { direction: string }).direction)).toEqual(['egress', 'egress']);
    const put = await request(h.app).put(`${N}/security-groups/${g.id}`).set(await as('demo')).send({ security_group: { name: 'web2', description: 'd' } });
    expect(put.status).toBe(200);
    expect(put.body.security_group).toMatchObject({ id: g.id, name: 'web2', description: 'd', revision_number: 3 });
    const show = await request(h.app).get(`${N}/security-groups/${g.id}`).set(await as('demo'));
    expect(show.body.security_group.name).toBe('web2');
    expect((await request(h.app).delete(`${N}/security-groups/${g.id}`).set(await as('demo'))).status).toBe(204);
    const gone = await request(h.app).get(`${N}/security-groups/${g.id}`).set(await as('demo'));
    expect(gone.status).toBe(404);
    expect(gone.body.NeutronError).toEqual({ type: 'SecurityGroupNotFound', message: `Security group ${g.id} does not exist`, detail: '' });
  });

  test('when another project asks for a group, then it is not found; an admin sees every project\'s', async () => {
    const g = await newGroup('demo', 'private-one');
    expect((await request(h.app).get(`${N}/security-groups/${g.id}`).set(await as('alt'))).status).toBe(404);
    expect((await request(h.app).delete(`${N}/security-groups/${g.id}`).set(await as('alt'))).status).toBe(404);
    const altList = await request(h.app).get(`${N}/security-groups`).set(await as('alt'));
    expect(altList.body.security_groups.map((x: { id: string }) => x.id)).not.toContain(g.id);
    const adminList = await request(h.app).get(`${N}/security-groups?fields=id&fields=name`).set(await as('admin'));
    expect(adminList.body.security_groups).toContainEqual({ id: g.id, name: 'private-one' });
  });

  test('when a port uses a group, then deleting it is refused with SecurityGroupInUse', async () => {
    const g = await newGroup('demo', 'used');
    const demo = await h.projectId('demo');
    const at = new Date().toISOString();
    await h.db('networks').insert({ id: 'sg-net-1', project_id: demo, name: 'n', created_at: at, updated_at: at });
    await h.db('ports').insert({ id: 'sg-port-1', network_id: 'sg-net-1', project_id: demo, mac_address: 'fa:16:3e:00:00:01', created_at: at, updated_at: at });
    await h.db('port_security_groups').insert({ port_id: 'sg-port-1', security_group_id: g.id });
    try {
      const res = await request(h.app).delete(`${N}/security-groups/${g.id}`).set(await as('demo'));
      expect(res.status).toBe(409);
      expect(res.body.NeutronError).toEqual({ type: 'SecurityGroupInUse', message: `Security Group ${g.id} in use.`, detail: '' });
    } finally {
      await h.db('ports').where({ id: 'sg-port-1' }).delete();
      await h.db('networks').where({ id: 'sg-net-1' }).delete();
    }
    expect((await request(h.app).delete(`${N}/security-groups/${g.id}`).set(await as('demo'))).status).toBe(204);
  });

  test('when a list is paged, then the next link carries the marker', async () => {
    await newGroup('alt', 'page-a');
    await newGroup('alt', 'page-b');
    const res = await request(h.app).get(`${N}/security-groups?limit=1&sort_key=name&sort_dir=desc`).set(await as('alt'));
    expect(res.body.security_groups).toHaveLength(1);
    expect(res.body.security_groups[0].name).toBe('page-b');
    expect(res.body.security_groups_links[0].href).toContain(`marker=${res.body.security_groups[0].id}`);
  });

  test.each([
    [{ security_group: { name: 'default' } }, 409, 'SecurityGroupDefaultAlreadyExists', 'Default security group already exists.'],
    [{ security_group: { name: 'x', colour: 'red' } }, 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'colour'"],
    [{ security_group: { name: 5 } }, 400, 'HTTPBadRequest', 'Invalid input for name. Reason: 5 is not a valid string.'],
    [{ security_group: { name: 'n'.repeat(256) } }, 400, 'HTTPBadRequest', `Invalid input for name. Reason: '${'n'.repeat(256)}' exceeds maximum length of 255.`],
    [{ security_group: { stateful: 'maybe' } }, 400, 'InvalidInput', "Invalid input for operation: 'maybe' cannot be converted to boolean."],
    [{ security_group: 'x' }, 400, 'HTTPBadRequest', "Object 'security_group' contains invalid data"],
    [{ group: {} }, 400, 'HTTPBadRequest', "Unable to find 'security_group' in request body"],
    [{}, 400, 'HTTPBadRequest', 'Resource body required'],
  ])('when a group is created from %j, then %i %s', async (body, status, type, message) => {
    const res = await request(h.app).post(`${N}/security-groups`).set(await as('demo')).send(body);
    expect(res.status).toBe(status);
    expect(res.body.NeutronError).toEqual({ type, message, detail: '' });
  });
});

describe('rules', () => {
  let g: { id: string };
  let other: { id: string };
  beforeAll(async () => {
    g = await newGroup('demo', 'rules');
    other = await newGroup('demo', 'peers');
  });

  test('when a tcp rule is made, shown and deleted, then it reads back as given and its group lists it', async () => {
    const res = await newRule('demo', { security_group_id: g.id, direction: 'ingress', protocol: 'TCP', port_range_min: '8080', port_range_max: 8080, remote_ip_prefix: '10.230.1.7/24' });
    expect(res.status).toBe(201);
    const rule = res.body.security_group_rule;
    expect(rule).toMatchObject({ security_group_id: g.id, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '10.230.1.7/24', normalized_cidr: '10.230.1.0/24', remote_group_id: null, belongs_to_default_sg: false });
    const group = await request(h.app).get(`${N}/security-groups/${g.id}`).set(await as('demo'));
    expect(group.body.security_group.security_group_rules.map((r: { id: string }) => r.id)).toContain(rule.id);
    const again = await newRule('demo', { security_group_id: g.id, direction: 'ingress', protocol: '6', port_range_min: 8080, port_range_max: 8080, remote_ip_prefix: '10.230.1.7/24' });
    expect(again.status).toBe(409);
    expect(again.body.NeutronError).toEqual({ type: 'SecurityGroupRuleExists', message: `Security group rule already exists. Rule id is ${rule.id}.`, detail: '' });
    const listed = await request(h.app).get(`${N}/security-group-rules?security_group_id=${g.id}&protocol=tcp`).set(await as('demo'));
    expect(listed.body.security_group_rules.map((r: { id: string }) => r.id)).toEqual([rule.id]);
    expect((await request(h.app).get(`${N}/security-group-rules/${rule.id}`).set(await as('alt'))).status).toBe(404);
    expect((await request(h.app).delete(`${N}/security-group-rules/${rule.id}`).set(await as('demo'))).status).toBe(204);
    const gone = await request(h.app).get(`${N}/security-group-rules/${rule.id}`).set(await as('demo'));
    expect(gone.body.NeutronError).toEqual({ type: 'SecurityGroupRuleNotFound', message: `Security group rule ${rule.id} does not exist`, detail: '' });
  });

  test('when a rule names a remote group, then the group must be visible; an address alone becomes a host prefix', async () => {
    const ok = await newRule('demo', { security_group_id: g.id, direction: 'ingress', remote_group_id: other.id });
    expect(ok.status).toBe(201);
    const alts = await newGroup('alt', 'not-yours');
    const hidden = await newRule('demo', { security_group_id: g.id, direction: 'ingress', remote_group_id: alts.id });
    expect(hidden.status).toBe(404);
    expect(hidden.body.NeutronError.type).toBe('SecurityGroupNotFound');
    const host = await newRule('demo', { security_group_id: g.id, direction: 'egress', protocol: 'icmp', port_range_min: 8, remote_ip_prefix: '10.230.0.9' });
    expect(host.body.security_group_rule).toMatchObject({ remote_ip_prefix: '10.230.0.9/32', port_range_min: 8, port_range_max: null });
    const whole = await newRule('demo', { security_group_id: g.id, direction: 'egress', protocol: 'udp', port_range_min: 1, port_range_max: 65535 });
    expect(whole.body.security_group_rule).toMatchObject({ port_range_min: null, port_range_max: null });
    const desc = await request(h.app).put(`${N}/security-group-rules/${host.body.security_group_rule.id}`).set(await as('demo')).send({ security_group_rule: { description: 'ping' } });
    expect(desc.body.security_group_rule.description).toBe('ping');
    const ro = await request(h.app).put(`${N}/security-group-rules/${host.body.security_group_rule.id}`).set(await as('demo')).send({ security_group_rule: { protocol: 'tcp' } });
    expect(ro.body.NeutronError).toEqual({ type: 'HTTPBadRequest', message: 'Cannot update read-only attribute protocol', detail: '' });
  });

  test.each([
    [{ direction: 'sideways' }, 400, 'HTTPBadRequest', "Invalid input for direction. Reason: sideways is not in ['ingress', 'egress']."],
    [{}, 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'direction' not specified"],
    [{ direction: 'ingress', protocol: 'bogus' }, 400, 'SecurityGroupRuleInvalidProtocol', 'Security group rule protocol bogus not supported.'],
    [{ direction: 'ingress', protocol: 256 }, 400, 'SecurityGroupRuleInvalidProtocol', 'Security group rule protocol 256 not supported.'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 90, port_range_max: 80 }, 400, 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 0, port_range_max: 80 }, 400, 'SecurityGroupInvalidPortValue', 'Invalid value for port 0'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 70000 }, 400, 'SecurityGroupInvalidPortValue', 'Invalid value for port 70000'],
    [{ direction: 'ingress', protocol: 'tcp', port_range_min: 'x' }, 400, 'SecurityGroupInvalidPortValue', 'Invalid value for port x'],
    [{ direction: 'ingress', port_range_min: 80, port_range_max: 80 }, 400, 'SecurityGroupProtocolRequiredWithPorts', 'Must also specify protocol if port range is given.'],
    [{ direction: 'ingress', protocol: 'icmp', port_range_min: 300 }, 400, 'SecurityGroupInvalidIcmpValue', 'Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.'],
    [{ direction: 'ingress', protocol: 'icmp', port_range_max: 3 }, 400, 'SecurityGroupMissingIcmpType', 'ICMP code (port-range-max) 3 is provided but ICMP type (port-range-min) is missing.'],
    [{ direction: 'ingress', protocol: 'gre', port_range_min: 1, port_range_max: 2 }, 400, 'SecurityGroupInvalidProtocolForPort', 'Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE.'],
    [{ direction: 'ingress', ethertype: 'IPv5' }, 400, 'SecurityGroupRuleInvalidEtherType', "Security group rule for ethertype 'IPv5' not supported. Allowed values are ['IPv4', 'IPv6']."],
    [{ direction: 'ingress', remote_ip_prefix: '10.230.0.0/33' }, 400, 'InvalidCIDR', 'Invalid CIDR 10.230.0.0/33 given as IP prefix.'],
    [{ direction: 'ingress', remote_ip_prefix: '256' }, 400, 'InvalidCIDR', 'Invalid CIDR 256 given as IP prefix.'], // ipaddr.js would read 0.0.1.0 (Tempest's bad prefix)
    [{ direction: 'ingress', ethertype: 'IPv6', remote_ip_prefix: '10.230.0.0/16' }, 400, 'SecurityGroupRuleParameterConflict', 'Conflicting value ethertype IPv6 for CIDR 10.230.0.0/16'],
    [{ direction: 'ingress', protocol: 'ipv6-icmp' }, 400, 'SecurityGroupEthertypeConflictWithProtocol', 'Invalid ethertype IPv4 for protocol ipv6-icmp.'],
    [{ direction: 'ingress', remote_ip_prefix: '10.230.0.0/16', remote_group_id: 'x' }, 400, 'SecurityGroupMultipleRemoteEntites', 'Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.'],
    [{ direction: 'ingress', remote_group_id: 'nope' }, 404, 'SecurityGroupNotFound', 'Security group nope does not exist'],
    [{ direction: 'ingress', shape: 'round' }, 400, 'HTTPBadRequest', "Unrecognized attribute(s) 'shape'"],
  ])('when a rule is %j, then %i %s', async (rule, status, type, message) => {
    const res = await newRule('demo', { security_group_id: g.id, ...rule });
    expect(res.status).toBe(status);
    expect(res.body.NeutronError.type).toBe(type);
    expect(res.body.NeutronError.message.startsWith(message)).toBe(true);
  });

  test('when a rule names a group that is not there, then SecurityGroupNotFound', async () => {
    const res = await newRule('demo', { security_group_id: '5bd7f2f2-5a4d-4b8e-9c2a-000000000000', direction: 'ingress' });
    expect(res.status).toBe(404);
    expect(res.body.NeutronError.message).toBe('Security group 5bd7f2f2-5a4d-4b8e-9c2a-000000000000 does not exist');
  });

  test('when a project has made 100 rules, then the next one is over quota', async () => {
    const alts = await newGroup('alt', 'quota');
    const have = (await request(h.app).get(`${N}/security-group-rules`).set(await as('alt'))).body.security_group_rules.length;
    for (let port = 1; port <= 100 - have; port++) {
      expect((await newRule('alt', { security_group_id: alts.id, direction: 'ingress', protocol: 'tcp', port_range_min: port, port_range_max: port })).status).toBe(201);
    }
    const over = await newRule('alt', { security_group_id: alts.id, direction: 'ingress', protocol: 'tcp', port_range_min: 999, port_range_max: 999 });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError).toEqual({ type: 'OverQuota', message: "Quota exceeded for resources: ['security_group_rule'].", detail: '' });
  });
});
