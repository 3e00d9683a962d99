/**
 * The spawn's check that the process did not exit at once (src/virt/docker/spawner.ts), against a
 * fake engine whose start call is slow and which reports the exit only some time after the start
 * returned, as a loaded engine does. The real engine's case is the driver contract's "exits at
 * once" test (test/docker/docker-driver-contract.test.ts).
 */
import type Docker from 'dockerode';
import pino from 'pino';
import { InstanceSpec, SpawnFailed } from '../../src/virt/driver';
import type { ProjectNetworks } from '../../src/virt/docker/networks';
import { DockerSpawner, startupGrace } from '../../src/virt/docker/spawner';

const limits = { pidsLimit: 1000, hostCpus: 2, logMaxSize: '1m', logMaxFiles: 1 };
const spec: InstanceSpec = {
  serverId: '6d1f3c2a-9a7e-4e0b-8a59-0c3f6a0b1d2e',
  projectId: 'p1',
  hostname: 'check',
  imageRef: `sha256:${'a'.repeat(64)}`,
  command: ['/bin/false'],
  memoryMb: 64,
  vcpus: 1,
  env: {},
  network: null,
};

/**
 * An engine whose n-th start call takes `startMs[n]` and whose n-th process exits (code 3) and
 * is reported so `exitSeenMs[n]` after its start returned (the last of each again after that);
 * `inspects` holds how long after the start returned each inspect came.
 */
function fakeEngine(startMs: number[], exitSeenMs: number[]) {
  let starts = 0;
  let startedAt = 0;
  let exitAfter = Infinity;
  const nth = (a: number[], n: number) => a[Math.min(n, a.length - 1)];
  const inspects: number[] = [];
  const container = {
    id: 'c1',
    async start() {
      await new Promise((r) => setTimeout(r, nth(startMs, starts)));
      exitAfter = nth(exitSeenMs, starts++);
      startedAt = Date.now();
    },
    async inspect() {
      const since = Date.now() - startedAt;
      inspects.push(since);
      const exited = since >= exitAfter;
      return {
        State: { Running: !exited, Status: exited ? 'exited' : 'running', ExitCode: exited ? 3 : 0, OOMKilled: false, Error: '' },
        NetworkSettings: { Networks: {} },
      };
    },
    async logs() {
      return Buffer.alloc(0);
    },
    async remove() {
      return undefined;
    },
  };
  const docker = { createContainer: async () => container } as unknown as Docker;
  return { docker, inspects };
}

const networks = { labelsOf: async () => new Map<string, string>() } as unknown as ProjectNetworks;
const log = pino({ level: 'silent' });

describe('DockerSpawner: a process that exits at once', () => {
  test("when a start call is slower than the engine's quickest, then an exit the engine reports later than the configured check is still a failed spawn", async () => {
    // The first start takes ~0 ms and its process keeps running; the second takes 600 ms and its
    // process's exit is reported 40 ms later, which a 10 ms check alone would not see.
    const { docker, inspects } = fakeEngine([0, 600], [Infinity, 40]);
    const spawner = new DockerSpawner(docker, 'host-a', log, networks, 10);
    await expect(spawner.spawn(spec, limits)).resolves.toMatchObject({ powerState: 1 });
    await expect(spawner.spawn(spec, limits)).rejects.toThrow(SpawnFailed);
    // 10 ms and a tenth of the ~600 ms more than the quickest start.
    expect(inspects[1]).toBeGreaterThanOrEqual(65);
  });

  test('when each start call is as quick as the quickest, then the configured check is the whole wait', async () => {
    const { docker, inspects } = fakeEngine([300], [Infinity]);
    const spawner = new DockerSpawner(docker, 'host-a', log, networks, 30);
    for (let i = 0; i < 2; i++) expect((await spawner.spawn(spec, limits)).powerState).toBe(1);
    expect(inspects[0]).toBeGreaterThanOrEqual(29);
    expect(inspects[1]).toBeGreaterThanOrEqual(29);
  });

  test.each([
    // [configured check, this start, the quickest start, wait]
    [10, 400, 400, 10],
    [10, 420, 400, 12],
    [10, 1400, 400, 110],
    [10, 60_000, 400, 500],
  ])('a %d ms check after a %d ms start, the quickest %d ms, waits %d ms', (check, start, quickest, wait) => {
    expect(startupGrace(check, start, quickest)).toBeCloseTo(wait, 6);
  });

  test('when the check is off (0), then the process is looked at once, at once', async () => {
    const { docker, inspects } = fakeEngine([0, 600], [Infinity]);
    const spawner = new DockerSpawner(docker, 'host-a', log, networks, 0);
    for (let i = 0; i < 2; i++) await expect(spawner.spawn(spec, limits)).resolves.toMatchObject({ powerState: 1 });
    expect(inspects).toHaveLength(2);
  });
});
