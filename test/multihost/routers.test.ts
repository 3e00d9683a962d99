/**
 * A router across two compute hosts (issue 17), with the stock `openstack` CLI: two engines in
 * network namespaces of their own, in one swarm, so each network is an overlay spanning both.
 * Two networks of one project, a server on each, on different hosts, reach each other only while
 * a router joins their subnets: its container (on one host) forwards between the overlays and each
 * server gets a route through it. A server booted after the router gets its route too; removing an
 * interface stops the traffic and takes the routes away; deleting the router leaves no container
 * on either host. Ranges 10.245.30.0/24 and 10.245.31.0/24 live only on the test's overlays.
 *
 * The router's way out: an external network (10.245.32.0/24, a bridge this file makes on the
 * machine, each host's `ext0` a veth on it), the machine's address on it answering HTTP with the
 * caller's address. With the router's gateway set, servers on both hosts reach it as the router's
 * gateway address, held by one host alone; with the gateway cleared, their way out goes.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { busyboxImage } from '../helpers/test-image';
import { ClientEnv, startServer, StartedServer } from '../helpers/server';
import { openstack } from '../helpers/clients';
import { json, lines, ok, poll } from '../e2e/support';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { dockerOn, engineNetns, makeExternalBridge, pings, reaches, removeExternalBridge, removeRun } from './support';

jest.setTimeout(600_000);

const tag = crypto.randomBytes(3).toString('hex');
const NETA = '10.245.30.0/24';
const NETB = '10.245.31.0/24';
const EXT = { cidr: '10.245.32.0/24', gateway: '10.245.32.1' };
const BRIDGE = `ndmr${tag}`;
const names = ['h1', 'h2'].map((h) => `mr-${tag}-${h}`);
const IMAGE = 'mh-router';
/** scripts/engines.sh's namespace of engine `host<i>`. */
const netnsPath = (h: TestEngine) => `/var/run/netns/novadock-h${h.name.replace(/^host/, '')}`;
/** Rules naming the test's ranges in the machine's own namespace (the hosts' routes between subnets must not go there). */
const machineRules = () => execFileSync('iptables-save', [], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(NETA) || l.includes(NETB));
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
/** The machine's end of the external network: answers every GET with the caller's address. */
let outside: http.Server;

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

/** The rules novadock set in a server (protocol 173: its replies' way back by its own host). */
async function rulesIn(s: Booted): Promise<string> {
  const r = await dockerOn(s.engine, ['inspect', '-f', '{{.State.Pid}}', `novadock-${s.id}`]);
  const all = execFileSync('nsenter', [`--net=/proc/${r.stdout.trim()}/ns/net`, 'ip', '-4', 'rule', 'show'], { encoding: 'utf8' });
  return all.split('\n').filter((l) => l.includes('proto 173')).join('\n');
}

/** Router containers of this test's compute hosts, per host. */
async function routerContainers(): Promise<string[][]> {
  return Promise.all(hosts.map(async (h, i) =>
    (await dockerOn(h, ['ps', '-a', '--format', '{{.Names}}', '--filter', 'label=novadock.router_id', '--filter', `label=novadock.host=${names[i]}`])).stdout.split('\n').filter(Boolean)));
}

/**
 * The address the machine's end of the external network sees a server's GET come from (undefined:
 * no answer). Only ever sent to the test's own bridge address.
 */
async function seenOutsideFrom(s: Booted): Promise<string | undefined> {
  // busybox nc, as the floating-IP walk asks (the static busybox's wget crashes resolving an address).
  const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 3 ${EXT.gateway} ${(outside.address() as AddressInfo).port}`;
  for (let i = 0; i < 3; i++) {
    const r = await dockerOn(s.engine, ['exec', `novadock-${s.id}`, '/bin/busybox', 'sh', '-c', get]);
    const body = r.stdout.split('\r\n\r\n')[1]?.trim();
    if (r.code === 0 && body) return body;
  }
  return undefined;
}

/** The test range's /32s on each host's external interface. */
const gatewaysOn = () => hosts.map((h) => sh('ip', ['-n', engineNetns(h), '-4', '-o', 'addr', 'show', 'dev', 'ext0']).match(/10\.245\.32\.\d+(?=\/32)/g) ?? []);

/** Both directions, each a few pings (an overlay's first packets may go to learning the way). */
const bothWays = async (x: Booted, y: Booted) => (await reaches(x.engine, x.id, y.ip)) && (await reaches(y.engine, y.id, x.ip));
const neitherWay = async (x: Booted, y: Booted) => !(await pings(x.engine, x.id, y.ip)) && !(await pings(y.engine, y.id, x.ip));

beforeAll(async () => {
  // The test's ranges must be nobody's on this machine.
  for (const cidr of [NETA, NETB, EXT.cidr]) expect(execFileSync('ip', ['-4', 'route', 'show', 'to', 'match', cidr.replace('0/24', '10')], { encoding: 'utf8' })).not.toContain('10.245.3');
  engines = startEngines(2);
  hosts = engines.hosts;
  // The external network: a bridge on the machine (its address the outside), each host's `ext0` on it.
  makeExternalBridge(BRIDGE, EXT.gateway, hosts, (i) => `10.245.32.${11 + i}`);
  outside = http.createServer((req, res) => res.end(req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? ''));
  await new Promise<void>((resolve) => outside.listen(0, EXT.gateway, resolve));
  // Each host's namespace is its engine's (scripts/engines.sh), as for floating IPs: the hosts' own
  // routes between subnets (NatSync) go there, never into the machine's.
  srv = await startServer({ config: { compute_hosts: hosts.map((h, i) => ({ name: names[i], docker_host: h.docker_host, netns: netnsPath(h), external_interface: 'ext0' })) } });
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
  for (const h of hosts ?? []) await new IptablesNat(() => ({ netns: netnsPath(h) })).clear(h.name, 'ext0', [EXT.cidr]).catch(() => undefined);
  outside?.close();
  removeExternalBridge(BRIDGE, 2);
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

test('with an external gateway, servers on both hosts leave through the router as its gateway address, held by one host alone', async () => {
  ok(await openstack(['network', 'create', '--external', 'ext-net'], a));
  ok(await openstack(['subnet', 'create', '--network', 'ext-net', '--subnet-range', EXT.cidr, '--gateway', EXT.gateway,
    '--allocation-pool', 'start=10.245.32.100,end=10.245.32.150', 'ext-sub'], a));
  ok(await openstack(['router', 'set', '--external-gateway', 'ext-net', 'r1'], a));
  const gw = json<{ external_gateway_info: { external_fixed_ips: { ip_address: string }[] } }>(ok(await openstack(['router', 'show', 'r1', '-f', 'json'], a)))
    .external_gateway_info.external_fixed_ips[0].ip_address;
  expect(gw).toMatch(/^10\.245\.32\.1\d\d$/);
  const home = (await routerContainers()).findIndex((c) => c.length > 0);
  expect(gatewaysOn()).toEqual(hosts.map((_, i) => (i === home ? [gw] : [])));
  for (const s of [servers.a1, servers.b2, servers.b1]) {
    expect(await routesIn(s)).toContain('0.0.0.0/1');
    expect(await rulesIn(s)).toContain('lookup 173');
    expect(await seenOutsideFrom(s)).toBe(gw);
  }
  expect(await bothWays(servers.a1, servers.b2)).toBe(true); // between the subnets as before
  ok(await openstack(['router', 'unset', '--external-gateway', 'r1'], a));
  for (const s of [servers.a1, servers.b2]) {
    expect(await routesIn(s)).not.toContain('0.0.0.0/1');
    expect((await rulesIn(s)).trim()).toBe('');
  }
  expect(gatewaysOn()).toEqual([[], []]);
  expect(await bothWays(servers.a1, servers.b2)).toBe(true);
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
  for (const n of ['neta', 'netb', 'ext-net']) ok(await openstack(['network', 'delete', n], a));
  expect(await poll(async () => lines(ok(await openstack(['network', 'list', '-f', 'value', '-c', 'Name'], a))).filter((n) => n.startsWith('net')), (v) => v.length === 0, 30_000, 500)).toEqual([]);
});
