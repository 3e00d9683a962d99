/**
 * Registry archive indexes (migration 20261207040000_image_archive_indexes): one per Glance
 * image whose stored data is a `docker save` archive, computed once (src/registry/archive-index.ts)
 * and kept, since an image's data never changes once it is active. A row goes with its image
 * (ON DELETE CASCADE).
 */
import { now } from '../clock';
import { isConstraintViolation } from './dialect';
import type { Db } from './knex';
import { parseIndex, serializeIndex, type ArchiveIndex } from '../registry/archive-index';

export interface IndexedImage {
  /** The Glance image whose stored archive the index describes. */
  imageId: string;
  index: ArchiveIndex;
}

export class ArchiveIndexRepository {
  constructor(private readonly db: Db) {}

  async get(imageId: string): Promise<ArchiveIndex | undefined> {
    const row = await this.db('image_archive_indexes').where({ image_id: imageId }).first('index_json');
    return row ? parseIndex(row.index_json) : undefined;
  }

  /**
   * Keeps the index of an image. The first one kept wins: two processes indexing the same
   * archive at once compute the same index, so the second insert is simply dropped. Resolves
   * to false when the image is gone (its row cannot reference it).
   */
  async put(imageId: string, index: ArchiveIndex): Promise<boolean> {
    try {
      await this.db('image_archive_indexes')
        .insert({ image_id: imageId, engine_image_id: index.imageId, manifest_digest: index.manifest.digest, index_json: serializeIndex(index), created_at: now() })
        .onConflict('image_id').ignore();
      return true;
    } catch (e) {
      if (isConstraintViolation(e)) return false;
      throw e;
    }
  }

  /** The images whose registry manifest has this digest (the same archive uploaded twice gives two). */
  async byManifestDigest(digest: string): Promise<IndexedImage[]> {
    return this.rows(this.db('image_archive_indexes').where({ manifest_digest: digest }));
  }

  /** The images holding this engine image (sha256 of its config). */
  async byEngineImageId(engineImageId: string): Promise<IndexedImage[]> {
    return this.rows(this.db('image_archive_indexes').where({ engine_image_id: engineImageId }));
  }

  async remove(imageId: string): Promise<void> {
    await this.db('image_archive_indexes').where({ image_id: imageId }).del();
  }

  private async rows(q: ReturnType<Db>): Promise<IndexedImage[]> {
    const rows: { image_id: string; index_json: string }[] = await q.select('image_id', 'index_json').orderBy('image_id');
    return rows.map((r) => ({ imageId: r.image_id, index: parseIndex(r.index_json) }));
  }
}
