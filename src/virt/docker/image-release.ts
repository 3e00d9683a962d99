/**
 * The engine image a destroyed instance ran from, removed when no image record names it.
 *
 * Deleting an image removes its engine copy from every host unless another record names it
 * (src/image/image-service.ts), but the engine keeps an image an instance still uses, and that
 * removal is not tried again: an unshelved server runs from its shelved image, whose record is
 * deleted right after; a server booted from a snapshot outlives the snapshot's deletion. destroy()
 * applies the same rule once the instance is gone (removeImage keeps an image another instance
 * still uses), so such images leave with their last instance.
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

  /** After destroy() removed `removed`: its image goes unless a record names it. Never throws (the instance is gone either way). */
  async afterDestroy(removed: Docker.ContainerInspectInfo | undefined): Promise<void> {
    const ref = removed?.Image;
    if (!ref || !this.named) return;
    try {
      if (await this.named(ref)) return;
      await this.images.removeImage(ref);
    } catch (err) {
      this.log.warn({ err, engine_image_id: ref }, 'could not remove the image of a destroyed instance that no image names');
    }
  }
}
