/**
 * The driver contract against the DockerDriver on the real engine, with a real busybox image
 * loaded through the driver. Each run uses its own compute host name (`test-drv-…`), so it
 * lists, hears and cleans up only its own containers on the shared engine.
 */
import fs from 'node:fs';
import { DriverHarness, describeDriverContract } from '../contract/driver-contract';
import { describeResizeContract } from '../contract/resize-contract';
import { describeMovesContract } from '../contract/moves-contract';
import { busyboxImage } from '../helpers/test-image';
import { DockerDriver } from '../../src/virt/docker/driver';
import { dockerCli, dockerTestHost, removeTestArtifacts, silentLog } from './docker-driver-helpers';

jest.setTimeout(120_000);

const dockerHarness = async (): Promise<DriverHarness> => {
  const host = dockerTestHost();
  const driver = new DockerDriver({ host, log: silentLog(), rebootTimeoutSeconds: 10 });
  const image = busyboxImage('driver-contract');
  // Loaded through the driver (the engine may have it from the helper's build: remove it first
  // when nothing uses it, so the load is real).
  await driver.removeImage(image.imageId);
  await driver.loadImage(fs.createReadStream(image.path));
  const name = (serverId: string) => `novadock-${serverId}`;
  return {
    driver,
    imageRef: image.imageId,
    cleanup: () => removeTestArtifacts(host),
    readFile: async (serverId, path) => {
      const r = await dockerCli(['exec', name(serverId), 'cat', path]);
      return r.code === 0 ? r.stdout : undefined;
    },
    writeFile: async (serverId, path, content) => {
      const r = await dockerCli(['exec', '-i', name(serverId), 'sh', '-c', `cat > '${path}'`], content);
      if (r.code !== 0) throw new Error(`writing ${path}: ${r.stderr}`);
    },
    externalKill: async (serverId) => {
      await dockerCli(['kill', name(serverId)]);
    },
    externalRemove: async (serverId) => {
      await dockerCli(['rm', '-f', name(serverId)]);
    },
    freshArchive: async () => {
      const fresh = busyboxImage('driver-contract-fresh');
      await driver.removeImage(fresh.imageId);
      return { bytes: fs.readFileSync(fresh.path), imageId: fresh.imageId };
    },
  };
};
describeDriverContract('DockerDriver', dockerHarness);
describeResizeContract('DockerDriver', dockerHarness);

// Two compute hosts on the one local engine: the source's container is set aside while the
// destination's, of the same server, exists beside it.
describeMovesContract('two DockerDrivers on one engine', async () => {
  const source = new DockerDriver({ host: dockerTestHost(), log: silentLog(), rebootTimeoutSeconds: 10 });
  const dest = new DockerDriver({ host: dockerTestHost(), log: silentLog(), rebootTimeoutSeconds: 10 });
  const image = busyboxImage('driver-contract');
  if (!(await source.hasImage(image.imageId))) await source.loadImage(fs.createReadStream(image.path));
  const name = (serverId: string) => `novadock-${serverId}`;
  return {
    source,
    dest,
    imageRef: image.imageId,
    readFile: async (_d, serverId, path) => {
      const r = await dockerCli(['exec', name(serverId), 'cat', path]);
      return r.code === 0 ? r.stdout : undefined;
    },
    writeFile: async (_d, serverId, path, content) => {
      const r = await dockerCli(['exec', '-i', name(serverId), 'sh', '-c', `cat > '${path}'`], content);
      if (r.code !== 0) throw new Error(`writing ${path}: ${r.stderr}`);
    },
    cleanup: async () => {
      await removeTestArtifacts(source.host);
      await removeTestArtifacts(dest.host);
    },
  };
});
