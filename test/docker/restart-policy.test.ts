/**
 * Restart policy on a real engine (issue 15): a spec's policy becomes the container's, the engine
 * restarts a process that crashes by itself (RestartCount grows, getInfo reports it and RUNNING
 * while it restarts), on-failure:N gives up after N restarts (SHUTOFF then), and a container
 * stopped through the driver stays stopped (`always` is the engine's `unless-stopped`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import type { InstanceSpec } from '../../src/virt/driver';
import { eventually, TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

const host = dockerTestHost();
const driver = new DockerDriver({ host, log: silentLog(), rebootTimeoutSeconds: 5 });
let imageRef: string;

/** A server whose process crashes (exit 3) a moment after it starts. */
const crashing = (restartPolicy: InstanceSpec['restartPolicy']): InstanceSpec => ({
  serverId: crypto.randomUUID(),
  projectId: `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`,
  hostname: 'crashy',
  imageRef,
  command: ['sh', '-c', 'sleep 1; exit 3'],
  memoryMb: 64,
  vcpus: 1,
  env: {},
  network: null,
  restartPolicy,
});

async function inspect(serverId: string): Promise<{ RestartCount: number; State: { Status: string }; HostConfig: { RestartPolicy: { Name: string; MaximumRetryCount: number } } }> {
  const r = await dockerCli(['inspect', `novadock-${serverId}`]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout)[0];
}

beforeAll(async () => {
  const image = busyboxImage('docker-restart');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  imageRef = image.imageId;
});
afterAll(async () => {
  await removeTestArtifacts(host);
});

test('always: the engine restarts the crashed process, the instance reads as running with its restart count', async () => {
  const s = crashing({ name: 'always', maximumRetryCount: 0 });
  await driver.spawn(s);
  expect((await inspect(s.serverId)).HostConfig.RestartPolicy).toEqual({ Name: 'unless-stopped', MaximumRetryCount: 0 });
  const info = await eventually(async () => {
    const i = await driver.getInfo(s.serverId);
    if (!((i.restartCount ?? 0) >= 1)) throw new Error(`restart count ${i.restartCount}`);
    return i;
  });
  expect(info.powerState).toBe(1);
  expect((await inspect(s.serverId)).RestartCount).toBeGreaterThanOrEqual(1);
  // Stopped through the driver (os-stop), it stays stopped: the engine's policy does not apply.
  await driver.powerOff(s.serverId, 2);
  const count = (await inspect(s.serverId)).RestartCount;
  await new Promise((r) => setTimeout(r, 2_500)); // longer than the process' crash cycle
  const after = await inspect(s.serverId);
  expect(after.State.Status).toBe('exited');
  expect(after.RestartCount).toBe(count);
  await driver.destroy(s.serverId);
});

test('on-failure:2: two restarts, then the instance stays stopped with its exit code', async () => {
  const s = crashing({ name: 'on-failure', maximumRetryCount: 2 });
  await driver.spawn(s);
  expect((await inspect(s.serverId)).HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 2 });
  const info = await eventually(async () => {
    const i = await driver.getInfo(s.serverId);
    if (i.powerState !== 4 || i.restartCount !== 2) throw new Error(`power ${i.powerState}, restarts ${i.restartCount}`);
    return i;
  }, 30_000);
  expect(info.exitCode).toBe(3);
  await driver.destroy(s.serverId);
});

test('no policy: the engine never restarts it', async () => {
  const s = crashing(undefined);
  await driver.spawn(s);
  expect((await inspect(s.serverId)).HostConfig.RestartPolicy.Name).toBe('no');
  const info = await eventually(async () => {
    const i = await driver.getInfo(s.serverId);
    if (i.powerState !== 4) throw new Error(`power ${i.powerState}`);
    return i;
  });
  expect(info.restartCount).toBeUndefined();
  await driver.destroy(s.serverId);
});
