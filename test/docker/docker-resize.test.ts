/**
 * Resize in place on a real engine (issue 15): the container's process survives — same PID,
 * same start time, its uptime goes on — while the engine reports the new cgroup limits
 * (HostConfig.Memory, MemorySwap, NanoCpus) and the process itself sees the new memory limit.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { InstanceNotFound } from '../../src/virt/driver';
import { idleCommand, TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';
import { spawnOnFreeSubnet, testNetwork } from '../helpers/test-subnets';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog(), rebootTimeoutSeconds: 5 });
let imageRef: string;

beforeAll(async () => {
  const image = busyboxImage('docker-resize');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  imageRef = image.imageId;
});
afterAll(async () => {
  await removeTestArtifacts(host);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function inspect(serverId: string): Promise<any> {
  const r = await dockerCli(['inspect', `novadock-${serverId}`]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[0];
}

/** The memory limit as the process sees it (cgroup v2, else v1). */
async function memoryLimitInside(serverId: string): Promise<number> {
  const v2 = await dockerCli(['exec', `novadock-${serverId}`, 'cat', '/sys/fs/cgroup/memory.max']);
  const r = v2.code === 0 ? v2 : await dockerCli(['exec', `novadock-${serverId}`, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
  return Number(r.stdout.trim());
}

/** Seconds since PID 1 of the container started, as its own /proc says (field 22 over the system uptime). */
async function uptimeInside(serverId: string): Promise<number> {
  const r = await dockerCli(['exec', `novadock-${serverId}`, 'sh', '-c', 'echo $(cut -d" " -f22 /proc/1/stat) $(cut -d" " -f1 /proc/uptime)']);
  const [startTicks, uptime] = r.stdout.trim().split(' ').map(Number);
  return uptime - startTicks / 100;
}

test('when a running container is resized in place, then its process keeps its PID and uptime and the engine and the process see the new limits', async () => {
  const serverId = crypto.randomUUID();
  const projectId = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
  await spawnOnFreeSubnet(driver, { serverId, projectId, hostname: 'resize', imageRef, command: idleCommand('up'), memoryMb: 128, vcpus: 1, env: {}, network: testNetwork(projectId) });
  const before = await inspect(serverId);
  const upBefore = await uptimeInside(serverId);
  expect([before.HostConfig.Memory, before.HostConfig.NanoCpus]).toEqual([128 * 1024 * 1024, 1e9]);

  const hostCpus = Number((await dockerCli(['info', '--format', '{{.NCPU}}'])).stdout.trim());
  await driver.resizeInstance(serverId, 256, 2);

  const after = await inspect(serverId);
  expect(after.State.Pid).toBe(before.State.Pid);
  expect(after.State.StartedAt).toBe(before.State.StartedAt);
  expect(after.State.Running).toBe(true);
  expect(after.RestartCount).toBe(before.RestartCount);
  expect(after.HostConfig.Memory).toBe(256 * 1024 * 1024);
  expect(after.HostConfig.MemorySwap).toBe(256 * 1024 * 1024);
  expect(after.HostConfig.NanoCpus).toBe(Math.min(2, hostCpus) * 1e9);
  expect(await memoryLimitInside(serverId)).toBe(256 * 1024 * 1024);
  // The same process, still counting: its uptime went on (not reset by a restart).
  expect(await uptimeInside(serverId)).toBeGreaterThanOrEqual(upBefore);

  // And back (a revert): the old limits, still the same process.
  await driver.resizeInstance(serverId, 128, 1);
  const back = await inspect(serverId);
  expect([back.State.Pid, back.HostConfig.Memory, back.HostConfig.NanoCpus]).toEqual([before.State.Pid, 128 * 1024 * 1024, 1e9]);
  expect(await memoryLimitInside(serverId)).toBe(128 * 1024 * 1024);
});

/** A running m1-like instance of a new server on this host. */
async function spawnServer(serverId: string = crypto.randomUUID()): Promise<string> {
  const projectId = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
  await spawnOnFreeSubnet(driver, { serverId, projectId, hostname: 'resize', imageRef, command: idleCommand('up'), memoryMb: 128, vcpus: 1, env: {}, network: testNetwork(projectId) });
  return serverId;
}

test('when the container a resize checked is removed behind the driver, then the next resize checks again: a stranger under the name is refused, untouched', async () => {
  const serverId = await spawnServer();
  await driver.resizeInstance(serverId, 192, 1);
  expect((await dockerCli(['rm', '-f', `novadock-${serverId}`])).code).toBe(0);
  await expect(driver.resizeInstance(serverId, 256, 1)).rejects.toBeInstanceOf(InstanceNotFound);

  // A container that is not ours takes the name: never resized.
  const stranger = `novadock-${serverId}`;
  expect((await dockerCli(['create', '--name', stranger, '--memory', '64m', imageRef])).code).toBe(0);
  try {
    await expect(driver.resizeInstance(serverId, 256, 1)).rejects.toBeInstanceOf(InstanceNotFound);
    expect((await inspect(serverId)).HostConfig.Memory).toBe(64 * 1024 * 1024);
  } finally {
    await dockerCli(['rm', '-f', stranger]);
  }
});

test('when a server\'s container is set aside for a move and a new one made for it on the same engine, then a resize changes the new one, not the set-aside one', async () => {
  const serverId = await spawnServer();
  await driver.resizeInstance(serverId, 192, 1);
  const asideId = (await inspect(serverId)).Id;
  const moveImage = await driver.moves.migrateDiskAndPowerOff(serverId, crypto.randomUUID(), 1);
  await spawnServer(serverId);
  try {
    await driver.resizeInstance(serverId, 256, 1);
    expect((await inspect(serverId)).HostConfig.Memory).toBe(256 * 1024 * 1024);
    const aside = JSON.parse((await dockerCli(['inspect', asideId])).stdout)[0];
    expect([aside.Name, aside.HostConfig.Memory]).toEqual([`/novadock-${serverId}_resize`, 192 * 1024 * 1024]);
  } finally {
    await driver.destroy(serverId);
    await driver.removeImage(moveImage).catch(() => undefined);
  }
});
