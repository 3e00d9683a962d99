import { openDb, migrate } from '../../src/db/knex';
import { SecurityGroupRepository } from '../../src/db/security-group-repo';
import { NetworkRepository } from '../../src/db/network-repo';
test('default network and default security group: one each under concurrent first uses, with subnet and rules', async () => {
  const db = openDb(':memory:'); await migrate(db);
  const sg = new SecurityGroupRepository(db);
  const [a, b] = await Promise.all([sg.ensureDefault('p1'), sg.ensureDefault('p1')]);
  expect(a.id).toBe(b.id);
  expect((await sg.rulesOf(a.id)).length).toBe(4);
  const nr = new NetworkRepository(db);
  const n = await nr.ensureDefault({ project_id: 'p', default_for: 'p', name: 'private' }, { project_id: 'p', name: 's', description: '', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', allocation_pools: [{ start: '10.0.0.2', end: '10.0.0.254' }], dns_nameservers: [], host_routes: [], enable_dhcp: true });
  const n2 = await nr.ensureDefault({ project_id: 'p', default_for: 'p', name: 'private' }, { project_id: 'p', name: 's', description: '', ip_version: 4, cidr: '10.0.0.0/24', gateway_ip: '10.0.0.1', allocation_pools: [], dns_nameservers: [], host_routes: [], enable_dhcp: true });
  expect(n2.id).toBe(n.id);
  const subs = await nr.subnetsOf(n.id);
  expect(subs).toHaveLength(1); expect(subs[0].allocation_pools[0].start).toBe('10.0.0.2');
  await db('ports').insert({ id: 'port-1', project_id: 'p', network_id: n.id, name: '', mac_address: 'fa:16:3e:00:00:01', admin_state_up: true, status: 'DOWN', device_id: '', device_owner: '', created_at: '2026-12-05T00:00:00Z', updated_at: '2026-12-05T00:00:00Z' });
  await db('ip_allocations').insert({ subnet_id: subs[0].id, ip_address: '10.0.0.7', port_id: 'port-1', network_id: n.id });
  expect(await nr.moveSubnet(subs[0].id, '10.0.0.0/24', { cidr: '10.0.1.0/24', gateway_ip: '10.0.1.1', allocation_pools: [] }, (ip) => ip.replace('10.0.0.', '10.0.1.'))).toBe(true);
  expect((await nr.getSubnet(subs[0].id))!.revision_number).toBe(1);
  // The addresses given from it moved with it; a second move from the old range is refused.
  expect(await db('ip_allocations').where({ port_id: 'port-1' }).pluck('ip_address')).toEqual(['10.0.1.7']);
  expect(await nr.moveSubnet(subs[0].id, '10.0.0.0/24', { cidr: '10.0.2.0/24', gateway_ip: '10.0.2.1', allocation_pools: [] }, (ip) => ip)).toBe(false);
  await db.destroy();
});
