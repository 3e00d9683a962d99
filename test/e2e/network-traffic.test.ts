/**
 * The network service with real packets (issue 17), driven with the Debian `openstack` CLI as users
 * drive it, on the machine's engine: an admin's external network on a bridge this file makes
 * (10.245.1.0/24: every floating address is a /32 on it, so no packet leaves the machine), a
 * project network with a busybox web server booted into a security group, a floating IP that
 * answers from the host only while a rule allows the port, two projects that cannot reach each
 * other, interfaces attached and detached live, and boots on a fixed IP or a user's port.
 * Ranges 10.245.1-4.0/24 (checked free before anything is made); everything made here goes
 * afterwards: servers, networks, the bridge, floating addresses, the NAT chains of this server.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, StartedServer } from '../helpers/server';
import { docker, openstack, RunResult } from '../helpers/clients';
import { busyboxImage } from '../helpers/test-image';
import { IptablesNat } from '../../src/virt/nat-iptables';
import { containerOf, json, lines, ok } from './support';
import { webProbes } from './web-probes';

jest.setTimeout(300_000);

const tag = crypto.randomBytes(3).toString('hex');
const BRIDGE = `ndtrf${tag}`;
const EXT = { cidr: '10.245.1.0/24', bridgeIp: '10.245.1.1' };
const MYNET = '10.245.2.0/24';
const ALTNET = '10.245.3.0/24';
const NET2 = '10.245.4.0/24';
const ALT_PASSWORD = `alt-${tag}`;
/** The chains' tag of this file's server: its NAT chains are its own, whatever else runs beside it. */
const NAT_TAG = `T${tag}`;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });

let srv: StartedServer;
let alt: Record<string, string>;
const demo = (args: string[]) => openstack(args, srv.env.demo);
const admin = (args: string[]) => openstack(args, srv.env.admin);
const altOs = (args: string[]) => openstack(args, alt);

/** Sends only to the test's own ranges. */
const { ours, hostGet, settles, answers, silent } = webProbes(/^10\.245\.[1-4]\.\d+$/);

/**
 * One GET from inside a server's container (busybox nc: its static wget crashes on this image):
 * the page's body, or undefined when nothing answers within nc's 2 s.
 */
async function getFrom(serverId: string, ip: string): Promise<string | undefined> {
  if (ip !== '127.0.0.1') ours(ip);
  const c = await containerOf(serverId);
  if (!c) throw new Error(`no container for server ${serverId}`);
  const r = await docker(['exec', c.Id, '/bin/busybox', 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${ip} 8080`]);
  const body = r.stdout.split('\r\n\r\n')[1];
  return r.code === 0 && body?.startsWith('hello from') ? body : undefined;
}

/** The IPv4 addresses inside a server's container (`ip -4 addr` there), loopback aside. */
async function addressesIn(serverId: string): Promise<string[]> {
  const c = await containerOf(serverId);
  if (!c) throw new Error(`no container for server ${serverId}`);
  const r = ok(await docker(['exec', c.Id, '/bin/busybox', 'ip', '-4', '-o', 'addr', 'show']));
  return [...r.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1]).filter((a) => a !== '127.0.0.1').sort();
}


const fixedIps = (port: { fixed_ips?: unknown; 'Fixed IP Addresses'?: unknown }) =>
  JSON.stringify(port.fixed_ips ?? port['Fixed IP Addresses'] ?? '');

async function boot(env: Record<string, string>, name: string, args: string[]): Promise<string> {
  const r = json<{ id: string; status: string }>(await openstack(['server', 'create', '--image', 'web', '--flavor', 'm1.tiny', ...args, '--wait', name, '-f', 'json'], env, { timeoutMs: 180_000 }));
  expect(r.status).toBe('ACTIVE');
  return r.id;
}

function failed(r: RunResult): string {
  expect(r.code).not.toBe(0);
  return r.stderr;
}

const ids: Record<string, string> = {};
let webIp = '';

beforeAll(async () => {
  // The test's ranges must be nobody's on this machine: no route names them yet.
  for (const cidr of [EXT.cidr, MYNET, ALTNET, NET2]) {
    expect(sh('ip', ['-4', 'route', 'show', 'to', 'match', cidr.replace('0/24', '10')])).not.toContain('10.245.');
  }
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${EXT.bridgeIp}/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  srv = await startServer({
    env: { NOVADOCK_EXTERNAL_INTERFACE: BRIDGE, NOVADOCK_NAT_CHAIN_TAG: NAT_TAG },
    config: { projects: [{ name: 'alt' }], users: [{ name: 'alt', password: ALT_PASSWORD, project: 'alt', roles: ['member'] }] },
  });
  alt = { ...srv.env.demo, OS_USERNAME: 'alt', OS_PASSWORD: ALT_PASSWORD, OS_PROJECT_NAME: 'alt' };
  // A web server in every server: the image's command serves "hello from <hostname>" on 8080.
  const image = busyboxImage('e2e-net-traffic', ['/bin/busybox', 'sh', '-c', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www']);
  ok(await admin(['image', 'create', '--public', '--file', image.path, '--container-format', 'docker', '--disk-format', 'raw', 'web']));
}, 400_000);

afterAll(async () => {
  await srv?.cleanup();
  // The server's NAT chains and floating addresses go with the test's bridge.
  await new IptablesNat(() => ({}), NAT_TAG).clear('local', BRIDGE, [EXT.cidr]).catch(() => undefined);
  try { sh('ip', ['link', 'del', BRIDGE]); } catch { /* not made */ }
  // Other novadocks on this machine may hold chains of their own meanwhile: none is this server's.
  expect(sh('iptables-save', [])).not.toContain(NAT_TAG);
});

describe('a project network, a security group and a floating IP, with real packets', () => {
  it('an admin makes an external network on the test bridge\'s range; demo makes a network and boots a web server on it', async () => {
    ok(await admin(['network', 'create', '--external', 'ext-net']));
    ok(await admin(['subnet', 'create', '--network', 'ext-net', '--subnet-range', EXT.cidr, '--gateway', EXT.bridgeIp, '--no-dhcp',
      '--allocation-pool', 'start=10.245.1.10,end=10.245.1.50', 'ext-sub']));
    ok(await demo(['network', 'create', 'mynet']));
    ok(await demo(['subnet', 'create', '--network', 'mynet', '--subnet-range', MYNET, 'mysub']));
    ok(await demo(['security', 'group', 'create', 'web']));
    ids.web1 = await boot(srv.env.demo, 'web1', ['--network', 'mynet', '--security-group', 'web', '--security-group', 'default']);

    const ports = json<{ ID: string; 'Fixed IP Addresses': unknown; Status: string }[]>(await demo(['port', 'list', '--server', 'web1', '-f', 'json']));
    expect(ports).toHaveLength(1);
    webIp = /10\.245\.2\.\d+/.exec(fixedIps(ports[0]))?.[0] ?? '';
    expect(webIp).toMatch(/^10\.245\.2\.\d+$/);
    expect(ports[0].Status).toBe('ACTIVE');
    const shown = json<{ addresses: unknown }>(await demo(['server', 'show', 'web1', '-f', 'json']));
    expect(JSON.stringify(shown.addresses)).toContain('mynet');
    expect(JSON.stringify(shown.addresses)).toContain(webIp);
    expect(await addressesIn(ids.web1)).toEqual([webIp]);
    // The web server runs (asked from inside its own container, which no group filters).
    expect(await settles(() => getFrom(ids.web1, '127.0.0.1'), (v) => v !== undefined)).toMatch(/^hello from /);
  });

  let fip = '';
  it('a floating IP answers from the host only while a rule allows tcp 8080', async () => {
    fip = json<{ floating_ip_address: string }>(await demo(['floating', 'ip', 'create', 'ext-net', '-f', 'json'])).floating_ip_address;
    expect(fip).toMatch(/^10\.245\.1\.\d+$/);
    // Only the test's bridge leads there: no packet leaves the machine.
    expect(sh('ip', ['route', 'get', fip])).toContain(`dev ${BRIDGE}`);
    ok(await demo(['server', 'add', 'floating', 'ip', 'web1', fip]));
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).toContain(`${fip}/32`);
    expect(await silent(fip)).toBeUndefined();

    const rule = json<{ id: string }>(await demo(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'web', '-f', 'json']));
    expect(await answers(fip)).toMatch(/^hello from /);

    ok(await demo(['security', 'group', 'rule', 'delete', rule.id]));
    expect(await silent(fip)).toBeUndefined();
  });

  it('two projects cannot reach each other by fixed IP; servers of one project in its default group can', async () => {
    // The web group lets anyone in on 8080 meanwhile: what stops alt is the network, not a group.
    ok(await demo(['security', 'group', 'rule', 'create', '--protocol', 'tcp', '--dst-port', '8080', 'web']));
    expect(await answers(fip)).toMatch(/^hello from /);
    ids.web2 = await boot(srv.env.demo, 'web2', ['--network', 'mynet']);
    ok(await altOs(['network', 'create', 'altnet']));
    ok(await altOs(['subnet', 'create', '--network', 'altnet', '--subnet-range', ALTNET, 'altsub']));
    ids.alt1 = await boot(alt, 'alt1', ['--network', 'altnet']);
    const [web2Ip] = await addressesIn(ids.web2);
    const [alt1Ip] = await addressesIn(ids.alt1);
    expect(web2Ip).toMatch(/^10\.245\.2\.\d+$/);
    expect(alt1Ip).toMatch(/^10\.245\.3\.\d+$/);

    // Same project, same network: web2 (default group) reaches web1 (a member of default too), and back.
    expect(await settles(() => getFrom(ids.web2, webIp), (v) => v !== undefined)).toMatch(/^hello from /);
    expect(await settles(() => getFrom(ids.web1, web2Ip), (v) => v !== undefined)).toMatch(/^hello from /);
    // Across projects: neither way, though every web server runs (each answers itself on its fixed
    // IP) and web1's group lets anyone in (the host gets its page on its fixed IP).
    expect(await settles(() => getFrom(ids.alt1, alt1Ip), (v) => v !== undefined)).toMatch(/^hello from /);
    expect(sh('ip', ['route', 'get', webIp])).toMatch(/dev br-/);
    expect(hostGet(webIp)).toMatch(/^hello from /);
    expect(await getFrom(ids.alt1, webIp)).toBeUndefined();
    expect(await getFrom(ids.web1, alt1Ip)).toBeUndefined();
    expect(await getFrom(ids.web2, alt1Ip)).toBeUndefined();
    expect(await getFrom(ids.web2, webIp)).toMatch(/^hello from /);
  });

  it('server remove floating ip stops it at once; floating ip delete releases the address', async () => {
    expect(await answers(fip)).toMatch(/^hello from /);
    ok(await demo(['server', 'remove', 'floating', 'ip', 'web1', fip]));
    expect(hostGet(fip)).toBeUndefined();
    expect(sh('ip', ['-4', 'addr', 'show', 'dev', BRIDGE])).not.toContain(`${fip}/32`);
    // The server itself still answers on its fixed IP (the rule lets the host in).
    expect(sh('ip', ['route', 'get', webIp])).toMatch(/dev br-/);
    expect(hostGet(webIp)).toMatch(/^hello from /);
    ok(await demo(['floating', 'ip', 'delete', fip]));
    expect(lines(ok(await demo(['floating', 'ip', 'list', '-f', 'value', '-c', 'ID'])))).toEqual([]);
  });
});

describe('interfaces attached and detached live', () => {
  it('server add network gives the container a second interface; server remove network takes it away', async () => {
    ok(await demo(['network', 'create', 'net2']));
    ok(await demo(['subnet', 'create', '--network', 'net2', '--subnet-range', NET2, 'sub2']));
    const before = await addressesIn(ids.web2);
    ok(await demo(['server', 'add', 'network', 'web2', 'net2']));
    const withNet2 = await settles(() => addressesIn(ids.web2), (a) => a.length === 2);
    expect(withNet2.filter((a) => a.startsWith('10.245.4.'))).toHaveLength(1);
    expect(JSON.stringify(json<{ addresses: unknown }>(await demo(['server', 'show', 'web2', '-f', 'json'])).addresses)).toContain('net2');
    ok(await demo(['server', 'remove', 'network', 'web2', 'net2']));
    expect(await settles(() => addressesIn(ids.web2), (a) => a.length === 1)).toEqual(before);
    expect(lines(ok(await demo(['port', 'list', '--server', 'web2', '-f', 'value', '-c', 'ID'])))).toHaveLength(1);
  });

  it('server add port attaches a user\'s port with its fixed IP; server remove port detaches it', async () => {
    ok(await demo(['port', 'create', '--network', 'net2', '--fixed-ip', 'ip-address=10.245.4.77', 'p77']));
    ok(await demo(['server', 'add', 'port', 'web2', 'p77']));
    expect(await settles(() => addressesIn(ids.web2), (a) => a.includes('10.245.4.77'))).toContain('10.245.4.77');
    const attached = json<{ device_id: string; status: string }>(await demo(['port', 'show', 'p77', '-f', 'json']));
    expect(attached.device_id).toBe(ids.web2);
    ok(await demo(['server', 'remove', 'port', 'web2', 'p77']));
    expect(await settles(() => addressesIn(ids.web2), (a) => !a.includes('10.245.4.77'))).not.toContain('10.245.4.77');
    ok(await demo(['port', 'delete', 'p77']));
  });
});

describe('boots on a chosen fixed IP or a user\'s port', () => {
  it('--nic net-id=…,v4-fixed-ip=… boots with that address; a taken address gets Nova\'s error', async () => {
    const netId = ok(await demo(['network', 'show', 'mynet', '-f', 'value', '-c', 'id'])).stdout.trim();
    ids.fixed = await boot(srv.env.demo, 'fixed1', ['--nic', `net-id=${netId},v4-fixed-ip=10.245.2.50`]);
    expect(await addressesIn(ids.fixed)).toEqual(['10.245.2.50']);
    expect(fixedIps(json<Record<string, unknown>[]>(await demo(['port', 'list', '--server', 'fixed1', '-f', 'json']))[0])).toContain('10.245.2.50');
    const taken = failed(await demo(['server', 'create', '--image', 'web', '--flavor', 'm1.tiny', '--nic', `net-id=${netId},v4-fixed-ip=10.245.2.50`, 'fixed2']));
    expect(taken).toContain('Fixed IP address 10.245.2.50 is already in use');
  });

  it('--port boots on a port the user made first', async () => {
    ok(await demo(['port', 'create', '--network', 'mynet', '--fixed-ip', 'ip-address=10.245.2.60', 'p60']));
    ids.onPort = await boot(srv.env.demo, 'on-port', ['--port', 'p60']);
    expect(await addressesIn(ids.onPort)).toEqual(['10.245.2.60']);
    const port = json<{ device_id: string; device_owner: string; status: string }>(await demo(['port', 'show', 'p60', '-f', 'json']));
    expect(port).toMatchObject({ device_id: ids.onPort, status: 'ACTIVE' });
    expect(port.device_owner).toMatch(/^compute:/);
  });

  it('every server and network goes; nothing of ours is left on the engine', async () => {
    ok(await demo(['server', 'delete', '--wait', 'web1', 'web2', 'fixed1', 'on-port']));
    ok(await altOs(['server', 'delete', '--wait', 'alt1']));
    // The user's port outlives its server, unbound, as Neutron's does: the user deletes it.
    expect(json(await demo(['port', 'show', 'p60', '-f', 'json']))).toMatchObject({ device_id: '', device_owner: '' });
    ok(await demo(['port', 'delete', 'p60']));
    for (const n of ['net2', 'mynet']) ok(await demo(['network', 'delete', n]));
    ok(await altOs(['network', 'delete', 'altnet']));
    ok(await admin(['network', 'delete', 'ext-net']));
    const left = ok(await docker(['ps', '-a', '--filter', 'label=novadock.managed=true', '--format', '{{.Labels}}'])).stdout;
    for (const id of Object.values(ids)) expect(left).not.toContain(id);
    expect(sh('ip', ['-4', 'route'])).not.toMatch(/10\.245\.[234]\./);
  });
});
