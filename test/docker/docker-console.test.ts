/**
 * The console part of the driver contract against the DockerDriver on the real engine: a busybox
 * shell through the engine's exec with a TTY. Console shells are counted from outside with
 * `docker top` (processes whose command line is exactly /bin/sh: the instance's own process is
 * `/bin/sh -c …`).
 */
import fs from 'node:fs';
import { describeConsoleContract } from '../contract/console-contract';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

describeConsoleContract('DockerDriver', async () => {
  const host = dockerTestHost();
  const driver = new DockerDriver({ host, log: silentLog(), rebootTimeoutSeconds: 5 });
  const image = busyboxImage('docker-console');
  if (!(await driver.hasImage(image.imageId))) await driver.loadImage(fs.createReadStream(image.path));
  return {
    driver,
    imageRef: image.imageId,
    shellsIn: async (serverId) => {
      const r = await dockerCli(['top', `novadock-${serverId}`, '-eo', 'pid,args']);
      if (r.code !== 0) throw new Error(`docker top: ${r.stderr}`);
      return r.stdout.split('\n').slice(1).filter((l) => l.trim().replace(/^\d+\s+/, '') === '/bin/sh').length;
    },
    cleanup: () => removeTestArtifacts(host),
  };
});
