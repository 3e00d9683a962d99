/**
 * Several interfaces on a real engine (issue 17): an instance on two networks of the network
 * service with the ports' fixed addresses (and the first port's MAC), the subnets' nameservers as
 * its resolvers, an interface attached and detached live, and the engine networks gone with the
 * last instance on them or when the network is deleted. Addresses: 10.220.0.0/16 (this part's).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { InstanceNic, InstanceSpec, SpawnFailed } from '../../src/virt/driver';
import { idleCommand, TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog() });
const projectId = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
/** Network ids of this run (random, so two runs never share an engine network). */
const netA = crypto.randomUUID();
const netB = crypto.randomUUID();
const netC = crypto.randomUUID();
let imageRef: string;

const nic = (networkId: string, label: string, third: number, ip: number, extra: Partial<InstanceNic> = {}): InstanceNic => ({
  networkId, label, subnet: `10.220.${third}.0/24`, gateway: `10.220.${third}.1`, ip: `10.220.${third}.${ip}`, ...extra,
});

const spec = (nics: InstanceNic[]): InstanceSpec => ({
  serverId: crypto.randomUUID(), projectId, hostname: 'nics', imageRef, command: idleCommand('ready'), memoryMb: 64, vcpus: 1, env: {}, network: null, nics,
});

const engineNetworks = async (): Promise<string[]> =>
  (await dockerCli(['network', 'ls', '--format', '{{.Name}}', '--filter', 'name=novadock-n-'])).stdout.split('\n').filter((n) => [netA, netB, netC].some((id) => n.endsWith(id)));

/** `ip -o -4 addr` / `ip -o link` inside the instance, as lines "eth0 10.220.1.10/24". */
async function inside(serverId: string, args: string[]): Promise<string> {
  const r = await dockerCli(['exec', `novadock-${serverId}`, ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}
const addrsInside = async (serverId: string) => [...(await inside(serverId, ['ip', '-o', '-4', 'addr'])).matchAll(/inet (10\.220\.[0-9.]+)\/24/g)].map((m) => m[1]).sort();

beforeAll(async () => {
  const image = busyboxImage('interfaces');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  imageRef = image.imageId;
});

afterAll(async () => {
  await removeTestArtifacts(host);
  for (const n of await engineNetworks()) await dockerCli(['network', 'rm', n]);
});

describe('an instance with interfaces on networks of the network service', () => {
  test('gets each port address (the first with its MAC) and the nameservers, under the networks names', async () => {
    const s = spec([nic(netA, 'net-a', 1, 10, { mac: 'fa:16:3e:00:22:01', dns: ['10.220.1.53'] }), nic(netB, 'net-b', 2, 20, { dns: ['10.220.2.53'] })]);
    const info = await driver.spawn(s);
    expect(info.addresses.map((a) => [a.network, a.addr])).toEqual(expect.arrayContaining([['net-a', '10.220.1.10'], ['net-b', '10.220.2.20']]));
    expect(info.addresses).toHaveLength(2);
    expect(info.addresses.find((a) => a.network === 'net-a')!.mac).toBe('fa:16:3e:00:22:01');
    expect(await addrsInside(s.serverId)).toEqual(['10.220.1.10', '10.220.2.20']);
    expect(await inside(s.serverId, ['ip', '-o', 'link'])).toContain('fa:16:3e:00:22:01');
    const r = await dockerCli(['inspect', '--format', '{{json .HostConfig.Dns}}', `novadock-${s.serverId}`]);
    expect(JSON.parse(r.stdout)).toEqual(['10.220.1.53', '10.220.2.53']);
    expect((await engineNetworks()).sort()).toEqual([`novadock-n-${netA}`, `novadock-n-${netB}`].sort());

    // A fresh driver (a restarted novadock) still names the addresses by network.
    const again = await new DockerDriver({ host, log: silentLog() }).getInfo(s.serverId);
    expect(again.addresses.map((a) => a.network).sort()).toEqual(['net-a', 'net-b']);

    await driver.destroy(s.serverId);
    expect(await engineNetworks()).toEqual([]);
  });

  test('an interface attached and detached live changes the addresses inside, and its network goes with it', async () => {
    const s = spec([nic(netA, 'net-a', 1, 11)]);
    await driver.spawn(s);
    const attached = await driver.attachInterface(s.serverId, nic(netC, 'net-c', 3, 30));
    expect(attached.addresses.map((a) => [a.network, a.addr]).sort()).toEqual([['net-a', '10.220.1.11'], ['net-c', '10.220.3.30']]);
    expect(await addrsInside(s.serverId)).toEqual(['10.220.1.11', '10.220.3.30']);
    // Again: already attached is success.
    await driver.attachInterface(s.serverId, nic(netC, 'net-c', 3, 30));

    const detached = await driver.detachInterface(s.serverId, { networkId: netC });
    expect(detached.addresses.map((a) => a.addr)).toEqual(['10.220.1.11']);
    expect(await addrsInside(s.serverId)).toEqual(['10.220.1.11']);
    expect(await engineNetworks()).toEqual([`novadock-n-${netA}`]);
    await driver.detachInterface(s.serverId, { networkId: netC });

    // A stopped instance keeps its interface and address across a start.
    await driver.powerOff(s.serverId, 0);
    const on = await driver.powerOn(s.serverId);
    expect(on.addresses.map((a) => a.addr)).toEqual(['10.220.1.11']);
    await driver.destroy(s.serverId);
    expect(await engineNetworks()).toEqual([]);
  });

  test('an address another instance holds is refused at spawn, and nothing is left behind', async () => {
    const a = spec([nic(netA, 'net-a', 1, 12)]);
    await driver.spawn(a);
    const b = spec([nic(netA, 'net-a', 1, 12)]);
    // Refused as held (a SpawnFailed that names the address): the caller gives the port another.
    const refused = await driver.spawn(b).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(SpawnFailed);
    expect(refused).toMatchObject({ name: 'AddressUnavailable', addresses: ['10.220.1.12'] });
    expect((await dockerCli(['inspect', `novadock-${b.serverId}`])).code).not.toBe(0);
    await driver.destroy(a.serverId);
  });

  test('a move set aside and reverted keeps its interface, address and network name', async () => {
    const s = spec([nic(netA, 'net-a', 1, 13)]);
    await driver.spawn(s);
    await driver.moves.migrateDiskAndPowerOff(s.serverId, crypto.randomUUID(), 0);
    const back = await driver.moves.finishRevertMigration(s.serverId, true);
    expect(back.addresses.map((x) => [x.network, x.addr])).toEqual([['net-a', '10.220.1.13']]);
    expect(await addrsInside(s.serverId)).toEqual(['10.220.1.13']);
    await driver.destroy(s.serverId);
    expect(await engineNetworks()).toEqual([]);
  });

  test('a deleted network goes from the host (removeNetwork) when nothing is attached; absent is success', async () => {
    // As a host that was down when its last instance on the network went would have it.
    expect((await dockerCli(['network', 'create', '--subnet', '10.220.2.0/24', '--label', 'novadock.network=neutron', `novadock-n-${netB}`])).code).toBe(0);
    await driver.removeNetwork(netB);
    expect(await engineNetworks()).toEqual([]);
    await driver.removeNetwork(netB);
  });
});
