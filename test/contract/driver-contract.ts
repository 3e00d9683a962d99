/**
 * The ComputeDriver contract (src/virt/driver.ts), as one suite that runs against every
 * implementation: the FakeDriver (test/unit/fake-driver-contract.test.ts) and the
 * DockerDriver on a real engine (test/docker/docker-driver-contract.test.ts). What passes here
 * is what the compute service and the reconciler may rely on, whichever driver they get.
 *
 * Besides the driver, a harness supplies what only a test may do: look inside an instance,
 * change it "from outside" (as an operator with the docker CLI would), and build an image
 * archive the driver does not have yet.
 */
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ComputeDriver,
  InstanceEvent,
  InstanceInfo,
  InstanceNotFound,
  InstanceSpec,
  ImageNotOnHost,
  InvalidImageArchive,
  SpawnFailed,
} from '../../src/virt/driver';
import { inspectImageArchive } from '../../src/virt/image-archive';
import { spawnOnFreeSubnet, testNetwork } from '../helpers/test-subnets';

export interface DriverHarness {
  driver: ComputeDriver;
  /** Engine id of a loaded image whose process runs a shell (busybox, or the fake's). */
  imageRef: string;
  /** Removes what the run created (instances, networks, snapshot images). */
  cleanup(): Promise<void>;
  /** A file's content inside an instance, undefined when absent. */
  readFile(serverId: string, path: string): Promise<string | undefined>;
  /** Writes a file inside a running instance, as its own process would. */
  writeFile(serverId: string, path: string, content: string): Promise<void>;
  /** `docker kill` from outside novadock. */
  externalKill(serverId: string): Promise<void>;
  /** `docker rm -f` from outside novadock. */
  externalRemove(serverId: string): Promise<void>;
  /** A valid image archive whose image the driver does not have. */
  freshArchive(): Promise<{ bytes: Buffer; imageId: string }>;
}

/** Project ids of this suite start with this, so a harness can clean up by prefix. */
export const TEST_PROJECT_PREFIX = 'test-drv-';

/**
 * A shell program both drivers understand: prints `marker`, honours SIGTERM within a second
 * (a shell as PID 1 ignores it otherwise, which would make every graceful stop wait for its
 * full timeout), then idles. The fake harness interprets `echo …` and `exit N`.
 */
export const idleCommand = (marker: string): string[] => ['/bin/sh', '-c', `trap "exit 0" TERM; echo ${marker}; while true; do sleep 1; done`];
export const exitCommand = (line: string, code: number): string[] => ['/bin/sh', '-c', `echo ${line}; exit ${code}`];

/** Waits until `check` stops throwing (a wait, not a timing assertion: the limit only bounds a hang). */
export async function eventually<T>(check: () => Promise<T> | T, limitMs = 20_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

const randomImageId = () => `sha256:${crypto.randomBytes(32).toString('hex')}`;

export function describeDriverContract(name: string, make: () => Promise<DriverHarness>): void {
  describe(`ComputeDriver contract: ${name}`, () => {
    let h: DriverHarness;
    let driver: ComputeDriver;
    const spawned = new Set<string>();
    const snapshots = new Set<string>();

    const newProject = () => `${TEST_PROJECT_PREFIX}${crypto.randomBytes(5).toString('hex')}`;

    const specFor = (overrides: Partial<InstanceSpec> = {}): InstanceSpec => {
      const serverId = overrides.serverId ?? crypto.randomUUID();
      const projectId = overrides.projectId ?? newProject();
      return {
        serverId,
        projectId,
        hostname: 'contract-vm',
        imageRef: h.imageRef,
        command: idleCommand(`console-marker-${serverId.slice(0, 8)}`),
        memoryMb: 64,
        vcpus: 1,
        env: { ROLE: 'contract' },
        network: testNetwork(projectId),
        ...overrides,
      };
    };

    const spawn = async (overrides: Partial<InstanceSpec> = {}): Promise<{ spec: InstanceSpec; info: InstanceInfo }> => {
      const spec = specFor(overrides);
      spawned.add(spec.serverId);
      const info = await spawnOnFreeSubnet(driver, spec);
      return { spec, info };
    };

    beforeAll(async () => {
      h = await make();
      driver = h.driver;
    });

    afterAll(async () => {
      if (!h) return;
      for (const id of spawned) await driver.destroy(id).catch(() => undefined);
      for (const img of snapshots) await driver.removeImage(img).catch(() => undefined);
      await h.cleanup();
    });

    describe('the host', () => {
      test('answers ping and describes itself', async () => {
        await expect(driver.ping()).resolves.toBeUndefined();
        const info = await driver.hypervisorInfo();
        expect(info.hostname).toBe(driver.host);
        expect(info.vcpus).toBeGreaterThan(0);
        expect(info.memoryMb).toBeGreaterThan(0);
        expect(typeof info.hypervisorType).toBe('string');
        expect(Number.isInteger(info.hypervisorVersion)).toBe(true);
      });
    });

    describe('images', () => {
      test('the loaded image is there by its engine id, and an unknown id is not', async () => {
        expect(await driver.hasImage(h.imageRef)).toBe(true);
        expect(await driver.hasImage(randomImageId())).toBe(false);
      });

      test('an exported image is an archive of that very image', async () => {
        const stream = await driver.exportImage(h.imageRef);
        const meta = await inspectImageArchive(stream, { maxBytes: 1024 ** 3 });
        expect(meta.imageId).toBe(h.imageRef);
      });

      test('when a fresh archive is loaded, then the engine has it; when removed, it is gone', async () => {
        const { bytes, imageId } = await h.freshArchive();
        expect(await driver.hasImage(imageId)).toBe(false);
        await driver.loadImage(Readable.from([bytes]));
        expect(await driver.hasImage(imageId)).toBe(true);
        await driver.removeImage(imageId);
        expect(await driver.hasImage(imageId)).toBe(false);
      });

      test('when the archive stream fails half-way, then the load fails and nothing is loaded', async () => {
        const { bytes, imageId } = await h.freshArchive();
        const half = bytes.subarray(0, Math.floor(bytes.length / 2));
        const broken = new Readable({
          read() {
            this.push(half);
            this.destroy(new Error('client went away'));
          },
        });
        const err = await rejection(driver.loadImage(broken));
        expect(err.message).toContain('client went away');
        expect(await driver.hasImage(imageId)).toBe(false);
      });

      test('when bytes are not an image archive, then the load fails with InvalidImageArchive', async () => {
        const err = await rejection(driver.loadImage(Readable.from([Buffer.from('this is not a tar archive, just words. '.repeat(40))])));
        expect(err).toBeInstanceOf(InvalidImageArchive);
        expect((err as InvalidImageArchive).reason.length).toBeGreaterThan(0);
      });

      test('removing an unknown image, or one an instance uses, is a no-op', async () => {
        await expect(driver.removeImage(randomImageId())).resolves.toBeUndefined();
        await spawn();
        await expect(driver.removeImage(h.imageRef)).resolves.toBeUndefined();
        expect(await driver.hasImage(h.imageRef)).toBe(true);
      });
    });

    describe('images no record names (releaseUnnamedImages)', () => {
      test('destroy removes the image its instance ran from when no record names it, once no other instance uses it; a named one stays', async () => {
        const unnamed = new Set<string>();
        driver.releaseUnnamedImages?.(async (ref) => !unnamed.has(ref));
        const { bytes, imageId } = await h.freshArchive();
        await driver.loadImage(Readable.from([bytes]));
        const first = await spawn({ imageRef: imageId });
        const second = await spawn({ imageRef: imageId });
        const named = await spawn();
        unnamed.add(imageId);
        await driver.destroy(first.spec.serverId);
        expect(await driver.hasImage(imageId)).toBe(true);
        await driver.destroy(second.spec.serverId);
        expect(await driver.hasImage(imageId)).toBe(false);
        await driver.destroy(named.spec.serverId);
        expect(await driver.hasImage(h.imageRef)).toBe(true);
      });
    });

    describe('spawn', () => {
      test('when an instance is spawned, then it runs with a private IPv4 address and is listed as ours', async () => {
        const { spec, info } = await spawn();
        expect(info.powerState).toBe(1);
        expect(info.addresses).toHaveLength(1);
        expect(info.addresses[0]).toMatchObject({ network: 'private', version: 4 });
        expect(info.addresses[0].addr).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect(info.addresses[0].mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);

        const again = await driver.getInfo(spec.serverId);
        expect(again.powerState).toBe(1);
        expect(again.addresses).toEqual(info.addresses);

        const listed = (await driver.listInstances()).find((i) => i.serverId === spec.serverId);
        expect(listed).toBeDefined();
        expect(listed!.projectId).toBe(spec.projectId);
        expect(listed!.info.powerState).toBe(1);
      });

      test('when spawned without a network, then it runs with no address', async () => {
        const { info } = await spawn({ network: null });
        expect(info.powerState).toBe(1);
        expect(info.addresses).toEqual([]);
      });

      test('when two instances of a new project spawn at once, then both run, on distinct addresses of one network', async () => {
        const projectId = newProject();
        const network = testNetwork(projectId);
        const [a, b] = await Promise.all([spawn({ projectId, network }), spawn({ projectId, network })]);
        expect(a.info.powerState).toBe(1);
        expect(b.info.powerState).toBe(1);
        expect(a.info.addresses[0].addr).not.toBe(b.info.addresses[0].addr);
      });

      test('the authorized keys and the user data are in the instance when it starts', async () => {
        const keys = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIContractKeyOnly contract@test\n';
        const { spec } = await spawn({ authorizedKeys: keys, userData: Buffer.from('#!/bin/sh\necho user-data\n') });
        expect(await h.readFile(spec.serverId, '/root/.ssh/authorized_keys')).toBe(keys);
        expect(await h.readFile(spec.serverId, '/var/lib/cloud/user-data')).toBe('#!/bin/sh\necho user-data\n');
      });

      test('the console shows what the process printed', async () => {
        const { spec } = await spawn();
        await eventually(async () => expect(await driver.getConsoleOutput(spec.serverId)).toContain(`console-marker-${spec.serverId.slice(0, 8)}`));
      });

      test('when the process exits at once, then spawn fails saying so and leaves nothing behind', async () => {
        const spec = specFor({ command: exitCommand('going-away', 3) });
        spawned.add(spec.serverId);
        const err = await rejection(spawnOnFreeSubnet(driver, spec));
        expect(err).toBeInstanceOf(SpawnFailed);
        expect((err as SpawnFailed).reason).toMatch(/exited with code 3/);
        expect((err as SpawnFailed).reason).toContain('going-away');
        await expect(driver.getInfo(spec.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
        expect((await driver.listInstances()).map((i) => i.serverId)).not.toContain(spec.serverId);
        // Nothing half-made blocks the same server from spawning again.
        const info = await spawnOnFreeSubnet(driver, { ...spec, command: idleCommand('second-try') });
        expect(info.powerState).toBe(1);
      });

      test('when the image is not on the host, then spawn fails and leaves nothing behind', async () => {
        const spec = specFor({ imageRef: randomImageId() });
        const err = await rejection(spawnOnFreeSubnet(driver, spec));
        expect(err).toBeInstanceOf(ImageNotOnHost);
        expect((err as ImageNotOnHost).reason).toContain(spec.imageRef);
        await expect(driver.getInfo(spec.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
      });

      test('when a server is rebuilt (destroyed and spawned again), then it keeps its address', async () => {
        const { spec, info } = await spawn();
        await driver.destroy(spec.serverId);
        const rebuilt = await spawnOnFreeSubnet(driver, spec);
        expect(rebuilt.powerState).toBe(1);
        expect(rebuilt.addresses.map((a) => a.addr)).toEqual(info.addresses.map((a) => a.addr));
      });
    });

    describe('power', () => {
      test('when powered off, then it is SHUTDOWN and keeps its address; powering off again is fine', async () => {
        const { spec, info } = await spawn();
        await driver.powerOff(spec.serverId, 10);
        const off = await driver.getInfo(spec.serverId);
        expect(off.powerState).toBe(4);
        expect(off.addresses.map((a) => a.addr)).toEqual(info.addresses.map((a) => a.addr));
        await expect(driver.powerOff(spec.serverId, 10)).resolves.toBeUndefined();
        expect((await driver.listInstances()).find((i) => i.serverId === spec.serverId)?.info.powerState).toBe(4);
      });

      test('when powered on again, then it runs with the same address and file system; powering on again is fine', async () => {
        const { spec, info } = await spawn();
        await h.writeFile(spec.serverId, '/root/kept.txt', 'kept across stop');
        await driver.powerOff(spec.serverId, 10);
        const on = await driver.powerOn(spec.serverId);
        expect(on.powerState).toBe(1);
        expect(on.addresses.map((a) => a.addr)).toEqual(info.addresses.map((a) => a.addr));
        expect(await h.readFile(spec.serverId, '/root/kept.txt')).toBe('kept across stop');
        const again = await driver.powerOn(spec.serverId);
        expect(again.powerState).toBe(1);
      });

      test.each(['SOFT', 'HARD'] as const)('when rebooted %s, then it runs again with its file system and address', async (type) => {
        const { spec, info } = await spawn();
        await h.writeFile(spec.serverId, '/root/kept.txt', `kept across ${type} reboot`);
        const after = await driver.reboot(spec.serverId, type);
        expect(after.powerState).toBe(1);
        expect(after.addresses.map((a) => a.addr)).toEqual(info.addresses.map((a) => a.addr));
        expect(await h.readFile(spec.serverId, '/root/kept.txt')).toBe(`kept across ${type} reboot`);
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(1);
      });

      test('a stopped instance can be rebooted HARD into running', async () => {
        const { spec } = await spawn();
        await driver.powerOff(spec.serverId, 10);
        expect((await driver.reboot(spec.serverId, 'HARD')).powerState).toBe(1);
      });

      test('a paused instance can be rebooted HARD into running', async () => {
        const { spec } = await spawn();
        await driver.pause(spec.serverId);
        expect((await driver.reboot(spec.serverId, 'HARD')).powerState).toBe(1);
      });

      test('when paused, then it is PAUSED; pausing again is fine; when unpaused, it runs', async () => {
        const { spec } = await spawn();
        await driver.pause(spec.serverId);
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(3);
        await expect(driver.pause(spec.serverId)).resolves.toBeUndefined();
        await driver.unpause(spec.serverId);
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(1);
      });

      test('when suspended, then it is frozen (reported PAUSED, see driver.ts); when resumed, it runs', async () => {
        const { spec } = await spawn();
        await driver.suspend(spec.serverId);
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(3);
        await driver.resume(spec.serverId);
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(1);
      });

      test('the console of a stopped instance can still be read', async () => {
        const { spec } = await spawn();
        const marker = `console-marker-${spec.serverId.slice(0, 8)}`;
        await eventually(async () => expect(await driver.getConsoleOutput(spec.serverId)).toContain(marker));
        await driver.powerOff(spec.serverId, 10);
        expect(await driver.getConsoleOutput(spec.serverId)).toContain(marker);
      });
    });

    describe('diagnostics (issue 15)', () => {
      test('a running instance reports its limits, the memory it uses and a CPU time that grows', async () => {
        // A process that wakes up to work, so its CPU time moves between two samples.
        const busy = ['/bin/sh', '-c', 'trap "exit 0" TERM; while true; do i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; sleep 0.2; done'];
        const { spec } = await spawn({ command: busy });
        const first = await driver.diagnostics(spec.serverId);
        expect(first).toMatchObject({ powerState: 1, numCpus: spec.vcpus, memory: { maximumMb: spec.memoryMb } });
        expect(first.memory.usedMb).toBeGreaterThan(0);
        expect(first.uptime).not.toBeNull();
        expect(first.nics.map((n) => n.name)).toEqual(['eth0']);
        expect(first.nics[0].macAddress).toMatch(/^(?:[a-f0-9]{2}:){5}[a-f0-9]{2}$/);
        const cpuTime = (d: typeof first) => d.cpus.reduce((sum, c) => sum + (c.time ?? 0), 0);
        await eventually(async () => expect(cpuTime(await driver.diagnostics(spec.serverId))).toBeGreaterThan(cpuTime(first)));
      });

      test('a stopped instance says it is shut down; an unknown one is InstanceNotFound', async () => {
        const { spec } = await spawn();
        await driver.powerOff(spec.serverId, 10);
        expect((await driver.diagnostics(spec.serverId)).powerState).toBe(4);
        await expect(driver.diagnostics(crypto.randomUUID())).rejects.toBeInstanceOf(InstanceNotFound);
      });
    });

    describe('snapshot', () => {
      test('when an instance is snapshotted, then the new image boots with its file system', async () => {
        const { spec } = await spawn();
        await h.writeFile(spec.serverId, '/root/snap.txt', 'in the snapshot');
        const imageId = await driver.snapshot(spec.serverId, { 'org.openstack.image_id': crypto.randomUUID() });
        snapshots.add(imageId);
        expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(imageId).not.toBe(h.imageRef);
        expect(await driver.hasImage(imageId)).toBe(true);
        // The snapshotted instance goes on running.
        expect((await driver.getInfo(spec.serverId)).powerState).toBe(1);

        const { spec: child, info } = await spawn({ imageRef: imageId });
        expect(info.powerState).toBe(1);
        expect(await h.readFile(child.serverId, '/root/snap.txt')).toBe('in the snapshot');
        // The snapshot's archive is its own image.
        const meta = await inspectImageArchive(await driver.exportImage(imageId), { maxBytes: 1024 ** 3 });
        expect(meta.imageId).toBe(imageId);
      });
    });

    describe('interfaces (issue 17)', () => {
      test('an instance gets the ports addresses under the networks names; one attached and detached live comes and goes', async () => {
        const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
        const nicA = { networkId: a, label: 'contract-a', subnet: '10.220.10.0/24', ip: '10.220.10.10' };
        const nicB = { networkId: b, label: 'contract-b', subnet: '10.220.11.0/24', ip: '10.220.11.10' };
        const { spec, info } = await spawn({ nics: [nicA] });
        expect(info.addresses.map((x) => [x.network, x.addr])).toEqual([['contract-a', '10.220.10.10']]);
        const attached = await driver.attachInterface(spec.serverId, nicB);
        expect(attached.addresses.map((x) => [x.network, x.addr]).sort()).toEqual([['contract-a', '10.220.10.10'], ['contract-b', '10.220.11.10']]);
        await driver.attachInterface(spec.serverId, nicB);
        expect((await driver.getInfo(spec.serverId)).addresses).toHaveLength(2);
        const detached = await driver.detachInterface(spec.serverId, { networkId: b });
        expect(detached.addresses.map((x) => x.addr)).toEqual(['10.220.10.10']);
        await expect(driver.detachInterface(spec.serverId, { networkId: b })).resolves.toBeDefined();
        await driver.destroy(spec.serverId);
        await expect(driver.attachInterface(spec.serverId, nicB)).rejects.toBeInstanceOf(InstanceNotFound);
      });

      test('an empty list of interfaces is no network at all', async () => {
        const { info } = await spawn({ nics: [] });
        expect(info.addresses).toEqual([]);
      });
    });

    describe('destroy and unknown instances', () => {
      test('when destroyed, then it is gone and not listed; destroying again is fine', async () => {
        const { spec } = await spawn();
        await driver.destroy(spec.serverId);
        await expect(driver.getInfo(spec.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
        expect((await driver.listInstances()).map((i) => i.serverId)).not.toContain(spec.serverId);
        await expect(driver.destroy(spec.serverId)).resolves.toBeUndefined();
      });

      test('a stopped or paused instance can be destroyed', async () => {
        const { spec: a } = await spawn();
        const { spec: b } = await spawn();
        await driver.powerOff(a.serverId, 10);
        await driver.pause(b.serverId);
        await driver.destroy(a.serverId);
        await driver.destroy(b.serverId);
        await expect(driver.getInfo(a.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.getInfo(b.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
      });

      test('every call on an unknown instance throws InstanceNotFound (destroy excepted)', async () => {
        const id = crypto.randomUUID();
        await expect(driver.getInfo(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.powerOn(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.powerOff(id, 1)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.reboot(id, 'HARD')).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.pause(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.unpause(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.suspend(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.resume(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.getConsoleOutput(id)).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.snapshot(id, {})).rejects.toBeInstanceOf(InstanceNotFound);
        await expect(driver.destroy(id)).resolves.toBeUndefined();
      });

      test('listInstances lists only instances labelled as ours, each with its server and project', async () => {
        const { spec } = await spawn();
        const list = await driver.listInstances();
        expect(list.map((i) => i.serverId)).toContain(spec.serverId);
        for (const i of list) {
          expect(typeof i.serverId).toBe('string');
          expect(typeof i.projectId).toBe('string');
          expect([0, 1, 3, 4, 6, 7]).toContain(i.info.powerState);
        }
      });
    });

    describe('events of changes made outside novadock', () => {
      test('when the instance is killed outside, then a die event arrives and it is SHUTDOWN', async () => {
        const { spec } = await spawn();
        const seen: InstanceEvent[] = [];
        const errors: Error[] = [];
        const unsubscribe = driver.subscribe((e) => seen.push(e), (e) => errors.push(e));
        try {
          const before = Date.now();
          await h.externalKill(spec.serverId);
          await eventually(() => expect(seen).toContainEqual(expect.objectContaining({ serverId: spec.serverId, type: 'die' })));
          // The event carries its own time (the reconciler's lag metric is measured from it): not before the kill.
          const die = seen.find((e) => e.serverId === spec.serverId && e.type === 'die')!;
          expect(die.time).toEqual(expect.any(Number));
          expect(die.time!).toBeGreaterThanOrEqual(before - 1000);
          const info = await driver.getInfo(spec.serverId);
          expect(info.powerState).toBe(4);
          expect(info.exitCode).toBe(137);
          expect(errors).toEqual([]);
        } finally {
          unsubscribe();
        }
      });

      test('when the instance is removed outside, then a destroy event arrives and it is not found', async () => {
        const { spec } = await spawn();
        const seen: InstanceEvent[] = [];
        const unsubscribe = driver.subscribe((e) => seen.push(e), () => undefined);
        try {
          await h.externalRemove(spec.serverId);
          await eventually(() => expect(seen).toContainEqual(expect.objectContaining({ serverId: spec.serverId, type: 'destroy' })));
          await expect(driver.getInfo(spec.serverId)).rejects.toBeInstanceOf(InstanceNotFound);
        } finally {
          unsubscribe();
        }
      });

      test('events name only our instances, with the driver vocabulary', async () => {
        const { spec } = await spawn();
        const seen: InstanceEvent[] = [];
        const unsubscribe = driver.subscribe((e) => seen.push(e), () => undefined);
        try {
          await driver.pause(spec.serverId);
          await driver.unpause(spec.serverId);
          await eventually(() => expect(seen).toContainEqual(expect.objectContaining({ serverId: spec.serverId, type: 'unpause' })));
          expect(seen).toContainEqual(expect.objectContaining({ serverId: spec.serverId, type: 'pause' }));
          for (const e of seen) {
            expect([...spawned]).toContain(e.serverId);
            expect(['start', 'die', 'oom', 'pause', 'unpause', 'destroy', 'stop', 'kill']).toContain(e.type);
            expect(Object.keys(e).sort()).toEqual(['serverId', 'time', 'type']);
            expect(e.time).toEqual(expect.any(Number));
          }
        } finally {
          unsubscribe();
        }
      });
    });
  });
}
