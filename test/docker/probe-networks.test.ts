/**
 * A process killed while it probed the engine for a free subnet leaves a probe network behind,
 * holding one of the engine's few default address pools (about 30) until none is left for new
 * project networks. The next probe removes such leftovers ("stale" is shortened here to 2 s, still
 * far longer than a live probe lasts, so probes of tests running beside this one are safe).
 */
import crypto from 'node:crypto';
import Docker from 'dockerode';
import { ProjectNetworks } from '../../src/virt/docker/networks';
import { dockerCli, dockerTestHost, silentLog } from './docker-driver-helpers';
import { TEST_PROJECT_PREFIX } from '../contract/driver-contract';

const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
const leftover = `novadock-probe-test-${crypto.randomBytes(4).toString('hex')}`;
const project = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(6).toString('hex')}`;

afterAll(async () => {
  await dockerCli(['network', 'rm', leftover]);
  await dockerCli(['network', 'rm', `novadock-net-${project}`]);
});

test('a probe network left behind is removed by the next probe, and the project network is still made', async () => {
  await docker.createNetwork({ Name: leftover, Driver: 'bridge', Labels: { 'novadock.managed': 'true', 'novadock.network': 'probe' } });
  await new Promise((r) => setTimeout(r, 2_500));
  const nets = new ProjectNetworks(docker, dockerTestHost(), silentLog(), 2_000);
  const net = await nets.ensure(project);
  expect(net.subnet).toMatch(/^\d+\.\d+\.\d+\.\d+\/\d+$/);
  const names = (await docker.listNetworks()).map((n) => n.Name);
  expect(names).not.toContain(leftover);
  expect(names).toContain(net.name);
});
