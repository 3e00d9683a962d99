/**
 * The Docker driver on two engines of one swarm (scripts/engines.sh, each in a network namespace
 * of its own): a project's network is one attachable overlay made through the manager, whichever
 * host spawns first; its servers on different hosts reach each other, other projects' cannot;
 * requested addresses stay out of the swarm's own range and away from addresses the compute
 * service says other servers hold (a stopped server on another host holds its address on no
 * engine).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import pino from 'pino';
import { startEngines, Engines, TestEngine } from '../helpers/engines';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { ConfiguredSwarmManagers } from '../../src/virt/docker/swarm';
import { preferredAddress } from '../../src/virt/docker/addresses';
import type { InstanceSpec, ProjectNetworkSpec } from '../../src/virt/driver';
import { dockerOn, reaches, removeProjects, pings } from './support';

jest.setTimeout(180_000);

const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const tag = crypto.randomBytes(3).toString('hex');
let engines: Engines;
let hosts: TestEngine[];
let drivers: DockerDriver[];
let imageRef: string;
const projects: string[] = [];

/** A project with a subnet of its own: the tests' range, by a random third octet, as the allocator would give. */
function newProject(): ProjectNetworkSpec {
  const projectId = `mh-drv-${tag}-${crypto.randomBytes(4).toString('hex')}`;
  projects.push(projectId);
  return { projectId, subnet: `10.${200 + crypto.randomInt(0, 20)}.${crypto.randomInt(0, 256)}.0/24`, addressesInUse: [] };
}

function spec(network: ProjectNetworkSpec, serverId: string = crypto.randomUUID()): InstanceSpec {
  return { serverId, projectId: network.projectId, hostname: 'mh', imageRef, command: ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], memoryMb: 64, vcpus: 1, env: {}, network };
}

const addrOf = (info: { addresses: { addr: string }[] }) => info.addresses[0].addr;
const hostPart = (ip: string) => Number(ip.split('.')[3]);

beforeAll(async () => {
  engines = startEngines(2);
  hosts = engines.hosts;
  const swarm = new ConfiguredSwarmManagers(hosts.map((h) => h.docker_host), log);
  drivers = hosts.map((h) => new DockerDriver({ host: `${h.name}-drv-${tag}`, dockerHost: h.docker_host, log, swarm }));
  const image = busyboxImage('multihost');
  imageRef = image.imageId;
  for (const d of drivers) if (!(await d.hasImage(imageRef))) await d.loadImage(fs.createReadStream(image.path));
});

afterAll(async () => {
  if (hosts) await removeProjects(hosts, hosts[0], projects);
  for (const d of drivers ?? []) await d.removeImage(imageRef).catch(() => undefined);
  engines?.stop();
});

test("a project's servers on two hosts reach each other on one overlay made through the manager; another project's do not", async () => {
  const a = newProject();
  const b = newProject();
  // The worker spawns first: the overlay is made through the manager all the same.
  const a2 = spec(a);
  const infoA2 = await drivers[1].spawn(a2);
  const a1 = spec(a);
  const infoA1 = await drivers[0].spawn(a1);
  const b1 = spec(b);
  const infoB1 = await drivers[0].spawn(b1);
  const b2 = spec(b);
  const infoB2 = await drivers[1].spawn(b2);

  const overlay = JSON.parse((await dockerOn(hosts[0], ['network', 'inspect', `novadock-ovl-${a.projectId}`])).stdout)[0];
  expect(overlay).toMatchObject({ Driver: 'overlay', Scope: 'swarm', Attachable: true, Internal: false });
  expect(overlay.IPAM.Config[0]).toMatchObject({ Subnet: a.subnet, IPRange: a.subnet.replace('/24', '/26') });
  for (const info of [infoA1, infoA2, infoB1, infoB2]) expect(hostPart(addrOf(info))).toBeGreaterThanOrEqual(64);

  expect(await reaches(hosts[0], a1.serverId, addrOf(infoA2))).toBe(true);
  expect(await reaches(hosts[1], a2.serverId, addrOf(infoA1))).toBe(true);
  expect(await pings(hosts[0], b1.serverId, addrOf(infoA2))).toBe(false);
  expect(await pings(hosts[0], b1.serverId, addrOf(infoA1))).toBe(false);
  expect(await pings(hosts[1], b2.serverId, addrOf(infoA2))).toBe(false);
  expect(await pings(hosts[1], a2.serverId, addrOf(infoB1))).toBe(false);
  // Nor through the hosts' docker_gwbridge, which every overlay container also joins.
  // (The engine lists that endpoint nowhere in the container's networks: ask the container.)
  const eth1 = (await dockerOn(hosts[0], ['exec', `novadock-${a1.serverId}`, 'ip', '-4', '-o', 'addr', 'show', 'eth1'])).stdout;
  const gw = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(eth1)?.[1];
  expect(gw).toBeDefined();
  expect(await reaches(hosts[0], a1.serverId, gw!)).toBe(true);
  expect(await pings(hosts[0], b1.serverId, gw!)).toBe(false);
});

test('an address the compute service says a stopped server on another host holds is not handed out, and that server starts again on it', async () => {
  const a = newProject();
  const x = spec(a);
  const infoX = await drivers[0].spawn(x);
  await drivers[0].powerOff(x.serverId, 0);
  // A server whose preferred address is X's: with X stopped, no engine holds that address.
  let yId: string;
  do yId = crypto.randomUUID(); while (preferredAddress(a.subnet, yId, new Set([`${a.subnet.split('.').slice(0, 3).join('.')}.1`]), 64) !== addrOf(infoX));
  const y = spec({ ...a, addressesInUse: [addrOf(infoX)] }, yId);
  const infoY = await drivers[1].spawn(y);
  expect(addrOf(infoY)).not.toBe(addrOf(infoX));

  const again = await drivers[0].powerOn(x.serverId);
  expect(addrOf(again)).toBe(addrOf(infoX));
  expect(await reaches(hosts[0], x.serverId, addrOf(infoY))).toBe(true);
});

test("a host's last server going leaves the overlay to the servers elsewhere, which still reach each other", async () => {
  const a = newProject();
  const s1 = spec(a);
  const s2 = spec(a);
  const s3 = spec(a);
  await drivers[0].spawn(s1);
  const info2 = await drivers[1].spawn(s2);
  const info3 = await drivers[1].spawn(s3);
  await drivers[0].destroy(s1.serverId);
  expect(await reaches(hosts[1], s2.serverId, addrOf(info3))).toBe(true);
  // And a new server on the first host joins them again.
  const s4 = spec(a);
  const info4 = await drivers[0].spawn(s4);
  expect(await reaches(hosts[0], s4.serverId, addrOf(info2))).toBe(true);
});

test("with the hosts' firewall of the README (scripts/engines.sh sets it), a server reaches none of the swarm's own ports", async () => {
  const a = newProject();
  const s = spec(a);
  await drivers[0].spawn(s);
  for (const h of hosts) {
    const addr = (await dockerOn(h, ['info', '--format', '{{.Swarm.NodeAddr}}'])).stdout.trim();
    expect(addr).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const port of ['2377', '7946']) {
      const r = await dockerOn(hosts[0], ['exec', `novadock-${s.serverId}`, 'nc', '-w', '2', addr, port], 30_000);
      expect(`${addr}:${port} ${r.code === 0 ? 'open' : 'closed'}`).toBe(`${addr}:${port} closed`);
    }
  }
});

test('a worker finds its manager among the configured hosts; none when no manager is configured; an error when one may be among those that do not answer', async () => {
  const info = JSON.parse((await dockerOn(hosts[1], ['info', '--format', '{{json .Swarm}}'])).stdout) as { RemoteManagers: { NodeID: string }[]; ControlAvailable: boolean };
  expect(info.ControlAvailable).toBe(false);
  const ids = info.RemoteManagers.map((m) => m.NodeID);
  expect(await new ConfiguredSwarmManagers(hosts.map((h) => h.docker_host), log).managerOf(ids)).toBeDefined();
  expect(await new ConfiguredSwarmManagers([hosts[1].docker_host], log).managerOf(ids)).toBeUndefined();
  const gone = `unix:///run/novadock-engines/gone-${tag}.sock`;
  await expect(new ConfiguredSwarmManagers([hosts[1].docker_host, gone], log).managerOf(ids)).rejects.toThrow(/no manager of the engine's swarm among the configured compute hosts answered/);
});
