/**
 * The network service's core (issue 17) with the Debian `openstack` CLI and openstacksdk, as a
 * user drives them: the project's default network, network and subnet create (--subnet-range),
 * a port with a fixed IP, Neutron's errors as the CLI prints them, the network quota, and a boot
 * with `--network private` now resolved through the Networking API. One novadock for the file.
 * Ranges from 10.210.0.0/16 (net-core's test range); no engine network is made for them here.
 */
import { startServer, StartedServer } from '../helpers/server';
import { openstack, python } from '../helpers/clients';
import type { TestImage } from '../helpers/test-image';
import { json, lines, ok, testImage } from './support';

jest.setTimeout(240_000);

let srv: StartedServer;
let image: TestImage;
const os = (args: string[]) => openstack(args, srv.env.demo);

beforeAll(async () => {
  image = await testImage('e2e-network', false);
  srv = await startServer();
}, 300_000);
afterAll(async () => {
  await srv?.cleanup();
});

describe('networks, subnets and ports with the openstack CLI', () => {
  it('network list shows the project\'s default network `private` with its subnet', async () => {
    const nets = json<Record<string, unknown>[]>(ok(await os(['network', 'list', '-f', 'json'])));
    const priv = nets.find((n) => n.Name === 'private');
    expect(priv).toBeDefined();
    expect(priv!.Subnets).toHaveLength(1);
  });

  it('network create, subnet create --subnet-range, network show', async () => {
    const net = json(ok(await os(['network', 'create', 'net-e2e', '-f', 'json'])));
    expect(net).toMatchObject({ name: 'net-e2e', status: 'ACTIVE', shared: false, 'router:external': false });
    const sub = json(ok(await os(['subnet', 'create', '--network', 'net-e2e', '--subnet-range', '10.210.50.0/24', '--dns-nameserver', '10.210.50.53', 'sub-e2e', '-f', 'json'])));
    expect(sub).toMatchObject({ name: 'sub-e2e', cidr: '10.210.50.0/24', gateway_ip: '10.210.50.1', ip_version: 4, allocation_pools: [{ start: '10.210.50.2', end: '10.210.50.254' }], dns_nameservers: ['10.210.50.53'] });
    expect(json(ok(await os(['network', 'show', 'net-e2e', '-f', 'json', '-c', 'subnets'])))).toEqual({ subnets: [sub.id] });
  });

  it('an overlapping range and a bad one get Neutron\'s errors', async () => {
    const overlap = await os(['subnet', 'create', '--network', 'net-e2e', '--subnet-range', '10.210.50.128/25', 'sub-x']);
    expect(overlap.code).not.toBe(0);
    expect(overlap.stderr).toContain('overlaps with another subnet');
    const bad = await os(['subnet', 'create', '--network', 'net-e2e', '--subnet-range', '10.210.50.5/24', 'sub-y']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("'10.210.50.0/24' is recommended");
  });

  it('port create --fixed-ip, port list --network; the network is in use until the port goes', async () => {
    const port = json(ok(await os(['port', 'create', '--network', 'net-e2e', '--fixed-ip', 'subnet=sub-e2e,ip-address=10.210.50.10', 'p1', '-f', 'json'])));
    expect(port).toMatchObject({ name: 'p1', status: 'DOWN' });
    expect(port.fixed_ips).toEqual([{ subnet_id: expect.any(String), ip_address: '10.210.50.10' }]);
    expect(String(port.mac_address)).toMatch(/^fa:16:3e/);
    const again = await os(['port', 'create', '--network', 'net-e2e', '--fixed-ip', 'ip-address=10.210.50.10', 'p2']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('IP address 10.210.50.10 already allocated in subnet');
    expect(lines(ok(await os(['port', 'list', '--network', 'net-e2e', '-f', 'value', '-c', 'Name'])))).toEqual(['p1']);
    const inUse = await os(['network', 'delete', 'net-e2e']);
    expect(inUse.code).not.toBe(0);
    expect(inUse.stderr).toContain('There are one or more ports still in use on the network');
    ok(await os(['port', 'delete', 'p1']));
    ok(await os(['network', 'delete', 'net-e2e']));
    expect(lines(ok(await os(['network', 'list', '-f', 'value', '-c', 'Name'])))).toEqual(['private']);
  });

  it('quota show has the network section with Neutron\'s defaults; an admin sets one', async () => {
    const q = json(ok(await os(['quota', 'show', '-f', 'json'])));
    expect(q).toMatchObject({ networks: 100, subnets: 100, ports: 500, routers: 10 });
    ok(await openstack(['quota', 'set', '--networks', '7', 'demo'], srv.env.admin));
    expect(json(ok(await os(['quota', 'show', '-f', 'json']))).networks).toBe(7);
  });

  it('openstacksdk lists networks and subnets through the network proxy', async () => {
    const r = ok(await python('import openstack; c = openstack.connect(); print(sorted(n.name for n in c.network.networks())); print(len(list(c.network.subnets())))', srv.env.demo));
    expect(lines(r)).toEqual(["['private']", '1']);
  });
});

describe('the network proxy of openstacksdk', () => {
  it('creates a network, subnet, port, security group and rule, finds the port by its network, and deletes them', async () => {
    const script = [
      'import openstack',
      'c = openstack.connect()',
      "n = c.network.create_network(name='sdk-net')",
      "s = c.network.create_subnet(network_id=n.id, ip_version=4, cidr='10.210.60.0/24', name='sdk-sub')",
      "p = c.network.create_port(network_id=n.id, name='sdk-port', fixed_ips=[{'subnet_id': s.id, 'ip_address': '10.210.60.20'}])",
      "g = c.network.create_security_group(name='sdk-sg')",
      "r = c.network.create_security_group_rule(security_group_id=g.id, direction='ingress', protocol='tcp', port_range_min=80, port_range_max=80, remote_ip_prefix='10.210.60.0/24')",
      "c.network.update_port(p, security_groups=[g.id])",
      "print([x.name for x in c.network.ports(network_id=n.id)])",
      "print(c.network.get_port(p.id).fixed_ips[0]['ip_address'], c.network.get_port(p.id).security_group_ids == [g.id])",
      "print(s.gateway_ip, [x.port_range_min for x in c.network.security_group_rules(security_group_id=g.id) if x.direction == 'ingress'])",
      'c.network.delete_port(p)',
      'c.network.delete_security_group(g)',
      'c.network.delete_network(n)',
      "print(c.network.find_network('sdk-net'))",
    ].join('\n');
    expect(lines(ok(await python(script, srv.env.demo)))).toEqual(["['sdk-port']", '10.210.60.20 True', '10.210.60.1 [80]', 'None']);
  });
});

describe('boot with the network service in the catalog', () => {
  it('server create --network private resolves it through the Networking API and boots on the project network', async () => {
    ok(await os(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'busybox']));
    const r = ok(await os(['server', 'create', '--image', 'busybox', '--flavor', 'm1.tiny', '--network', 'private', '--wait', 'vm-net', '-f', 'value', '-c', 'status']));
    expect(r.stdout.trim()).toBe('ACTIVE');
    expect(ok(await os(['server', 'show', 'vm-net', '-f', 'value', '-c', 'addresses'])).stdout).toMatch(/'private': \['\d+\.\d+\.\d+\.\d+'\]/);
    ok(await os(['server', 'delete', '--wait', 'vm-net']));
  });

  it('openstacksdk boots on its own network with a fixed IP and a group; the server\'s port carries both, and goes with it', async () => {
    const script = [
      'import openstack',
      'c = openstack.connect()',
      "n = c.network.create_network(name='sdk-boot-net')",
      "s = c.network.create_subnet(network_id=n.id, ip_version=4, cidr='10.210.61.0/24')",
      "g = c.network.create_security_group(name='sdk-boot-sg')",
      "img = c.image.find_image('busybox'); fl = c.compute.find_flavor('m1.tiny')",
      "v = c.compute.create_server(name='sdk-vm', image_id=img.id, flavor_id=fl.id, networks=[{'uuid': n.id, 'fixed_ip': '10.210.61.30'}], security_groups=[{'name': 'sdk-boot-sg'}])",
      'v = c.compute.wait_for_server(v, wait=180)',
      "ports = list(c.network.ports(device_id=v.id))",
      "print(v.status, v.addresses['sdk-boot-net'][0]['addr'], [(x.fixed_ips[0]['ip_address'], x.status, x.security_group_ids == [g.id]) for x in ports])",
      'c.compute.delete_server(v); c.compute.wait_for_delete(v, wait=180)',
      "print(list(c.network.ports(network_id=n.id)))",
      'c.network.delete_network(n); c.network.delete_security_group(g)',
    ].join('\n');
    expect(lines(ok(await python(script, srv.env.demo)))).toEqual(["ACTIVE 10.210.61.30 [('10.210.61.30', 'ACTIVE', True)]", '[]']);
  });
});
