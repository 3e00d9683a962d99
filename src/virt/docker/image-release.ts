/**
 * Engine images leave under the image service's rule: an engine image goes when no image record
 * names it (src/image/image-service.ts removeEngineImage), and the engine keeps one an instance
 * still uses.
 *
 * - destroy() applies the rule to the image the destroyed instance ran from. Deleting an image
 *   record removes its engine copy, but not while an instance uses it, and that removal is not
 *   tried again: an unshelved server runs from its shelved image, whose record is deleted right
 *   after; a server booted from a snapshot outlives the snapshot's deletion. Such images now
 *   leave with their last instance.
 * - A removal walks up the parents itself instead of letting the engine prune them: a committed
 *   image (snapshot, shelve) has the image its container ran from as parent, and the engine would
 *   prune that too when untagged (ours always are), even while a record names it. A parent goes
 *   only when no record names it and nothing else uses it.
 *
 * Until ComputeDriver.releaseUnnamedImages is called (a driver used without the image service),
 * destroy() leaves images alone and a removal prunes as the engine does.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { ImageNamed } from '../driver';
import type { DockerImages } from './images';

export class ImageRelease {
  private named: ImageNamed | undefined;

  constructor(private readonly images: DockerImages, private readonly log: Logger) {}

  use(named: ImageNamed): void {
    this.named = named;
  }

  /** Removes an engine image (a no-op when absent or in use), then its parents no record names. */
  async remove(imageRef: string): Promise<void> {
    const named = this.named;
    if (!named) return this.images.removeImage(imageRef);
    for (let ref: string | undefined = imageRef; ref;) {
      const parent = await this.images.parentOf(ref);
      await this.images.removeImage(ref, false);
      // Kept (an instance or a child image uses it): so are its parents.
      if (!parent || (await this.images.hasImage(ref)) || (await named(parent))) return;
      ref = parent;
    }
  }

  /** After destroy() removed `removed`: its image goes unless a record names it. Never throws (the instance is gone either way). */
  async afterDestroy(removed: Docker.ContainerInspectInfo | undefined): Promise<void> {
    const ref = removed?.Image;
    if (!ref || !this.named) return;
    try {
      if (await this.named(ref)) return;
      await this.remove(ref);
    } catch (err) {
      this.log.warn({ err, engine_image_id: ref }, 'could not remove the image of a destroyed instance that no image names');
    }
  }
}
