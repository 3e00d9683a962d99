/**
 * The driver contract against the FakeDriver. The fake's "process" is a tiny reading of the
 * suite's shell commands: `echo WORDS` prints WORDS, `exit N` exits at once with N.
 */
import crypto from 'node:crypto';
import { DriverHarness, describeDriverContract } from '../contract/driver-contract';
import { describeResizeContract } from '../contract/resize-contract';
import { describeMovesContract } from '../contract/moves-contract';
import { FakeDriver, FakeProgram } from '../../src/virt/fake/driver';
import { buildFakeArchive } from '../../src/virt/fake/archive';
import type { InstanceSpec } from '../../src/virt/driver';
import { Readable } from 'node:stream';

/** `/bin/sh -c "…; echo x; exit 3"` → what the process would print and whether it exits. */
export function shellProgram(spec: InstanceSpec): FakeProgram {
  const script = spec.command?.[0] === '/bin/sh' && spec.command[1] === '-c' ? spec.command[2] ?? '' : '';
  const output: string[] = [];
  for (const part of script.split(';').map((p) => p.trim())) {
    const echo = /^echo\s+(.*)$/.exec(part);
    if (echo) output.push(echo[1].replace(/^["']|["']$/g, ''));
    const exit = /^exit\s+(\d+)$/.exec(part);
    if (exit) return { output, exitCode: Number(exit[1]) };
  }
  return { output };
}

const fakeHarness = async (): Promise<DriverHarness> => {
  const driver = new FakeDriver({ host: 'fake-contract', program: shellProgram });
  const base = await buildFakeArchive({ files: { '/etc/variant': 'fake-contract\n' }, cmd: ['/bin/sh'] });
  await driver.loadImage(Readable.from([base.bytes]));
  return {
    driver,
    imageRef: base.imageId,
    cleanup: async () => undefined,
    readFile: async (serverId, path) => driver.readFile(serverId, path),
    writeFile: async (serverId, path, content) => driver.writeFile(serverId, path, content),
    externalKill: async (serverId) => driver.externalKill(serverId),
    externalRemove: async (serverId) => driver.externalRemove(serverId),
    freshArchive: async () => buildFakeArchive({ salt: crypto.randomUUID() }),
  };
};
describeDriverContract('FakeDriver', fakeHarness);
describeResizeContract('FakeDriver', fakeHarness);

describeMovesContract('two FakeDrivers', async () => {
  const source = new FakeDriver({ host: 'fake-move-a', program: shellProgram });
  const dest = new FakeDriver({ host: 'fake-move-b', program: shellProgram });
  const base = await buildFakeArchive({ files: { '/etc/variant': 'fake-moves\n' }, cmd: ['/bin/sh'] });
  await source.loadImage(Readable.from([base.bytes]));
  const fake = (d: unknown) => d as FakeDriver;
  return {
    source,
    dest,
    imageRef: base.imageId,
    readFile: async (d, serverId, path) => fake(d).readFile(serverId, path),
    writeFile: async (d, serverId, path, content) => fake(d).writeFile(serverId, path, content),
    cleanup: async () => undefined,
  };
});
