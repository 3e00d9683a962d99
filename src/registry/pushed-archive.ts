/**
 * A pushed image's `docker save` archive, written as it streams from the registry's blobs, so
 * `openstack image save` (GET /v2/images/{id}/file) of an image that came by `docker push` gives
 * what `docker load` accepts, as it does for an uploaded tarball. Nothing is stored twice.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ImageRecord } from '../image/image-record';
import { REGISTRY_PROPERTIES } from '../image/registry-images';
import { writeImageArchive, type WriterBlob } from './archive-writer';
import type { RegistryService } from './registry-service';

interface Described { digest: string; size: number }

export async function pushedArchive(service: RegistryService, image: ImageRecord, registryHost: string, log: Logger): Promise<Readable | undefined> {
  const repository = image.properties?.[REGISTRY_PROPERTIES.repository];
  const digest = image.properties?.[REGISTRY_PROPERTIES.manifestDigest];
  if (typeof repository !== 'string' || typeof digest !== 'string') return undefined;
  try {
    // An index's image is its child for the compute hosts' platform.
    const manifest = await service.platformManifest(repository, digest);
    const parsed = JSON.parse(manifest.body.toString('utf8')) as { config?: Described; layers?: Described[] };
    if (!parsed.config || !Array.isArray(parsed.layers)) return undefined;
    const blob = async (d: Described): Promise<WriterBlob> => {
      const b = await service.blob(repository, d.digest);
      return { digest: b.digest, size: b.size, open: () => b.open() };
    };
    const name = image.name ?? '';
    const tag = name.includes(':') ? name.slice(name.lastIndexOf(':') + 1) : 'latest';
    return writeImageArchive({ config: await blob(parsed.config), layers: await Promise.all(parsed.layers.map(blob)), repoTags: [`${registryHost}/${repository}:${tag}`] });
  } catch (err) {
    log.warn({ err, image_id: image.id }, 'the pushed image has no complete manifest and blobs to write an archive from');
    return undefined;
  }
}
