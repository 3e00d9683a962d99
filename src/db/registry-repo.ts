/**
 * The embedded registry's records (migration 20261207030000_registry): blobs, which repository
 * may see which blob, manifests and what they reference, tags, uploads in progress.
 * A blob is in use while a manifest references it or a repository links it; `unused` names those
 * that are neither, for the blob store to remove.
 */
import type { Db } from './knex';
import { isConstraintViolation } from './dialect';

export interface UploadRow {
  id: string;
  repository: string;
  project_id: string;
  user_id: string;
  offset: number;
  updated_ms: number;
}

export interface ManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  body: Buffer;
}

export interface TagRow {
  repository: string;
  tag: string;
  digest: string;
  image_id: string | null;
}

const toUpload = (r: Record<string, unknown>): UploadRow => ({
  id: String(r.id), repository: String(r.repository), project_id: String(r.project_id), user_id: String(r.user_id), offset: Number(r.offset), updated_ms: Number(r.updated_ms),
});

export class RegistryRepository {
  constructor(private readonly db: Db) {}

  // ------------------------------------------------------------ blobs

  async blobSize(digest: string): Promise<number | undefined> {
    const row = await this.db('registry_blobs').where({ digest }).first();
    return row ? Number(row.size) : undefined;
  }

  /** Records a stored blob (already recorded is fine: blobs are content-addressed). */
  async addBlob(digest: string, size: number): Promise<void> {
    await this.db('registry_blobs').insert({ digest, size, created_ms: Date.now() }).onConflict('digest').ignore();
  }

  /** Whether `repository` may see blob `digest` (uploaded or mounted there, or referenced by one of its manifests). */
  async linked(repository: string, digest: string): Promise<boolean> {
    const link = await this.db('registry_blob_links').where({ repository, digest }).first();
    if (link) return true;
    const ref = await this.db('registry_manifest_refs').where({ repository, ref_digest: digest }).first();
    return ref !== undefined;
  }

  async link(repository: string, digest: string): Promise<void> {
    await this.db('registry_blob_links').insert({ repository, digest, created_ms: Date.now() }).onConflict(['repository', 'digest']).merge({ created_ms: Date.now() });
  }

  /** Removes a repository's link to a blob; true when there was one. */
  async unlink(repository: string, digest: string): Promise<boolean> {
    return (await this.db('registry_blob_links').where({ repository, digest }).del()) > 0;
  }

  /** Links older than `beforeMs` whose blob no manifest of the repository references: uploads never pushed a manifest for. */
  async dropStaleLinks(beforeMs: number): Promise<string[]> {
    const stale = await this.db('registry_blob_links as l')
      .where('l.created_ms', '<', beforeMs)
      .whereNotExists(this.db('registry_manifest_refs as r').whereRaw('r.repository = l.repository and r.ref_digest = l.digest'))
      .select('l.repository', 'l.digest');
    for (const s of stale) await this.db('registry_blob_links').where({ repository: s.repository, digest: s.digest }).andWhere('created_ms', '<', beforeMs).del();
    return [...new Set(stale.map((s: { digest: string }) => s.digest))];
  }

  /**
   * Forgets the blobs among `digests` that nothing uses (no link, no reference) and returns them,
   * for their files to be removed. One delete each, guarded in SQL, so a blob linked meanwhile stays.
   */
  async releaseUnused(digests: string[]): Promise<string[]> {
    const gone: string[] = [];
    for (const digest of new Set(digests)) {
      const n = await this.db('registry_blobs').where({ digest })
        .whereNotExists(this.db('registry_blob_links').where({ digest }))
        .whereNotExists(this.db('registry_manifest_refs').where({ ref_digest: digest }))
        .del();
      if (n > 0) gone.push(digest);
    }
    return gone;
  }

  // ------------------------------------------------------------ manifests and tags

  async manifest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    const row = await this.db('registry_manifests').where({ repository, digest }).first();
    return row ? { repository, digest, media_type: row.media_type, body: Buffer.from(row.body_b64, 'base64') } : undefined;
  }

  /** Stores a manifest and what it references; a second put of the same digest changes nothing. */
  async putManifest(m: ManifestRow, refs: string[]): Promise<void> {
    await this.db.transaction(async (trx) => {
      try {
        await trx('registry_manifests').insert({ repository: m.repository, digest: m.digest, media_type: m.media_type, body_b64: m.body.toString('base64'), created_ms: Date.now() });
      } catch (e) {
        if (isConstraintViolation(e)) return;
        throw e;
      }
      const rows = [...new Set(refs)].map((ref) => ({ repository: m.repository, manifest_digest: m.digest, ref_digest: ref }));
      if (rows.length > 0) await trx('registry_manifest_refs').insert(rows);
    });
  }

  /**
   * Deletes a manifest, its references and the tags that point at it; resolves to what it
   * referenced and the Glance images of those tags, or undefined when there was no such manifest.
   */
  async deleteManifest(repository: string, digest: string): Promise<{ refs: string[]; imageIds: string[] } | undefined> {
    return this.db.transaction(async (trx) => {
      const refs = (await trx('registry_manifest_refs').where({ repository, manifest_digest: digest }).select('ref_digest')).map((r: { ref_digest: string }) => r.ref_digest);
      const imageIds = (await trx('registry_tags').where({ repository, digest }).whereNotNull('image_id').select('image_id')).map((r: { image_id: string }) => r.image_id);
      const n = await trx('registry_manifests').where({ repository, digest }).del();
      if (n === 0) return undefined;
      await trx('registry_manifest_refs').where({ repository, manifest_digest: digest }).del();
      await trx('registry_tags').where({ repository, digest }).del();
      return { refs, imageIds };
    });
  }

  /** Whether any manifest references `digest` (a manifest list's children are kept by it). */
  async referenced(repository: string, digest: string): Promise<boolean> {
    return (await this.db('registry_manifest_refs').where({ repository, ref_digest: digest }).first()) !== undefined;
  }

  async tag(repository: string, tag: string): Promise<TagRow | undefined> {
    const row = await this.db('registry_tags').where({ repository, tag }).first();
    return row ? { repository, tag, digest: row.digest, image_id: row.image_id } : undefined;
  }

  async tagByImage(imageId: string): Promise<TagRow | undefined> {
    const row = await this.db('registry_tags').where({ image_id: imageId }).first();
    return row ? { repository: row.repository, tag: row.tag, digest: row.digest, image_id: row.image_id } : undefined;
  }

  /**
   * Points a tag at a manifest; resolves to what it pointed at before (undefined: a new tag).
   * The previous row is read and replaced in one transaction.
   */
  async setTag(repository: string, tag: string, digest: string, imageId: string | null): Promise<TagRow | undefined> {
    return this.db.transaction(async (trx) => {
      const before = await trx('registry_tags').where({ repository, tag }).forUpdate().first();
      if (before) await trx('registry_tags').where({ repository, tag }).update({ digest, image_id: imageId, updated_ms: Date.now() });
      else await trx('registry_tags').insert({ repository, tag, digest, image_id: imageId, updated_ms: Date.now() });
      return before ? { repository, tag, digest: before.digest, image_id: before.image_id } : undefined;
    });
  }

  /** Whether any tag of `repository` names manifest `digest`. */
  async digestTagged(repository: string, digest: string): Promise<boolean> {
    return (await this.db('registry_tags').where({ repository, digest }).first()) !== undefined;
  }

  /** Removes the tag whose Glance image is `imageId`; resolves to it. */
  async deleteTagOfImage(imageId: string): Promise<TagRow | undefined> {
    const t = await this.tagByImage(imageId);
    if (!t) return undefined;
    const n = await this.db('registry_tags').where({ repository: t.repository, tag: t.tag, image_id: imageId }).del();
    return n > 0 ? t : undefined;
  }

  /** Tags of a repository in byte order, after `last`, at most `limit`. */
  async tags(repository: string, last: string | undefined, limit: number): Promise<string[]> {
    let q = this.db('registry_tags').where({ repository });
    if (last !== undefined) q = q.andWhere('tag', '>', last);
    return (await q.orderBy('tag').limit(limit).select('tag')).map((r: { tag: string }) => r.tag);
  }

  /** The Glance images of a repository's tags. */
  async imageIds(repository: string): Promise<string[]> {
    return (await this.db('registry_tags').where({ repository }).whereNotNull('image_id').select('image_id')).map((r: { image_id: string }) => r.image_id);
  }

  /** Whether a repository has anything: a manifest or a link. */
  async repositoryExists(repository: string): Promise<boolean> {
    if (await this.db('registry_manifests').where({ repository }).first()) return true;
    return (await this.db('registry_blob_links').where({ repository }).first()) !== undefined;
  }

  /** Repositories holding manifests, sorted. */
  async repositories(): Promise<string[]> {
    return (await this.db('registry_manifests').distinct('repository').orderBy('repository')).map((r: { repository: string }) => r.repository);
  }

  // ------------------------------------------------------------ uploads

  async createUpload(u: UploadRow): Promise<void> {
    await this.db('registry_uploads').insert(u);
  }

  async upload(id: string): Promise<UploadRow | undefined> {
    const row = await this.db('registry_uploads').where({ id }).first();
    return row ? toUpload(row) : undefined;
  }

  /** Compare-and-set on the offset: true when the upload was at `from` and is now at `to`. */
  async advanceUpload(id: string, from: number, to: number): Promise<boolean> {
    return (await this.db('registry_uploads').where({ id, offset: from }).update({ offset: to, updated_ms: Date.now() })) === 1;
  }

  /** Removes an upload's record; true when this call removed it. */
  async deleteUpload(id: string): Promise<boolean> {
    return (await this.db('registry_uploads').where({ id }).del()) === 1;
  }

  /** Uploads untouched since `beforeMs`. */
  async staleUploads(beforeMs: number): Promise<UploadRow[]> {
    return (await this.db('registry_uploads').where('updated_ms', '<', beforeMs).select()).map(toUpload);
  }
}
