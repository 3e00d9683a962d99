/** The console part of the driver contract against the FakeDriver (its shell: src/virt/fake/console.ts). */
import { Readable } from 'node:stream';
import { describeConsoleContract } from '../contract/console-contract';
import { FakeDriver } from '../../src/virt/fake/driver';
import { buildFakeArchive } from '../../src/virt/fake/archive';

describeConsoleContract('FakeDriver', async () => {
  const driver = new FakeDriver({ host: 'fake-console' });
  const base = await buildFakeArchive({ files: { '/bin/sh': 'fake shell' }, cmd: ['/bin/sh'] });
  await driver.loadImage(Readable.from([base.bytes]));
  return {
    driver,
    imageRef: base.imageId,
    shellsIn: async (serverId) => driver.consoles.live(serverId).length,
    cleanup: async () => undefined,
  };
});
