/**
 * Resize in place on a real engine (issue 15): the container's process survives — same PID,
 * same start time, its uptime goes on — while the engine reports the new cgroup limits
 * (HostConfig.Memory, MemorySwap, NanoCpus) and the process itself sees the new memory limit.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
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
