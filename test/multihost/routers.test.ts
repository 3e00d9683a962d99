/**
 * A router across two compute hosts (issue 17), with the stock `openstack` CLI: two engines in
 * network namespaces of their own, in one swarm, so each network is an overlay spanning both.
 * Two networks of one project, a server on each, on different hosts, reach each other only while
 * a router joins their subnets: its container (on one host) forwards between the overlays and each
 * server gets a route through it. A server booted after the router gets its route too; removing an
 * interface stops the traffic and takes the routes away; deleting the router leaves no container
 * on either host. Ranges 10.245.30.0/24 and 10.245.31.0/24 live only on the test's overlays.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { busyboxImage } from '../helpers/test-image';
import { ClientEnv, startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, lines, ok, poll } from '../e2e/support';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { dockerOn, pings, reaches, removeRun } from './support';

jest.setTimeout(600_000);

const tag = crypto.randomBytes(3).toString('hex');
const NETA = '10.245.30.0/24';
const NETB = '10.245.31.0/24';
const names = ['h1', 'h2'].map((h) => `mr-${tag}-${h}`);
const IMAGE = 'mh-router';
/** scripts/engines.sh's namespace of engine `host<i>`. */
const netnsPath = (h: TestEngine) => `/var/run/netns/novadock-h${h.name.replace(/^host/, '')}`;
/** Rules naming the test's ranges in the machine's own namespace (the hosts' routes between subnets must not go there). */
const machineRules = () => execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(NETA) || l.includes(NETB));

let engines: Engines;
let hosts: TestEngine[];
let srv: StartedServer;
let a: ClientEnv;

interface Booted { id: string; ip: string; engine: TestEngine }
const servers: Record<string, Booted> = {};

async function boot(name: string, hostIndex: number, network: string, range: RegExp): Promise<Booted> {
  const r = json<{ id: string; status: string }>(await openstack(['server', 'create', '--image', IMAGE, '--flavor', 'm1.tiny', '--network', network,
    '--availability-zone', `nova:${names[hostIndex]}`, '--wait', '-f', 'json', '-c', 'id', '-c', 'status', name], a, { timeoutMs: 240_000 }));
  expect(r.status).toBe('ACTIVE');
  const shown = json<{ addresses: unknown }>(await openstack(['server', 'show', r.id, '-f', 'json', '-c', 'addresses'], a));
  const ip = range.exec(JSON.stringify(shown.addresses))?.[0];
  if (!ip) throw new Error(`server ${name} shows no address in ${range}: ${JSON.stringify(shown.addresses)}`);
  return { id: r.id, ip, engine: hosts[hostIndex] };
}

/** The routes novadock set in a server (routing protocol 173, src/virt/docker/router-engine.ts). */
async function routesIn(s: Booted): Promise<string> {
  const r = await dockerOn(s.engine, ['inspect', '-f', '{{.State.Pid}}', `novadock-${s.id}`]);
  return execFileSync('nsenter', [`--net=/proc/${r.stdout.trim()}/ns/net`, 'ip', '-4', 'route', 'show', 'proto', '173'], { encoding: 'utf8' });
}

/** Router containers of this test's compute hosts, per host. */
async function routerContainers(): Promise<string[][]> {
  return Promise.all(hosts.map(async (h, i) =>
    (await dockerOn(h, ['ps', '-a', '--format', '{{.Names}}', '--filter', 'label=novadock.router_id', '--filter', `label=novadock.host=${names[i]}`])).stdout.split('\n').filter(Boolean)));
}

/** Both directions, each a few pings (an overlay's first packets may go to learning the way). */
const bothWays = async (x: Booted, y: Booted) => (await reaches(x.engine, x.id, y.ip)) && (await reaches(y.engine, y.id, x.ip));
const neitherWay = async (x: Booted, y: Booted) => !(await pings(x.engine, x.id, y.ip)) && !(await pings(y.engine, y.id, x.ip));

beforeAll(async () => {
  // The test's ranges must be nobody's on this machine.
  for (const cidr of [NETA, NETB]) expect(execFileSync('ip', ['-4', 'route', 'show', 'to', 'match', cidr.replace('0/24', '10')], { encoding: 'utf8' })).not.toContain('10.245.3');
  engines = startEngines(2);
  hosts = engines.hosts;
  // Each host's namespace is its engine's (scripts/engines.sh), as for floating IPs: the hosts' own
  // routes between subnets (NatSync) go there, never into the machine's.
  srv = await startServer({ config: { compute_hosts: hosts.map((h, i) => ({ name: names[i], docker_host: h.docker_host, netns: netnsPath(h) })) } });
  a = srv.env.admin;
  const image = busyboxImage('mh-router', ['/bin/busybox', 'sleep', '100000']);
  ok(await openstack(['image', 'create', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', IMAGE], a, { timeoutMs: 180_000 }));
  for (const [net, cidr] of [['neta', NETA], ['netb', NETB]]) {
    ok(await openstack(['network', 'create', net], a));
    ok(await openstack(['subnet', 'create', '--network', net, '--subnet-range', cidr, `sub-${net}`], a));
  }
  servers.a1 = await boot('a1', 0, 'neta', /10\.245\.30\.\d+/);
  servers.b2 = await boot('b2', 1, 'netb', /10\.245\.31\.\d+/);
}, 600_000);

afterAll(async () => {
  await removeRun(srv, hosts, [busyboxImage('mh-router').imageId]);
  for (const h of hosts ?? []) await new IptablesNat(() => ({ netns: netnsPath(h) })).clear(h.name, undefined, []).catch(() => undefined);
  engines?.stop();
}, 600_000);

test('two networks on two hosts do not reach each other without a router', async () => {
  expect(servers.a1.engine).not.toBe(servers.b2.engine);
  expect(await neitherWay(servers.a1, servers.b2)).toBe(true);
  expect(await routerContainers()).toEqual([[], []]);
});

test('a router joining both subnets routes between the hosts, through one container of its own', async () => {
  ok(await openstack(['router', 'create', 'r1'], a));
  ok(await openstack(['router', 'add', 'subnet', 'r1', 'sub-neta'], a));
  expect(await routerContainers()).toEqual([[], []]); // one subnet: nothing to route yet
  ok(await openstack(['router', 'add', 'subnet', 'r1', 'sub-netb'], a));
  const held = await routerContainers();
  expect(held.flat()).toHaveLength(1);
  expect(await routesIn(servers.a1)).toContain(NETB);
  expect(await routesIn(servers.b2)).toContain(NETA);
  expect(await bothWays(servers.a1, servers.b2)).toBe(true);
  expect(machineRules()).toEqual([]); // the hosts' namespaces are the engines', not the machine's
});

test('a server booted after the router gets its route and is reached across the hosts', async () => {
  servers.b1 = await boot('b1', 0, 'netb', /10\.245\.31\.\d+/);
  expect(await routesIn(servers.b1)).toContain(NETA);
  expect(await bothWays(servers.b1, servers.a1)).toBe(true);
});

test('removing an interface stops the traffic at once and takes the servers\' routes away', async () => {
  ok(await openstack(['router', 'remove', 'subnet', 'r1', 'sub-netb'], a));
  expect(await neitherWay(servers.a1, servers.b2)).toBe(true);
  for (const s of [servers.a1, servers.b2, servers.b1]) expect((await routesIn(s)).trim()).toBe('');
  expect((await routerContainers()).flat()).toHaveLength(0);
});

test('the router back on both, then deleted: no container on either host, and the networks go', async () => {
  ok(await openstack(['router', 'add', 'subnet', 'r1', 'sub-netb'], a));
  expect(await bothWays(servers.a1, servers.b2)).toBe(true);
  ok(await openstack(['router', 'remove', 'subnet', 'r1', 'sub-netb'], a));
  ok(await openstack(['router', 'remove', 'subnet', 'r1', 'sub-neta'], a));
  ok(await openstack(['router', 'delete', 'r1'], a));
  expect((await routerContainers()).flat()).toHaveLength(0);
  ok(await openstack(['server', 'delete', '--wait', servers.a1.id, servers.b2.id, servers.b1.id], a, { timeoutMs: 180_000 }));
  for (const n of ['neta', 'netb']) ok(await openstack(['network', 'delete', n], a));
  expect(await poll(async () => lines(ok(await openstack(['network', 'list', '-f', 'value', '-c', 'Name'], a))).filter((n) => n.startsWith('net')), (v) => v.length === 0, 30_000, 500)).toEqual([]);
});
