/**
 * The network service's core through HTTP (issue 17, net-core): networks, subnets and ports at
 * /networking/v2.0 in Neutron's wire format, its policy and errors, IP allocation, quotas.
 * Ranges from 10.210.0.0/16 (this part's test range).
 */
import request from 'supertest';
import { makeTestApp, TestApp, Account } from '../helpers/app';
import { bootActive, call as computeCall, show, uploadImage } from './servers-support';
import { PRIVATE_NETWORK_ID } from '../../src/compute/networks';

let h: TestApp;
beforeAll(async () => { h = await makeTestApp(); });
afterAll(async () => { await h.close(); });

const V2 = '/networking/v2.0';
const call = async (method: 'get' | 'post' | 'put' | 'delete', path: string, body?: unknown, account: Account = 'demo') => {
  const r = request(h.app)[method](`${V2}${path}`).set('X-Auth-Token', await h.token(account));
  return body === undefined ? r : r.send(body as object);
};
const neutronError = (res: request.Response) => res.body.NeutronError as { type: string; message: string; detail: string };

let seq = 0;
/** A network of `account` with one subnet of 10.210.<n>.0/24. */
async function networkWithSubnet(account: Account = 'demo', subnet: Record<string, unknown> = {}) {
  const n = ++seq;
  const net = await call('post', '/networks', { network: { name: `net-${n}` } }, account);
  expect(net.status).toBe(201);
  const sub = await call('post', '/subnets', { subnet: { network_id: net.body.network.id, ip_version: 4, cidr: `10.210.${n}.0/24`, name: `sub-${n}`, ...subnet } }, account);
  expect(sub.status).toBe(201);
  return { network: net.body.network, subnet: sub.body.subnet, n };
}

describe('networks', () => {
  it('lists the project default network `private` with its subnet on first use, in Neutron shape', async () => {
    const res = await call('get', '/networks');
    expect(res.status).toBe(200);
    const priv = res.body.networks.find((n: { name: string }) => n.name === 'private');
    expect(priv).toMatchObject({ status: 'ACTIVE', shared: false, 'router:external': false, admin_state_up: true, project_id: await h.projectId('demo'), tenant_id: await h.projectId('demo'), tags: [] });
    expect(priv.subnets).toHaveLength(1);
    const sub = await call('get', `/subnets/${priv.subnets[0]}`);
    expect(sub.body.subnet).toMatchObject({ network_id: priv.id, ip_version: 4, enable_dhcp: true });
    // the alt project does not see it
    const alt = await call('get', `/networks/${priv.id}`, undefined, 'alt');
    expect(alt.status).toBe(404);
    expect(neutronError(alt)).toEqual({ type: 'NetworkNotFound', message: `Network ${priv.id} could not be found.`, detail: '' });
  });

  it('creates, shows, renames and deletes a network (with its subnets)', async () => {
    const { network, subnet } = await networkWithSubnet();
    expect(network).toMatchObject({ name: expect.stringMatching(/^net-/), subnets: [], mtu: 1500, revision_number: 0 });
    const put = await call('put', `/networks/${network.id}`, { network: { name: 'renamed', description: 'd' } });
    expect(put.body.network).toMatchObject({ name: 'renamed', description: 'd', subnets: [subnet.id], revision_number: 1 });
    expect((await call('delete', `/networks/${network.id}`)).status).toBe(204);
    expect((await call('get', `/networks/${network.id}`)).status).toBe(404);
    expect((await call('get', `/subnets/${subnet.id}`)).status).toBe(404);
  });

  it('keeps shared and router:external to admins (403 PolicyNotAuthorized), and shows shared networks to everyone', async () => {
    const res = await call('post', '/networks', { network: { name: 'x', shared: true } });
    expect(res.status).toBe(403);
    expect(neutronError(res)).toEqual({ type: 'PolicyNotAuthorized', message: '(rule:create_network:shared) is disallowed by policy', detail: '' });
    expect(neutronError(await call('post', '/networks', { network: { 'router:external': true } })).message).toBe('(rule:create_network:router:external) is disallowed by policy');
    const shared = await call('post', '/networks', { network: { name: 'shared-net', shared: true } }, 'admin');
    expect(shared.status).toBe(201);
    expect((await call('get', `/networks/${shared.body.network.id}`, undefined, 'alt')).body.network.shared).toBe(true);
    expect((await call('put', `/networks/${shared.body.network.id}`, { network: { name: 'mine' } }, 'alt')).status).toBe(403);
    expect((await call('delete', `/networks/${shared.body.network.id}`, undefined, 'admin')).status).toBe(204);
  });

  it('answers filters, fields, sort and pages with links', async () => {
    const a = await networkWithSubnet();
    const b = await networkWithSubnet();
    const byName = await call('get', `/networks?name=${a.network.name}&fields=id&fields=name`);
    expect(byName.body.networks).toEqual([{ id: a.network.id, name: a.network.name }]);
    const sorted = await call('get', '/networks?sort_key=name&sort_dir=desc&fields=name');
    const names = sorted.body.networks.map((n: { name: string }) => n.name);
    expect(names).toEqual([...names].sort().reverse());
    const page = await call('get', '/networks?limit=1');
    expect(page.body.networks).toHaveLength(1);
    expect(page.body.networks_links[0]).toMatchObject({ rel: 'next', href: expect.stringContaining(`marker=${page.body.networks[0].id}`) });
    const next = await call('get', `/networks?limit=1&marker=${page.body.networks[0].id}`);
    expect(next.body.networks[0].id > page.body.networks[0].id).toBe(true);
    expect((await call('get', '/networks?sort_key=nosuch')).status).toBe(400);
    for (const x of [a, b]) expect((await call('delete', `/networks/${x.network.id}`)).status).toBe(204);
  });

  it('refuses bad bodies with Neutron errors, never a 500', async () => {
    const cases: [unknown, number, string][] = [
      [{}, 400, "Unable to find 'network' in request body"],
      [{ network: { foo: 1 } }, 400, "Unrecognized attribute(s) 'foo'"],
      [{ network: { name: 5 } }, 400, 'Invalid input for name. Reason: 5 is not a valid string.'],
      [{ network: { id: 'x' } }, 400, "Unrecognized attribute(s) 'id'"],
      [{ network: 'x' }, 400, 'Body contains invalid data'],
    ];
    for (const [body, status, message] of cases) {
      const res = await call('post', '/networks', body);
      expect([res.status, neutronError(res).message]).toEqual([status, message]);
    }
  });
});

describe('subnets', () => {
  it('defaults the gateway to the first address and the pool to the rest; takes DNS servers and host routes', async () => {
    const { network, subnet } = await networkWithSubnet('demo', { dns_nameservers: ['10.210.0.53'], host_routes: [{ destination: '10.211.0.0/16', nexthop: `10.210.${seq}.9` }] });
    expect(subnet).toMatchObject({ gateway_ip: `10.210.${seq}.1`, allocation_pools: [{ start: `10.210.${seq}.2`, end: `10.210.${seq}.254` }], dns_nameservers: ['10.210.0.53'], cidr: `10.210.${seq}.0/24` });
    const noGw = await call('post', '/subnets', { subnet: { network_id: network.id, ip_version: 4, cidr: '10.210.200.0/28', gateway_ip: null } });
    expect(noGw.body.subnet).toMatchObject({ gateway_ip: null, allocation_pools: [{ start: '10.210.200.1', end: '10.210.200.14' }] });
    await call('delete', `/networks/${network.id}`);
  });

  it('answers bad ranges, pools and gateways as Neutron does', async () => {
    const { network, n } = await networkWithSubnet();
    const sub = (s: Record<string, unknown>) => call('post', '/subnets', { subnet: { network_id: network.id, ip_version: 4, ...s } });
    const cases: [Record<string, unknown>, number, string, string][] = [
      [{ cidr: 'abc' }, 400, 'HTTPBadRequest', "Invalid input for cidr. Reason: 'abc' is not a valid IP subnet."],
      [{ cidr: '10.210.201.5/24' }, 400, 'HTTPBadRequest', "Invalid input for cidr. Reason: '10.210.201.5/24' isn't a recognized IP subnet cidr, '10.210.201.0/24' is recommended."],
      [{ cidr: `10.210.${n}.128/25` }, 400, 'InvalidInput', `Invalid input for operation: Requested subnet with cidr: 10.210.${n}.128/25 for network: ${network.id} overlaps with another subnet.`],
      [{ cidr: '10.210.202.0/24', allocation_pools: [{ start: '10.210.202.10', end: '10.210.203.5' }] }, 400, 'OutOfBoundsAllocationPool', 'The allocation pool 10.210.202.10-10.210.203.5 spans beyond the subnet cidr 10.210.202.0/24.'],
      [{ cidr: '10.210.202.0/24', allocation_pools: [{ start: '10.210.202.10', end: '10.210.202.5' }] }, 400, 'InvalidAllocationPool', 'The allocation pool 10.210.202.10-10.210.202.5 is not valid.'],
      [{ cidr: '10.210.202.0/24', allocation_pools: [{ start: '10.210.202.2', end: '10.210.202.20' }, { start: '10.210.202.10', end: '10.210.202.30' }] }, 409, 'OverlappingAllocationPools', 'Found overlapping allocation pools: 10.210.202.2-10.210.202.20 10.210.202.10-10.210.202.30 for subnet 10.210.202.0/24.'],
      [{ cidr: '10.210.202.0/24', gateway_ip: '10.210.202.5', allocation_pools: [{ start: '10.210.202.2', end: '10.210.202.20' }] }, 409, 'GatewayConflictWithAllocationPools', 'Gateway ip 10.210.202.5 conflicts with allocation pool 10.210.202.2-10.210.202.20.'],
      [{ cidr: '10.210.202.0/24', gateway_ip: '10.210.202.255' }, 400, 'InvalidInput', 'Invalid input for operation: Gateway is not valid on subnet.'],
      [{ cidr: '10.210.202.0/24', ip_version: 5 }, 400, 'HTTPBadRequest', 'Invalid input for ip_version. Reason: 5 is not in [4, 6].'],
      [{ cidr: '10.210.202.0/24', dns_nameservers: ['1.1.1.1', '1.1.1.1'] }, 400, 'HTTPBadRequest', "Invalid input for dns_nameservers. Reason: Duplicate nameserver '1.1.1.1'."],
      [{ cidr: '10.210.202.0/24', network_id: undefined }, 400, 'HTTPBadRequest', "Failed to parse request. Required attribute 'network_id' not specified"],
    ];
    for (const [body, status, type, message] of cases) {
      const res = await sub(body);
      expect([res.status, neutronError(res).type, neutronError(res).message]).toEqual([status, type, message]);
    }
    // IPv6: not served (said plainly)
    const v6 = await sub({ cidr: 'fd00::/64', ip_version: 6 });
    expect([v6.status, neutronError(v6).type]).toEqual([400, 'InvalidInput']);
    await call('delete', `/networks/${network.id}`);
  });

  it('refuses a range overlapping another project\'s subnet or the default networks\' pool (Docker cannot hold both)', async () => {
    const mine = await networkWithSubnet('demo');
    const theirs = await call('post', '/networks', { network: { name: 'alt-net' } }, 'alt');
    const res = await call('post', '/subnets', { subnet: { network_id: theirs.body.network.id, ip_version: 4, cidr: mine.subnet.cidr } }, 'alt');
    expect(res.status).toBe(400);
    expect(neutronError(res).message).toContain('of another project');
    const pool = await call('post', '/subnets', { subnet: { network_id: theirs.body.network.id, ip_version: 4, cidr: '10.160.0.0/16' } }, 'alt');
    expect(pool.status).toBe(400);
    expect(neutronError(pool).message).toContain('NOVADOCK_PROJECT_NETWORK_RANGE');
    await call('delete', `/networks/${theirs.body.network.id}`, undefined, 'alt');
    await call('delete', `/networks/${mine.network.id}`);
  });
});

describe('ports', () => {
  it('makes a port with a fa:16:3e MAC, the highest free address, the default group, DOWN', async () => {
    const { network, subnet, n } = await networkWithSubnet();
    const res = await call('post', '/ports', { port: { network_id: network.id, name: 'p1' } });
    expect(res.status).toBe(201);
    const p = res.body.port;
    expect(p).toMatchObject({ name: 'p1', status: 'DOWN', network_id: network.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: `10.210.${n}.254` }], port_security_enabled: true, 'binding:vnic_type': 'normal', allowed_address_pairs: [] });
    expect(p.mac_address).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);
    expect(p.security_groups).toHaveLength(1);
    const second = await call('post', '/ports', { port: { network_id: network.id } });
    expect(second.body.port.fixed_ips[0].ip_address).toBe(`10.210.${n}.253`);
    const byIp = await call('get', `/ports?fixed_ips=ip_address%3D10.210.${n}.253`);
    expect(byIp.body.ports.map((x: { id: string }) => x.id)).toEqual([second.body.port.id]);
    // the network is in use; the subnet too
    const del = await call('delete', `/networks/${network.id}`);
    expect([del.status, neutronError(del).type]).toEqual([409, 'NetworkInUse']);
    const delSub = await call('delete', `/subnets/${subnet.id}`);
    expect([delSub.status, neutronError(delSub).type]).toEqual([409, 'SubnetInUse']);
    for (const x of [p, second.body.port]) expect((await call('delete', `/ports/${x.id}`)).status).toBe(204);
    expect((await call('delete', `/networks/${network.id}`)).status).toBe(204);
  });

  it('gives an address asked for once (409 IpAddressAlreadyAllocated), refuses one outside the subnet, and says when the pool is empty', async () => {
    const { network, subnet } = await networkWithSubnet('demo', { cidr: '10.210.203.0/29' });
    const ask = (ip: string) => call('post', '/ports', { port: { network_id: network.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: ip }] } });
    expect((await ask('10.210.203.5')).status).toBe(201);
    const again = await ask('10.210.203.5');
    expect([again.status, neutronError(again)]).toEqual([409, { type: 'IpAddressAlreadyAllocated', message: `IP address 10.210.203.5 already allocated in subnet ${subnet.id}`, detail: '' }]);
    const outside = await ask('10.210.204.5');
    expect([outside.status, neutronError(outside).type]).toEqual([400, 'InvalidIpForSubnet']);
    // 10.210.203.2-6 less .5: four more, then none
    for (let i = 0; i < 4; i++) expect((await call('post', '/ports', { port: { network_id: network.id } })).status).toBe(201);
    const full = await call('post', '/ports', { port: { network_id: network.id } });
    expect([full.status, neutronError(full)]).toEqual([409, { type: 'IpAddressGenerationFailure', message: `No more IP addresses available on network ${network.id}.`, detail: '' }]);
    // nothing of the failed port stays
    expect((await call('get', `/ports?network_id=${network.id}`)).body.ports).toHaveLength(5);
    for (const p of (await call('get', `/ports?network_id=${network.id}`)).body.ports) await call('delete', `/ports/${p.id}`);
    await call('delete', `/networks/${network.id}`);
  });

  it('updates fixed IPs and groups; port security off needs no groups', async () => {
    const { network, subnet, n } = await networkWithSubnet();
    const p = (await call('post', '/ports', { port: { network_id: network.id, port_security_enabled: false } })).body.port;
    expect(p.security_groups).toEqual([]);
    const bad = await call('post', '/ports', { port: { network_id: network.id, port_security_enabled: false, security_groups: [p.id] } });
    expect(bad.status).toBe(404); // no such group
    const moved = await call('put', `/ports/${p.id}`, { port: { fixed_ips: [{ subnet_id: subnet.id, ip_address: `10.210.${n}.77` }], name: 'moved' } });
    expect(moved.body.port).toMatchObject({ name: 'moved', fixed_ips: [{ subnet_id: subnet.id, ip_address: `10.210.${n}.77` }] });
    const again = await call('post', '/ports', { port: { network_id: network.id, fixed_ips: [{ ip_address: `10.210.${n}.2` }] } });
    expect(again.status).toBe(201); // .2 was freed by the move
    const other = await call('get', `/ports/${p.id}`, undefined, 'alt');
    expect(other.status).toBe(404);
    for (const x of [p, again.body.port]) await call('delete', `/ports/${x.id}`);
    await call('delete', `/networks/${network.id}`);
  });
});

describe('quotas', () => {
  it('shows Neutron\'s defaults, lets an admin set a limit, and enforces it (409 OverQuota)', async () => {
    const pid = await h.projectId('alt');
    const show = await call('get', `/quotas/${pid}`, undefined, 'alt');
    expect(show.body.quota).toEqual({ network: 100, subnet: 100, port: 500, security_group: 10, security_group_rule: 100, floatingip: 50, router: 10 });
    expect((await call('put', `/quotas/${pid}`, { quota: { network: 2 } }, 'alt')).status).toBe(403);
    expect((await call('put', `/quotas/${pid}`, { quota: { network: 2 } }, 'admin')).body.quota.network).toBe(2);
    expect((await call('get', '/quotas', undefined, 'admin')).body.quotas).toEqual([expect.objectContaining({ project_id: pid, network: 2, port: 500 })]);
    await call('get', '/networks', undefined, 'alt'); // the default network counts
    const made = await call('post', '/networks', { network: { name: 'q1' } }, 'alt');
    expect(made.status).toBe(201);
    const over = await call('post', '/networks', { network: { name: 'q2' } }, 'alt');
    expect([over.status, neutronError(over)]).toEqual([409, { type: 'OverQuota', message: "Quota exceeded for resources: ['network'].", detail: '' }]);
    const details = await call('get', `/quotas/${pid}/details`, undefined, 'alt');
    expect(details.body.quota.network).toEqual({ limit: 2, used: 2, reserved: 0 });
    expect((await call('delete', `/quotas/${pid}`, undefined, 'admin')).status).toBe(204);
    expect((await call('get', `/quotas/${pid}`, undefined, 'alt')).body.quota.network).toBe(100);
    await call('delete', `/networks/${made.body.network.id}`, undefined, 'alt');
  });
});

describe('the compute side', () => {
  it('boots on the default network by its Networking API id (what OSC sends once `private` resolves through Neutron), and by the old pseudo id', async () => {
    const image = await uploadImage(h);
    const priv = (await call('get', '/networks?name=private')).body.networks[0];
    for (const uuid of [priv.id, PRIVATE_NETWORK_ID]) {
      const id = await bootActive(h, image, { networks: [{ uuid }] });
      expect(Object.keys((await show(h, id)).addresses)).toEqual(['private']);
      // the default network cannot go while servers use it
      const del = await call('delete', `/networks/${priv.id}`);
      expect([del.status, neutronError(del).type]).toEqual([409, 'NetworkInUse']);
      expect((await computeCall(h, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    }
    await h.services.compute.tasks.idle();
    // another project's default network id is not ours
    const altPriv = (await call('get', '/networks?name=private', undefined, 'alt')).body.networks[0];
    const res = await computeCall(h, 'post', '/compute/v2.1/servers', { body: { server: { name: 'x', imageRef: image, flavorRef: '1', networks: [{ uuid: altPriv.id }] } } });
    expect(res.status).toBe(400);
  });

  it('boots in the default security group named by its id, as Horizon sends it once the network service is there; another project\'s group id is a 400', async () => {
    const image = await uploadImage(h);
    const sgs = (await call('get', '/security-groups?name=default')).body.security_groups;
    expect(sgs).toHaveLength(1);
    const id = await bootActive(h, image, { security_groups: [{ name: sgs[0].id }] });
    expect((await show(h, id)).security_groups).toEqual([{ name: 'default' }]);
    expect((await computeCall(h, 'delete', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await h.services.compute.tasks.idle();
    const altSg = (await call('get', '/security-groups?name=default', undefined, 'alt')).body.security_groups[0];
    const res = await computeCall(h, 'post', '/compute/v2.1/servers', { body: { server: { name: 'x', imageRef: image, flavorRef: '1', security_groups: [{ name: altSg.id }] } } });
    expect([res.status, res.body.badRequest?.message]).toEqual([400, `Security group ${altSg.id} not found for project ${await h.projectId('demo')}.`]);
  });

  it('os-networks lists the caller\'s networks: the default one under its pseudo id (any project boots with it), the others by their own', async () => {
    const { network } = await networkWithSubnet();
    const list = await computeCall(h, 'get', '/compute/v2.1/os-networks');
    expect(list.body.networks.map((n: { id: string; label: string }) => [n.id, n.label])).toEqual(expect.arrayContaining([[PRIVATE_NETWORK_ID, 'private'], [network.id, network.name]]));
    expect((await computeCall(h, 'get', `/compute/v2.1/os-networks/${network.id}`)).body.network.label).toBe(network.name);
    expect((await computeCall(h, 'get', `/compute/v2.1/os-networks/${network.id}`, { as: 'alt' })).status).toBe(404);
    await call('delete', `/networks/${network.id}`);
  });
});
