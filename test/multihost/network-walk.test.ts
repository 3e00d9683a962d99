/**
 * The network service's user walk on two compute hosts (issue 17), with the stock `openstack` CLI:
 * two engines, each in a network namespace of its own and on an external network of its own
 * (a veth `ext0` in each namespace, on a bridge this file makes on the machine: 10.245.20.0/24,
 * so no packet leaves the machine). A project network spans both hosts (a swarm overlay); a
 * busybox web server on each host; the one on the first host answers on a floating IP from the
 * machine only while a security group rule allows its port, and stops when the rule or the
 * floating IP goes, and moves with it to the second host (a cold migration); another project's
 * server on the second host reaches neither; a network is attached and detached live. Everything made here goes afterwards: servers, networks, the
 * veths and the bridge, the hosts' NAT chains and floating addresses.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { busyboxImage } from '../helpers/test-image';
import { clientEnv, ClientEnv, startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { json, lines, ok, poll } from '../e2e/support';
import { webProbes } from '../e2e/web-probes';
import { dockerOn, makeExternalBridge, removeExternalBridge, removeProjects } from './support';

jest.setTimeout(600_000);

const tag = crypto.randomBytes(3).toString('hex');
const BRIDGE = `ndmx${tag}`;
const EXT = { cidr: '10.245.20.0/24', gateway: '10.245.20.1' };
const MYNET = '10.245.21.0/24';
const ALTNET = '10.245.22.0/24';
const NET2 = '10.245.23.0/24';
const RANGES = [EXT.cidr, MYNET, ALTNET, NET2];
const opsPassword = `ops-${crypto.randomBytes(6).toString('hex')}`;
/** Compute host names of this run (the engines are shared with other files: names of our own). */
const names = ['h1', 'h2'].map((h) => `mw-${tag}-${h}`);
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

let engines: Engines;
let hosts: TestEngine[];
let srv: StartedServer;
let a: ClientEnv;
let b: ClientEnv;

/** scripts/engines.sh's namespace of engine `host<i>`. */
const netnsName = (h: TestEngine) => `novadock-h${h.name.replace(/^host/, '')}`;
const netnsPath = (h: TestEngine) => `/var/run/netns/${netnsName(h)}`;

/** Sends only to the test's own ranges. */
const { ours, hostGet, settles, answers, silent } = webProbes(/^10\.245\.2[0-3]\.\d+$/);

interface Booted { id: string; ip: string; engine: TestEngine }

/** One GET from inside a server's container (busybox nc): the page, or undefined when nothing answers within 2 s. */
async function getFrom(from: Booted, ip: string): Promise<string | undefined> {
  ours(ip);
  const r = await dockerOn(from.engine, ['exec', `novadock-${from.id}`, '/bin/busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${ip} 8080`]);
  const body = r.stdout.split('\r\n\r\n')[1];
  return r.code === 0 && body?.startsWith('hello from') ? body : undefined;
}

/** The IPv4 addresses inside a server's container, loopback aside. */
async function addressesIn(s: Booted): Promise<string[]> {
  const r = await dockerOn(s.engine, ['exec', `novadock-${s.id}`, '/bin/busybox', 'ip', '-4', '-o', 'addr', 'show']);
  if (r.code !== 0) throw new Error(`ip addr in ${s.id}: ${r.stderr}`);
  return [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]).filter((x) => x !== '127.0.0.1').sort();
}

/** The MAC the machine's neighbour table holds for `ip` on the test bridge (undefined: none). */
const neighbourMac = (ip: string): string | undefined =>
  (JSON.parse(sh('ip', ['-j', 'neigh', 'show', ip, 'dev', BRIDGE])) as { lladdr?: string }[])[0]?.lladdr;

/** The floating /32s on a host's external interface. */
const floatingOn = (h: TestEngine) => sh('ip', ['-n', netnsName(h), '-4', '-o', 'addr', 'show', 'dev', 'ext0']);


/** Boots a server on a named compute host (an admin's `nova:<host>`) and reads its one address in `range`. */
async function boot(env: ClientEnv, name: string, hostIndex: number, args: string[], range: RegExp): Promise<Booted> {
  const r = json<{ id: string; status: string }>(await openstack(['server', 'create', '--image', 'mw-web', '--flavor', 'm1.tiny',
    '--availability-zone', `nova:${names[hostIndex]}`, ...args, '--wait', '-f', 'json', '-c', 'id', '-c', 'status', name], env, { timeoutMs: 240_000 }));
  expect(r.status).toBe('ACTIVE');
  const shown = json<{ addresses: unknown }>(await openstack(['server', 'show', r.id, '-f', 'json', '-c', 'addresses'], env));
  const ip = range.exec(JSON.stringify(shown.addresses))?.[0];
  if (!ip) throw new Error(`server ${name} shows no address in ${range}: ${JSON.stringify(shown.addresses)}`);
  return { id: r.id, ip, engine: hosts[hostIndex] };
}

const servers: Record<string, Booted> = {};

beforeAll(async () => {
  // The test's ranges must be nobody's on this machine: no route names them yet.
  for (const cidr of RANGES) expect(sh('ip', ['-4', 'route', 'show', 'to', 'match', cidr.replace('0/24', '10')])).not.toContain('10.245.');
  engines = startEngines(2);
  hosts = engines.hosts;
  // The external network: a bridge on the machine, and each host's `ext0` on it with an address of
  // its own there (the hosts' routes back to the machine; the floating /32s are added beside it).
  makeExternalBridge(BRIDGE, EXT.gateway, hosts, (i) => `10.245.20.${11 + i}`);
  srv = await startServer({
    config: {
      compute_hosts: hosts.map((h, i) => ({ name: names[i], docker_host: h.docker_host, netns: netnsPath(h), external_interface: 'ext0' })),
      projects: [{ name: 'team-b' }],
      // An admin of the second project, so its server too can be placed on a named host.
      users: [{ name: 'ops-b', password: opsPassword, project: 'team-b', roles: ['admin'] }],
    },
  });
  a = srv.env.admin;
  b = clientEnv(srv.url, 'ops-b', opsPassword, 'team-b');
  const image = busyboxImage('e2e-net-traffic', ['/bin/busybox', 'sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www']);
  ok(await openstack(['image', 'create', '--public', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'mw-web'], a, { timeoutMs: 180_000 }));
}, 600_000);

afterAll(async () => {
  const projects = srv ? srv.projectIds() : [];
  await srv?.cleanup();
  if (hosts) {
    await removeProjects(hosts, hosts[0], projects);
    for (const h of hosts) {
      await new IptablesNat(() => ({ netns: netnsPath(h) })).clear(h.name, 'ext0', [EXT.cidr]).catch(() => undefined);
      await dockerOn(h, ['rmi', busyboxImage('e2e-net-traffic').imageId]);
    }
  }
  removeExternalBridge(BRIDGE, 2);
  engines?.stop();
}, 600_000);

test('a network spanning both hosts: a server on each, seen by port and address, reaching each other', async () => {
  ok(await openstack(['network', 'create', '--external', 'ext-net'], a));
  ok(await openstack(['subnet', 'create', '--network', 'ext-net', '--subnet-range', EXT.cidr, '--gateway', EXT.gateway, '--no-dhcp',
    '--allocation-pool', 'start=10.245.20.100,end=10.245.20.150', 'ext-sub'], a));
  ok(await openstack(['network', 'create', 'mynet'], a));
  ok(await openstack(['subnet', 'create', '--network', 'mynet', '--subnet-range', MYNET, 'mysub'], a));
  ok(await openstack(['security', 'group', 'create', 'web'], a));
  const inMynet = /10\.245\.21\.\d+/;
  servers.web1 = await boot(a, 'web1', 0, ['--network', 'mynet', '--security-group', 'web', '--security-group', 'default'], inMynet);
  servers.web2 = await boot(a, 'web2', 1, ['--network', 'mynet'], inMynet);

  const ports = json<{ 'Fixed IP Addresses': unknown; Status: string }[]>(await openstack(['port', 'list', '--server', 'web1', '-f', 'json'], a));
  expect(ports).toHaveLength(1);
  expect(JSON.stringify(ports[0]['Fixed IP Addresses'])).toContain(servers.web1.ip);
  expect(ports[0].Status).toBe('ACTIVE');
  expect(JSON.stringify(json<{ addresses: unknown }>(await openstack(['server', 'show', 'web1', '-f', 'json'], a)).addresses)).toContain('mynet');
  for (const s of [servers.web1, servers.web2]) {
    expect(await addressesIn(s)).toContain(s.ip);
    // Each runs on the host it was placed on.
    expect((await dockerOn(s.engine, ['inspect', '--format', '{{.State.Running}}', `novadock-${s.id}`])).stdout.trim()).toBe('true');
  }
  // Across the hosts, in the project's default group: each gets the other's page at its fixed IP.
  expect(await settles(() => getFrom(servers.web2, servers.web1.ip), (v) => v !== undefined)).toMatch(/^hello from /);
  expect(await settles(() => getFrom(servers.web1, servers.web2.ip), (v) => v !== undefined)).toMatch(/^hello from /);
});

let fip = '';
test('a floating IP on the first host answers from the machine only while a rule allows tcp 8080', async () => {
  fip = json<{ floating_ip_address: string }>(await openstack(['floating', 'ip', 'create', 'ext-net', '-f', 'json'], a)).floating_ip_address;
  expect(fip).toMatch(/^10\.245\.20\.\d+$/);
  // Only the test's bridge leads there: no packet leaves the machine.
  expect(sh('ip', ['route', 'get', fip])).toContain(`dev ${BRIDGE}`);
  ok(await openstack(['server', 'add', 'floating', 'ip', 'web1', fip], a));
  // The address is held by the host the server runs on, and by no other.
  expect(await settles(() => floatingOn(hosts[0]), (v) => v.includes(`${fip}/32`))).toContain(`${fip}/32`);
  expect(floatingOn(hosts[1])).not.toContain(`${fip}/32`);
  expect(await silent(fip)).toBeUndefined();

  const rule = json<{ id: string }>(await openstack(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'web', '-f', 'json'], a));
  expect(await answers(fip)).toMatch(/^hello from /);
  ok(await openstack(['security', 'group', 'rule', 'delete', rule.id], a));
  expect(await silent(fip)).toBeUndefined();
  ok(await openstack(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'web'], a));
  expect(await answers(fip)).toMatch(/^hello from /);
});

test('another project\'s server, beside one of them on the second host, reaches neither, nor is reached', async () => {
  ok(await openstack(['network', 'create', 'altnet'], b));
  ok(await openstack(['subnet', 'create', '--network', 'altnet', '--subnet-range', ALTNET, 'altsub'], b));
  // By id: ops-b is an admin, who sees every project's `default` (as in Neutron, the name is ambiguous then).
  const groups = json<{ ID: string; Name: string }[]>(await openstack(['security', 'group', 'list', '--project', 'team-b', '-f', 'json'], b));
  const bDefault = groups.find((g) => g.Name === 'default')?.ID;
  if (!bDefault) throw new Error(`team-b has no default group: ${JSON.stringify(groups)}`);
  ok(await openstack(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', bDefault], b));
  servers.alt1 = await boot(b, 'alt1', 1, ['--network', 'altnet'], /10\.245\.22\.\d+/);
  // Its web server runs (it answers itself), and web1's group lets anyone in on 8080 (the
  // floating IP answers): what stops it is the network.
  expect(await settles(() => getFrom(servers.alt1, servers.alt1.ip), (v) => v !== undefined)).toMatch(/^hello from /);
  expect(await answers(fip)).toMatch(/^hello from /);
  expect(await getFrom(servers.alt1, servers.web1.ip)).toBeUndefined();
  expect(await getFrom(servers.alt1, servers.web2.ip)).toBeUndefined();
  expect(await getFrom(servers.web2, servers.alt1.ip)).toBeUndefined();
  expect(await getFrom(servers.web1, servers.alt1.ip)).toBeUndefined();
  // And the project's own still reach each other meanwhile.
  expect(await getFrom(servers.web2, servers.web1.ip)).toMatch(/^hello from /);
});

test('the floating IP moves with its server: migrated to the second host, it answers there, and the first host lets go of it', async () => {
  ok(await openstack(['--os-compute-api-version', '2.56', 'server', 'migrate', '--host', names[1], '--wait', 'web1'], a, { timeoutMs: 240_000 }));
  ok(await openstack(['server', 'migration', 'confirm', 'web1'], a));
  expect(await poll(async () => json<{ status: string }>(await openstack(['server', 'show', 'web1', '-f', 'json', '-c', 'status'], a)).status, (st) => st === 'ACTIVE', 120_000, 500)).toBe('ACTIVE');
  servers.web1 = { ...servers.web1, engine: hosts[1] };
  expect((await dockerOn(hosts[1], ['inspect', '--format', '{{.State.Running}}', `novadock-${servers.web1.id}`])).stdout.trim()).toBe('true');
  expect(await settles(() => floatingOn(hosts[1]), (v) => v.includes(`${fip}/32`))).toContain(`${fip}/32`);
  expect(await settles(() => floatingOn(hosts[0]), (v) => !v.includes(`${fip}/32`))).not.toContain(`${fip}/32`);
  // The machine had the first host's MAC for the address (it was asked through it); the second host
  // announces the address (a gratuitous ARP), so the machine's entry changes with no traffic sent
  // to the address meanwhile (an entry nobody uses would otherwise keep the old MAC).
  const ext0Mac = JSON.parse(sh('ip', ['-n', netnsName(hosts[1]), '-j', 'link', 'show', 'ext0']))[0].address as string;
  expect(await settles(() => neighbourMac(fip), (m) => m === ext0Mac)).toBe(ext0Mac);
  expect(await answers(fip)).toMatch(/^hello from /);
});

test('server add network attaches a second interface live on the second host; server remove network takes it away', async () => {
  ok(await openstack(['network', 'create', 'net2'], a));
  ok(await openstack(['subnet', 'create', '--network', 'net2', '--subnet-range', NET2, 'sub2'], a));
  const before = await addressesIn(servers.web2);
  ok(await openstack(['server', 'add', 'network', 'web2', 'net2'], a));
  const withNet2 = await settles(() => addressesIn(servers.web2), (x) => x.length === before.length + 1);
  expect(withNet2.filter((x) => x.startsWith('10.245.23.'))).toHaveLength(1);
  expect(JSON.stringify(json<{ addresses: unknown }>(await openstack(['server', 'show', 'web2', '-f', 'json'], a)).addresses)).toContain('net2');
  ok(await openstack(['server', 'remove', 'network', 'web2', 'net2'], a));
  expect(await settles(() => addressesIn(servers.web2), (x) => x.length === before.length)).toEqual(before);
  expect(lines(ok(await openstack(['port', 'list', '--server', 'web2', '-f', 'value', '-c', 'ID'], a)))).toHaveLength(1);
});

test('server remove floating ip stops it at once; deleting servers and networks leaves nothing on either host', async () => {
  ok(await openstack(['server', 'remove', 'floating', 'ip', 'web1', fip], a));
  expect(hostGet(fip)).toBeUndefined();
  for (const h of hosts) expect(floatingOn(h)).not.toContain(`${fip}/32`);
  ok(await openstack(['floating', 'ip', 'delete', fip], a));
  ok(await openstack(['server', 'delete', '--wait', 'web1', 'web2'], a, { timeoutMs: 180_000 }));
  ok(await openstack(['server', 'delete', '--wait', 'alt1'], b, { timeoutMs: 180_000 }));
  for (const n of ['mynet', 'net2']) ok(await openstack(['network', 'delete', n], a));
  ok(await openstack(['network', 'delete', 'altnet'], b));
  ok(await openstack(['network', 'delete', 'ext-net'], a));
  for (const s of Object.values(servers)) {
    for (const h of hosts) expect((await dockerOn(h, ['ps', '-aq', '--filter', `name=novadock-${s.id}`])).stdout.trim()).toBe('');
  }
});
