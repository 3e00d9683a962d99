/**
 * The cold-move part of the ComputeDriver contract (InstanceMoves in src/virt/driver.ts), run
 * against two compute hosts of each implementation: two FakeDrivers
 * (test/unit/fake-driver-contract.test.ts), and two DockerDrivers on the one local engine
 * (test/docker/docker-driver-contract.test.ts) — the hard case, where the source's container
 * and the destination's must coexist on one engine.
 *
 * A move as the compute service drives it: source.moves.migrateDiskAndPowerOff → image from
 * source.exportImage into dest.loadImage → dest.spawn from it → confirm (source.moves.
 * confirmMigration) or revert (dest.destroy, source.moves.finishRevertMigration).
 */
import crypto from 'node:crypto';
import { ComputeDriver, InstanceNotFound, InstanceSpec } from '../../src/virt/driver';
import { TEST_PROJECT_PREFIX, idleCommand } from './driver-contract';
import { testNetwork } from '../helpers/test-subnets';

export interface MovesHarness {
  source: ComputeDriver;
  dest: ComputeDriver;
  /** Engine id of an image loaded on the source only, whose process runs a shell. */
  imageRef: string;
  readFile(driver: ComputeDriver, serverId: string, path: string): Promise<string | undefined>;
  writeFile(driver: ComputeDriver, serverId: string, path: string, content: string): Promise<void>;
  cleanup(): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

export function describeMovesContract(name: string, make: () => Promise<MovesHarness>): void {
  describe(`ComputeDriver moves contract: ${name}`, () => {
    let h: MovesHarness;
    const servers = new Set<string>();

    const specFor = (): InstanceSpec => {
      const serverId = crypto.randomUUID();
      const projectId = `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;
      servers.add(serverId);
      return {
        serverId, projectId, hostname: 'move-vm', imageRef: h.imageRef, command: idleCommand('moving'),
        memoryMb: 64, vcpus: 1, env: { ROLE: 'move' }, network: testNetwork(projectId),
      };
    };

    /** Boots on the source, writes a file, and moves its filesystem to the destination's engine. */
    const prepare = async () => {
      const spec = specFor();
      await h.source.spawn(spec);
      await h.writeFile(h.source, spec.serverId, '/root/moved.txt', `content of ${spec.serverId}`);
      const ref = await h.source.moves.migrateDiskAndPowerOff(spec.serverId, crypto.randomUUID(), 5);
      if (!(await h.dest.hasImage(ref))) await h.dest.loadImage(await h.source.exportImage(ref));
      // The destination runs from the committed image alone: its command travels inside it.
      const destSpec: InstanceSpec = { ...spec, imageRef: ref, command: undefined };
      return { spec, ref, destSpec };
    };

    beforeAll(async () => {
      h = await make();
    });

    afterAll(async () => {
      if (!h) return;
      for (const id of servers) {
        await h.dest.destroy(id).catch(() => undefined);
        await h.source.destroy(id).catch(() => undefined);
      }
      await h.cleanup();
    });

    test('the source sets its instance aside, stopped: no longer the server\'s instance, listed as set aside', async () => {
      const { spec } = await prepare();
      await expect(h.source.getInfo(spec.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
      const listed = (await h.source.listInstances()).filter((i) => i.serverId === spec.serverId);
      expect(listed).toHaveLength(1);
      expect(listed[0].setAside).toBe(true);
      expect(listed[0].info.powerState).toBe(4);
    });

    test('the destination runs the moved filesystem; confirm removes the source\'s instance; destroy takes the move\'s image', async () => {
      const { spec, ref, destSpec } = await prepare();
      const info = await h.dest.spawn(destSpec);
      expect(info.powerState).toBe(1);
      expect(await h.readFile(h.dest, spec.serverId, '/root/moved.txt')).toBe(`content of ${spec.serverId}`);
      await h.source.moves.confirmMigration(spec.serverId);
      expect((await h.source.listInstances()).filter((i) => i.serverId === spec.serverId)).toEqual([]);
      expect((await h.dest.getInfo(spec.serverId)).powerState).toBe(1);
      await h.source.moves.confirmMigration(spec.serverId); // again: nothing to do
      await h.dest.destroy(spec.serverId);
      expect(await h.dest.hasImage(ref)).toBe(false);
      expect(await h.source.hasImage(ref)).toBe(false);
    });

    test('revert: the destination\'s instance goes, the source\'s comes back started with its files; the move\'s images go', async () => {
      const { spec, ref, destSpec } = await prepare();
      await h.dest.spawn(destSpec);
      await h.dest.destroy(spec.serverId);
      const info = await h.source.moves.finishRevertMigration(spec.serverId, true);
      expect(info.powerState).toBe(1);
      expect((await h.source.getInfo(spec.serverId)).powerState).toBe(1);
      expect(await h.readFile(h.source, spec.serverId, '/root/moved.txt')).toBe(`content of ${spec.serverId}`);
      expect((await h.source.listInstances()).find((i) => i.serverId === spec.serverId)?.setAside).toBeFalsy();
      expect(await h.source.hasImage(ref)).toBe(false);
      expect(await h.dest.hasImage(ref)).toBe(false);
      // Again (a retried revert): the instance is already back, nothing changes.
      expect((await h.source.moves.finishRevertMigration(spec.serverId, true)).powerState).toBe(1);
    });

    test('revert without power on leaves the instance stopped', async () => {
      const { spec } = await prepare();
      const info = await h.source.moves.finishRevertMigration(spec.serverId, false);
      expect(info.powerState).toBe(4);
      expect((await h.source.getInfo(spec.serverId)).powerState).toBe(4);
    });

    test('destroy on the source removes a set-aside instance of the server, and the move\'s image', async () => {
      const { spec, ref } = await prepare();
      await h.source.destroy(spec.serverId);
      expect((await h.source.listInstances()).filter((i) => i.serverId === spec.serverId)).toEqual([]);
      expect(await h.source.hasImage(ref)).toBe(false);
      await expect(h.source.moves.finishRevertMigration(spec.serverId, true)).rejects.toBeInstanceOf(InstanceNotFound);
    });

    test('an unknown server: nothing to move (InstanceNotFound), nothing to confirm, nothing to revert', async () => {
      const id = crypto.randomUUID();
      expect(await rejection(h.source.moves.migrateDiskAndPowerOff(id, crypto.randomUUID(), 1))).toBeInstanceOf(InstanceNotFound);
      await expect(h.source.moves.confirmMigration(id)).resolves.toBeUndefined();
      expect(await rejection(h.source.moves.finishRevertMigration(id, true))).toBeInstanceOf(InstanceNotFound);
    });
  });
}
