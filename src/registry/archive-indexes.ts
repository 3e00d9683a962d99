/**
 * ArchiveIndexes: the index of each docker-format image's stored archive, computed on first use
 * and kept (ArchiveIndexRepository), and the blobs it names opened as byte ranges of the stored
 * file. Uploaded tarballs and server snapshots alike: both are `docker save` archives in the
 * image store under their Glance id.
 *
 * Usually it is made by the upload's (or snapshot's) one pass at no extra cost (`keepPassIndex`,
 * from what the inspector saw: offsets, the config, and the diff_ids the engine checked), so no
 * second read is needed; only an archive whose big layers are compressed (their digests would
 * need a sha256 of all their bytes, which the pass does not spend) or one stored before this
 * existed is indexed here on first use, by one read of the stored file. `warm()` does that in the
 * background.
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ArchiveIndexRepository, IndexedImage } from '../db/archive-index-repo';
import type { ImageStore } from '../store/image-store';
import type { ImageArchiveInfo } from '../virt/image-archive';
import { ArchiveBlob, ArchiveIndex, indexFromLayout, indexImageArchive, openArchiveBlob } from './archive-index';

/** Where a pass keeps the index it made (ArchiveIndexRepository). */
export interface ArchiveIndexSink {
  put(imageId: string, index: ArchiveIndex): Promise<boolean>;
}

/**
 * Keeps the index an upload or snapshot pass made of image `imageId`'s archive, when the pass
 * could make one (see indexFromLayout). Never fails the caller: without it, the index is made
 * on first use.
 */
export async function keepPassIndex(sink: ArchiveIndexSink | undefined, imageId: string, info: ImageArchiveInfo | undefined, log: Logger): Promise<void> {
  const index = sink && info?.layout ? indexFromLayout(info.layout, info.repoTags) : undefined;
  if (!sink || !index) return;
  await sink.put(imageId, index).catch((err) => log.warn({ err, image_id: imageId }, 'the registry index of the image archive was not kept'));
}

export interface ArchiveIndexesDeps {
  repo: ArchiveIndexRepository;
  store: Pick<ImageStore, 'read' | 'readRange'>;
  log: Logger;
}

export class ArchiveIndexes {
  /** Builds under way, by image: concurrent first uses share one read of the archive. */
  private readonly building = new Map<string, Promise<ArchiveIndex>>();

  constructor(private readonly deps: ArchiveIndexesDeps) {}

  /**
   * The index of image `imageId`'s stored archive: the kept one, or computed now from the store
   * and kept. Rejects with ArchiveNotServable when the data is not a plain `docker save` archive,
   * and with the store's error when the image has no data.
   */
  async of(imageId: string): Promise<ArchiveIndex> {
    const kept = await this.deps.repo.get(imageId);
    if (kept) return kept;
    let build = this.building.get(imageId);
    if (!build) {
      build = this.build(imageId).finally(() => this.building.delete(imageId));
      this.building.set(imageId, build);
    }
    return build;
  }

  private async build(imageId: string): Promise<ArchiveIndex> {
    const started = Date.now();
    const index = await indexImageArchive(await this.deps.store.read(imageId));
    await this.deps.repo.put(imageId, index);
    this.deps.log.info({ image_id: imageId, engine_image_id: index.imageId, manifest_digest: index.manifest.digest, layers: index.layers.length, ms: Date.now() - started }, 'image archive indexed for the registry');
    return index;
  }

  /** Indexes the image now, in the background; a failure is logged, and the next `of()` tries again. */
  warm(imageId: string): Promise<void> {
    return this.of(imageId).then(() => undefined, (err) => this.deps.log.warn({ err, image_id: imageId }, 'image archive could not be indexed for the registry'));
  }

  /** Images already indexed whose manifest has this digest. */
  byManifestDigest(digest: string): Promise<IndexedImage[]> {
    return this.deps.repo.byManifestDigest(digest);
  }

  /** Images already indexed holding this engine image. */
  byEngineImageId(engineImageId: string): Promise<IndexedImage[]> {
    return this.deps.repo.byEngineImageId(engineImageId);
  }

  /** A blob of image `imageId`'s index (or [start, end] of it, inclusive), read from the stored archive. */
  openBlob(imageId: string, blob: ArchiveBlob, range?: { start: number; end: number }): Promise<Readable> {
    return openArchiveBlob(this.deps.store, imageId, blob, range);
  }
}
