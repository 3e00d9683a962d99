/**
 * The resize part of the ComputeDriver contract (resizeInstance in src/virt/driver.ts, issue 15),
 * run against the FakeDriver (test/unit/fake-driver-contract.test.ts) and the DockerDriver
 * (test/docker/docker-driver-contract.test.ts): the limits change in place, the process is not
 * restarted (its console shows one start), the file system and address stay; a stopped
 * instance takes the limits and starts with them; an unknown instance is InstanceNotFound.
 */
import crypto from 'node:crypto';
import { InstanceNotFound } from '../../src/virt/driver';
import { DriverHarness, TEST_PROJECT_PREFIX, idleCommand } from './driver-contract';
import { spawnOnFreeSubnet, testNetwork } from '../helpers/test-subnets';

export function describeResizeContract(name: string, make: () => Promise<DriverHarness>): void {
  describe(`ComputeDriver resize contract: ${name}`, () => {
    let h: DriverHarness;
    const spawned = new Set<string>();

    const spawn = async () => {
      const serverId = crypto.randomUUID();
      const projectId = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
      spawned.add(serverId);
      const info = await spawnOnFreeSubnet(h.driver, {
        serverId, projectId, hostname: 'resize-vm', imageRef: h.imageRef, command: idleCommand(`started-${serverId.slice(0, 8)}`),
        memoryMb: 64, vcpus: 1, env: {}, network: testNetwork(projectId),
      });
      return { serverId, info };
    };
    const starts = async (serverId: string) => (await h.driver.getConsoleOutput(serverId)).split('\n').filter((l) => l.startsWith('started-')).length;

    beforeAll(async () => {
      h = await make();
    });
    afterAll(async () => {
      if (!h) return;
      for (const id of spawned) await h.driver.destroy(id).catch(() => undefined);
      await h.cleanup();
    });

    test('when a running instance is resized, then it keeps running without a restart, with its files and address', async () => {
      const { serverId, info } = await spawn();
      await h.writeFile(serverId, '/tmp/kept', 'still here');
      await h.driver.resizeInstance(serverId, 96, 1);
      const after = await h.driver.getInfo(serverId);
      expect(after.powerState).toBe(1);
      expect(after.addresses).toEqual(info.addresses);
      expect(await h.readFile(serverId, '/tmp/kept')).toBe('still here');
      expect(await starts(serverId)).toBe(1);
    });

    test('a stopped instance can be resized, and starts with its file system', async () => {
      const { serverId } = await spawn();
      await h.writeFile(serverId, '/tmp/kept', 'across');
      await h.driver.powerOff(serverId, 1);
      await h.driver.resizeInstance(serverId, 80, 1);
      expect((await h.driver.getInfo(serverId)).powerState).toBe(4);
      expect((await h.driver.powerOn(serverId)).powerState).toBe(1);
      expect(await h.readFile(serverId, '/tmp/kept')).toBe('across');
    });

    test('an unknown instance is InstanceNotFound', async () => {
      await expect(h.driver.resizeInstance(crypto.randomUUID(), 64, 1)).rejects.toBeInstanceOf(InstanceNotFound);
    });
  });
}
