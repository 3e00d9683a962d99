/**
 * Project networks on a real engine (no swarm: host-local bridges): made with the subnet the
 * compute service gives, removed when the last container on them goes (a stopped one keeps
 * them), made again by a spawn that races with that removal, in this process or another; a
 * network an older version made keeps serving; a subnet another network holds is refused in a
 * way the compute service can act on.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { spawnOnFreeSubnet, testNetwork, randomTestSubnet } from '../helpers/test-subnets';
import { DockerDriver } from '../../src/virt/docker/driver';
import { InstanceSpec, SubnetUnavailable } from '../../src/virt/driver';
import { idleCommand, TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog() });
let imageRef: string;
const foreignNetworks: string[] = [];

const project = () => `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
const netName = (projectId: string) => `novadock-net-${projectId}`;

function spec(projectId: string, network = testNetwork(projectId)): InstanceSpec {
  return {
    serverId: crypto.randomUUID(), projectId, hostname: 'net-test', imageRef, command: idleCommand('ready'), memoryMb: 64, vcpus: 1, env: {}, network,
  };
}

/** The project's network as the engine has it, or undefined. */
async function network(projectId: string): Promise<{ Id: string; IPAM: { Config: { Subnet: string }[] } } | undefined> {
  const r = await dockerCli(['network', 'inspect', netName(projectId)]);
  return r.code === 0 ? JSON.parse(r.stdout)[0] : undefined;
}

beforeAll(async () => {
  const image = busyboxImage('project-networks');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  imageRef = image.imageId;
});

afterAll(async () => {
  await removeTestArtifacts(host);
  for (const n of foreignNetworks) await dockerCli(['network', 'rm', n]);
});

describe('a project network on one host', () => {
  test('is made with the subnet the compute service gives, and removed with the last container on it', async () => {
    const p = project();
    const a = spec(p);
    const infoA = await spawnOnFreeSubnet(driver, a);
    const b = spec(p, a.network!);
    await spawnOnFreeSubnet(driver, b);
    expect((await network(p))?.IPAM.Config[0].Subnet).toBe(a.network!.subnet);
    expect(infoA.addresses[0].addr.startsWith(a.network!.subnet.split('.').slice(0, 3).join('.'))).toBe(true);

    await driver.destroy(a.serverId);
    expect(await network(p)).toBeDefined();
    await driver.destroy(b.serverId);
    expect(await network(p)).toBeUndefined();
  });

  test('a stopped container keeps it, and starts again on it', async () => {
    const p = project();
    const a = spec(p);
    await spawnOnFreeSubnet(driver, a);
    const b = spec(p, a.network!);
    const infoB = await spawnOnFreeSubnet(driver, b);
    await driver.powerOff(b.serverId, 0);
    await driver.destroy(a.serverId);
    expect(await network(p)).toBeDefined();
    const again = await driver.powerOn(b.serverId);
    expect(again.powerState).toBe(1);
    expect(again.addresses).toEqual(infoB.addresses);
    await driver.destroy(b.serverId);
    expect(await network(p)).toBeUndefined();
  });

  test('a spawn racing with the removal of the last container ends running, on a network that exists', async () => {
    const p = project();
    let last = spec(p);
    await spawnOnFreeSubnet(driver, last);
    for (let round = 0; round < 5; round++) {
      const next = spec(p, last.network!);
      const [, info] = await Promise.all([driver.destroy(last.serverId), spawnOnFreeSubnet(driver, next)]);
      expect(info.powerState).toBe(1);
      expect((await driver.getInfo(next.serverId)).addresses).toHaveLength(1);
      expect(await network(p)).toBeDefined();
      last = next;
    }
    await driver.destroy(last.serverId);
    expect(await network(p)).toBeUndefined();
  });

  test('a spawn that finds its cached network removed by another process makes it again', async () => {
    const other = new DockerDriver({ host, log: silentLog() }); // another process on the same engine
    const p = project();
    const a = spec(p);
    await spawnOnFreeSubnet(driver, a); // this driver now knows the network
    const before = (await network(p))!.Id;
    await other.destroy(a.serverId); // the other process removes the last container, and the network
    expect(await network(p)).toBeUndefined();
    const b = spec(p, a.network!);
    const info = await spawnOnFreeSubnet(driver, b);
    expect(info.powerState).toBe(1);
    expect((await network(p))!.Id).not.toBe(before);
    await driver.destroy(b.serverId);
  });

  test('a network an older version made, with another subnet, keeps serving the project', async () => {
    const p = project();
    // Older versions pinned a subnet the engine chose for a probe network; any other than the spec's will do.
    let old = '';
    for (let tries = 0; tries < 10 && !(await network(p)); tries++) {
      old = randomTestSubnet();
      await dockerCli(['network', 'create', '--subnet', old, '--label', 'novadock.managed=true', '--label', `novadock.project_id=${p}`, netName(p)]);
    }
    let subnet = old;
    while (subnet === old) subnet = randomTestSubnet();
    const s = spec(p, { projectId: p, subnet, addressesInUse: [] });
    const info = await driver.spawn(s);
    expect(info.addresses[0].addr.split('.').slice(0, 3)).toEqual(old.split('.').slice(0, 3));
    await driver.destroy(s.serverId);
    expect(await network(p)).toBeUndefined();
  });

  test('a subnet another network on the engine holds is refused with what the engine has, and nothing is left', async () => {
    const foreign = `novadock-test-foreign-${crypto.randomBytes(4).toString('hex')}`;
    let subnet = '';
    for (let tries = 0; tries < 10 && !foreignNetworks.includes(foreign); tries++) {
      subnet = randomTestSubnet();
      if ((await dockerCli(['network', 'create', '--subnet', subnet, foreign])).code === 0) foreignNetworks.push(foreign);
    }
    const p = project();
    const s = spec(p, { projectId: p, subnet, addressesInUse: [] });
    const err = await driver.spawn(s).catch((e) => e);
    expect(err).toBeInstanceOf(SubnetUnavailable);
    expect(err.subnet).toBe(subnet);
    expect(err.inUse).toContain(subnet);
    expect(err.reason).toMatch(new RegExp(`^The project network could not be created on compute host ${host} with subnet ${subnet.replace(/\./g, '\\.')}: .*overlaps`));
    expect(await network(p)).toBeUndefined();
    expect((await dockerCli(['ps', '-aq', '--filter', `label=novadock.server_id=${s.serverId}`])).stdout.trim()).toBe('');
  });
});
