/**
 * The embedded registry's records (migration 20261207030000_registry): blobs, which repository
 * may see which blob, manifests and what they reference, tags, uploads in progress.
 * A blob is in use while a manifest references it or a repository links it; `unused` names those
 * that are neither, for the blob store to remove.
 *
 * A link holds a blob that was uploaded, mounted or found (HEAD) for a push until a manifest
 * references it: the manifest's put drops the links it uses, so deleting the manifest releases
 * its blobs at once. Every transaction that makes a blob live or removes it takes the blob's lock
 * (`serialize`: one connection on SQLite, an advisory lock on PostgreSQL), so a blob's file is
 * removed only by a release that won against every concurrent push, mount and reuse of it.
 */
import type { Knex } from 'knex';
import type { Db } from './knex';
import { isConstraintViolation, serialize } from './dialect';

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

/** Why a manifest could not be stored: a blob or child manifest the repository does not hold. */
export type ManifestRefused = { missing: string };

const blobLock = (trx: Knex.Transaction, digest: string) => serialize(trx, `novadock.registry_blob:${digest}`);

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

  /**
   * Records blob `digest` as stored and linked to `repository`, before its file is put in place:
   * a release waiting on the blob's lock then finds the link and keeps the blob, and a release
   * that went first has removed the old file before this one is written.
   */
  async storeBlob(repository: string, digest: string, size: number): Promise<void> {
    await this.db.transaction(async (trx) => {
      await blobLock(trx, digest);
      await trx('registry_blobs').insert({ digest, size, created_ms: Date.now() }).onConflict('digest').ignore();
      await trx('registry_blob_links').insert({ repository, digest, created_ms: Date.now() }).onConflict(['repository', 'digest']).merge({ created_ms: Date.now() });
    });
  }

  /**
   * Links blob `digest` into `repository` if it is stored and `from` may see it (a mount), or if
   * `repository` itself may see it (`from` = `repository`: a push found it there and will reuse
   * it). The link keeps the blob from a concurrent release until the push's manifest uses it.
   */
  async claimLink(repository: string, digest: string, from: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await blobLock(trx, digest);
      if (!(await trx('registry_blobs').where({ digest }).first()) || !(await visible(trx, from, digest))) return false;
      await trx('registry_blob_links').insert({ repository, digest, created_ms: Date.now() }).onConflict(['repository', 'digest']).merge({ created_ms: Date.now() });
      return true;
    });
  }

  /** Whether `repository` may see blob `digest` (uploaded or mounted there, or referenced by one of its manifests). */
  async linked(repository: string, digest: string): Promise<boolean> {
    return visible(this.db, repository, digest);
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
   * Forgets blob `digest` if nothing uses it (no link, no reference), and calls `remove` for its
   * file while still holding the blob's lock, so no push can store it again in between; resolves
   * to whether it was released. If `remove` throws, the record stays (and the error is thrown).
   */
  async release(digest: string, remove: (digest: string) => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await blobLock(trx, digest);
      const n = await trx('registry_blobs').where({ digest })
        .whereNotExists(trx('registry_blob_links').where({ digest }))
        .whereNotExists(trx('registry_manifest_refs').where({ ref_digest: digest }))
        .del();
      if (n === 0) return false;
      await remove(digest);
      return true;
    });
  }

  // ------------------------------------------------------------ manifests and tags

  async manifest(repository: string, digest: string): Promise<ManifestRow | undefined> {
    const row = await this.db('registry_manifests').where({ repository, digest }).first();
    return row ? { repository, digest, media_type: row.media_type, body: Buffer.from(row.body_b64, 'base64') } : undefined;
  }

  /**
   * Stores a manifest and what it references, if `repository` holds every blob (stored, and
   * linked or referenced there) and child manifest; a second put of the same digest changes
   * nothing. The links of the blobs it references are dropped (its references hold them now),
   * unless a push renewed them after `checkedMs`. The blobs' locks are held throughout, so none
   * is released between the check and the references.
   */
  async putManifest(m: ManifestRow, blobs: string[], children: string[], checkedMs: number): Promise<ManifestRefused | undefined> {
    return this.db.transaction(async (trx) => {
      const unique = [...new Set(blobs)].sort();
      for (const digest of unique) await blobLock(trx, digest);
      for (const digest of unique) {
        if (!(await trx('registry_blobs').where({ digest }).first()) || !(await visible(trx, m.repository, digest))) return { missing: digest };
      }
      for (const digest of children) {
        if (!(await trx('registry_manifests').where({ repository: m.repository, digest }).first())) return { missing: digest };
      }
      try {
        await trx.transaction(async (inner) => {
          await inner('registry_manifests').insert({ repository: m.repository, digest: m.digest, media_type: m.media_type, body_b64: m.body.toString('base64'), created_ms: Date.now() });
        });
      } catch (e) {
        if (isConstraintViolation(e)) return undefined;
        throw e;
      }
      const rows = [...new Set([...unique, ...children])].map((ref) => ({ repository: m.repository, manifest_digest: m.digest, ref_digest: ref }));
      if (rows.length > 0) await trx('registry_manifest_refs').insert(rows);
      if (unique.length > 0) await trx('registry_blob_links').where({ repository: m.repository }).whereIn('digest', unique).andWhere('created_ms', '<=', checkedMs).del();
      return undefined;
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

  /** The Glance images of the tags that name manifest `digest`. */
  async imageIdsOf(repository: string, digest: string): Promise<string[]> {
    return (await this.db('registry_tags').where({ repository, digest }).whereNotNull('image_id').select('image_id')).map((r: { image_id: string }) => r.image_id);
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

/** Whether `repository` may see blob `digest`: uploaded or mounted there, or referenced by one of its manifests. */
async function visible(db: Db | Knex.Transaction, repository: string, digest: string): Promise<boolean> {
  if (await db('registry_blob_links').where({ repository, digest }).first()) return true;
  return (await db('registry_manifest_refs').where({ repository, ref_digest: digest }).first()) !== undefined;
}
