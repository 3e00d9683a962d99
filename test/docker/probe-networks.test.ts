/**
 * Older versions chose a project network's subnet by probing the engine with a throw-away network;
 * a process killed mid-probe left it behind, holding one of the engine's few default address pools
 * (about 30) until none was left. The first project network made by a driver removes such leftovers
 * ("stale" is shortened here to 2 s, still far longer than an older version's live probe lasts).
 */
import crypto from 'node:crypto';
import Docker from 'dockerode';
import { ProjectNetworks } from '../../src/virt/docker/networks';
import { dockerCli, dockerTestHost, silentLog } from './docker-driver-helpers';
import { TEST_PROJECT_PREFIX } from '../contract/driver-contract';
import { testNetwork } from '../helpers/test-subnets';
import { SubnetUnavailable } from '../../src/virt/driver';

const docker = new Docker(process.env.DOCKER_HOST ? undefined : { socketPath: '/var/run/docker.sock' });
const leftover = `novadock-probe-test-${crypto.randomBytes(4).toString('hex')}`;
const project = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(6).toString('hex')}`;

afterAll(async () => {
  await dockerCli(['network', 'rm', leftover]);
  await dockerCli(['network', 'rm', `novadock-net-${project}`]);
});

test('a probe network an older version left behind is removed, and the project network is still made', async () => {
  await docker.createNetwork({ Name: leftover, Driver: 'bridge', Labels: { 'novadock.managed': 'true', 'novadock.network': 'probe' } });
  await new Promise((r) => setTimeout(r, 2_500));
  const nets = new ProjectNetworks(docker, dockerTestHost(), silentLog(), { probeStaleMs: 2_000 });
  // Another test run's network may hold a random subnet: then another one.
  let net;
  for (let tries = 0; !net; tries++) {
    const spec = testNetwork(project);
    net = await nets.ensure(spec).catch((e) => {
      if (e instanceof SubnetUnavailable && tries < 10) return undefined;
      throw e;
    });
    if (net) expect(net.subnet).toBe(spec.subnet);
  }
  const names = (await docker.listNetworks()).map((n) => n.Name);
  expect(names).not.toContain(leftover);
  expect(names).toContain(net.name);
});
