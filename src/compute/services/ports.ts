/**
 * What the compute services need from outside compute: the image service (records, snapshots)
 * and the engines' copies of images. Ports, so compute depends on what it uses, not on who
 * implements it.
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../../http/context';
import type { ImageRecord } from '../../image/image-record';
import type { ImageListQuery } from '../../image/list-query';
import type { ComputeDriver } from '../../virt/driver';

/** The image service, as compute uses it. */
export interface ComputeImages {
  /** The image as `ctx` may see it, or undefined (unknown, or another project's private image). */
  find(ctx: RequestContext, id: string): Promise<ImageRecord | undefined>;
  /** Creates the snapshot's image record (queued, listed at once) before createImage answers. */
  beginSnapshot(ctx: RequestContext, req: { name: string; metadata: Record<string, string>; serverId: string; baseImage: ImageRecord | undefined }): Promise<ImageRecord>;
  /** Stores the committed engine image's archive and activates the record. */
  finishSnapshot(imageId: string, engineImageId: string, archive: Readable): Promise<unknown>;
  /** The snapshot failed: the record goes away, no bytes kept. */
  abortSnapshot(imageId: string): Promise<unknown>;
  /** Images `ctx` may see, filtered (backup rotation). */
  list(ctx: RequestContext, query: ImageListQuery): Promise<{ images: ImageRecord[] }>;
  /** Deletes an image as `ctx` (backup rotation). */
  delete(ctx: RequestContext, id: string): Promise<void>;
}

/** Makes sure a compute host's engine has an image (loads it from the image store when not). */
export interface HostImagesPort {
  ensureOnHost(image: Pick<ImageRecord, 'id' | 'engine_image_id'>, driver: ComputeDriver, opts?: { recheck?: boolean }): Promise<void>;
  /** Whether a host is known to hold an engine image (a scheduling hint, no engine call). */
  holds?(host: string, engineImageId: string): boolean;
}
