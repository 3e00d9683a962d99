/**
 * RegistryImages: the Glance side of the embedded registry (src/registry). A pushed
 * `<project>/<name>:<tag>` is a Glance image — docker/raw, owned by the project, named
 * `<name>:<tag>`, active at once, its size the sum of its blobs, its engine id the config digest,
 * properties naming the repository and manifest digest. Pushing the tag again makes a new image
 * and hides the old one (os_hidden), as a registry moves a tag.
 */
import type { Logger } from 'pino';
import type { ImageRepository, NewImage } from '../db/image-repo';
import { now } from '../clock';
import { newDockerImage } from './image-record';
import type { RegistryCatalogue, TaggedImage } from '../registry/registry-service';

/** Image properties a pushed image carries. */
export const REGISTRY_PROPERTIES = { repository: 'registry_repository', manifestDigest: 'registry_manifest_digest' } as const;

export class RegistryImages implements RegistryCatalogue {
  /** `discard` deletes an image with its engine copies (ImageService.discard). */
  constructor(private readonly repo: ImageRepository, private readonly discard: (imageId: string) => Promise<void>, private readonly log: Logger) {}

  async tagged(t: TaggedImage, previousImageId: string | null): Promise<string> {
    const rec: NewImage = newDockerImage({
      name: `${t.repository.split('/').slice(1).join('/')}:${t.tag}`,
      owner: t.projectId,
      properties: { [REGISTRY_PROPERTIES.repository]: t.repository, [REGISTRY_PROPERTIES.manifestDigest]: t.manifestDigest },
    }, now());
    await this.repo.create(rec);
    await this.repo.transition(rec.id, 'queued', 'active', { size: t.size, engine_image_id: t.configDigest });
    if (previousImageId) await this.repo.edit(previousImageId, () => ({ os_hidden: true }));
    return rec.id;
  }

  async untagged(imageIds: string[]): Promise<void> {
    for (const id of imageIds) {
      await this.discard(id).catch((err) => this.log.warn({ err, image_id: id }, 'could not remove the image of a deleted registry manifest'));
    }
  }

  async anyProtected(imageIds: string[]): Promise<boolean> {
    for (const id of imageIds) if ((await this.repo.get(id))?.protected) return true;
    return false;
  }

  /** Whether any image of `imageIds` is public or community (anonymous and cross-project pulls). */
  async anyPublic(imageIds: string[]): Promise<boolean> {
    for (const id of imageIds) {
      const img = await this.repo.get(id);
      if (img && (img.visibility === 'public' || img.visibility === 'community')) return true;
    }
    return false;
  }
}
