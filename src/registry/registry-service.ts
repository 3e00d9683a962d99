/**
 * RegistryService: the rules of the Docker Registry HTTP API v2 (OCI distribution spec) over the
 * RegistryContent sources, the BlobStore and the RegistryRepository. Knows nothing of HTTP.
 *
 *   push:  POST uploads ─▶ PATCH (stream to <root>/uploads/<id>, hashed) ─▶ PUT ?digest=
 *          (verify digest, rename to blobs/sha256/<hex>, link blob to repository)
 *          ─▶ PUT manifest (parse + ajv, every referenced blob linked, else MANIFEST_BLOB_UNKNOWN)
 *          ─▶ tag moves; the catalogue port makes or moves its Glance image
 *   pull:  GET manifest (tag or digest, first source that knows it) ─▶ GET blobs (Range)
 *
 * Uploads belong to the project and user that began them (anyone else: BLOB_UPLOAD_UNKNOWN).
 * A blob is removed as soon as nothing references or links it (a manifest's put drops the links of
 * the blobs it references, so deleting the manifest or its Glance image releases them at once);
 * abandoned uploads and links of blobs no manifest came to use go after `uploadTimeoutMs` (sweep()).
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { RegistryRepository, UploadRow } from '../db/registry-repo';
import { BlobStore, DIGEST_PATTERN, UPLOAD_ID_PATTERN } from './blob-store';
import { BlobContent, ManifestContent, pageTags, RegistryContent } from './content';
import { blobUnknown, digestInvalid, manifestUnknown, nameUnknown, RegistryError, uploadUnknown } from './errors';
import { HOST_PLATFORM, parseManifest, platformChild, type ParsedManifest } from './manifests';

/** Who is pushing: the project owning the repository and the user. */
export interface Pusher {
  projectId: string;
  userId: string;
}

/** A tag that now names an image manifest, as the Glance catalogue needs to know it. */
export interface TaggedImage {
  projectId: string;
  repository: string;
  tag: string;
  manifestDigest: string;
  /** The engine's image id. */
  configDigest: string;
  /** Sum of the config's and the layers' sizes. */
  size: number;
}

/** The Glance side of the registry (src/image/registry-images.ts implements it). */
export interface RegistryCatalogue {
  /** A tag was pushed: make its Glance image (hiding `previousImageId`); resolves to the new image's id. */
  tagged(t: TaggedImage, previousImageId: string | null): Promise<string>;
  /** Tags went away with their manifest: their Glance images go too. */
  untagged(imageIds: string[]): Promise<void>;
  /** Whether any of these Glance images is protected (Glance refuses to delete those). */
  anyProtected(imageIds: string[]): Promise<boolean>;
}

export interface RegistryServiceDeps {
  repo: RegistryRepository;
  blobs: BlobStore;
  /** Sources after the pushed content (e.g. Glance's docker archives). */
  sources?: RegistryContent[];
  pushed: RegistryContent;
  catalogue?: RegistryCatalogue;
  uploadTimeoutMs: number;
  log: Logger;
}

const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** A digest as the distribution spec's grammar writes one (algorithm:encoded). */
const REFERENCE_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export class RegistryService {
  private readonly repo: RegistryRepository;
  private readonly blobs: BlobStore;
  private readonly sources: RegistryContent[];
  private readonly catalogue?: RegistryCatalogue;
  private readonly log: Logger;
  readonly uploadTimeoutMs: number;
  /** Uploads a request is writing to right now (one chunk at a time per upload). */
  private readonly busy = new Set<string>();

  constructor(deps: RegistryServiceDeps) {
    this.repo = deps.repo;
    this.blobs = deps.blobs;
    this.sources = [deps.pushed, ...(deps.sources ?? [])];
    this.catalogue = deps.catalogue;
    this.log = deps.log;
    this.uploadTimeoutMs = deps.uploadTimeoutMs;
  }

  /** Adds a content source after the existing ones (the lead's Glance-archive source). */
  addSource(source: RegistryContent): void {
    this.sources.push(source);
  }

  // ================================================================ reads

  /**
   * A blob of `repository`. `reuse` (a HEAD, as a push asks before it skips a layer the
   * repository has) links the pushed blob there, so a concurrent delete cannot release it
   * before the push's manifest references it.
   */
  async blob(repository: string, digest: string, reuse = false): Promise<BlobContent> {
    if (!DIGEST_PATTERN.test(digest)) throw digestInvalid(digest);
    if (reuse) await this.repo.claimLink(repository, digest, repository);
    for (const s of this.sources) {
      const b = await s.blob(repository, digest);
      if (b) return b;
    }
    throw blobUnknown(digest);
  }

  async manifest(repository: string, reference: string): Promise<ManifestContent> {
    // Neither a tag nor a digest names nothing (and must not reach the database: PostgreSQL refuses a NUL in text).
    if (!TAG_PATTERN.test(reference) && !REFERENCE_DIGEST.test(reference)) throw manifestUnknown(reference);
    for (const s of this.sources) {
      const m = await s.manifest(repository, reference);
      if (m) return m;
    }
    if (!(await this.repositoryKnown(repository))) throw nameUnknown(repository);
    throw manifestUnknown(reference);
  }

  async tags(repository: string, last: string | undefined, n: number): Promise<{ tags: string[]; more: boolean }> {
    const all = await Promise.all(this.sources.map((s) => s.tags(repository)));
    if (all.every((t) => t.length === 0) && !(await this.repositoryKnown(repository))) throw nameUnknown(repository);
    return pageTags(all, last, n);
  }

  /** Every repository, for the catalogue (the caller filters what the client may see). */
  async repositories(): Promise<string[]> {
    const all = (await Promise.all(this.sources.map((s) => s.repositories()))).flat();
    return [...new Set(all)].sort();
  }

  private async repositoryKnown(repository: string): Promise<boolean> {
    if (await this.repo.repositoryExists(repository)) return true;
    return (await Promise.all(this.sources.map((s) => s.repositories()))).some((r) => r.includes(repository));
  }

  // ================================================================ uploads

  /** POST /v2/<name>/blobs/uploads/: a new upload. */
  async startUpload(who: Pusher, repository: string): Promise<UploadRow> {
    const row: UploadRow = { id: crypto.randomUUID(), repository, project_id: who.projectId, user_id: who.userId, offset: 0, updated_ms: Date.now() };
    await this.blobs.startUpload(row.id);
    await this.repo.createUpload(row);
    return row;
  }

  /**
   * POST ?mount=<digest>&from=<repo>: links a blob `from` holds into `repository` when both
   * belong to the same project (the router checks); false when there is nothing to mount.
   */
  async mount(repository: string, digest: string, from: string): Promise<boolean> {
    if (!DIGEST_PATTERN.test(digest)) throw digestInvalid(digest);
    return this.repo.claimLink(repository, digest, from);
  }

  /** The upload `id` if `who` began it in `repository`, else BLOB_UPLOAD_UNKNOWN. */
  async upload(who: Pusher, repository: string, id: string): Promise<UploadRow> {
    // An id no upload can have (a NUL: PostgreSQL refuses it in text) is unknown before any read.
    if (!UPLOAD_ID_PATTERN.test(id)) throw uploadUnknown(id);
    const row = await this.repo.upload(id);
    if (!row || row.repository !== repository || row.project_id !== who.projectId || row.user_id !== who.userId) throw uploadUnknown(id);
    return row;
  }

  /**
   * PATCH: appends a chunk. `range` (Content-Range) must start where the upload is; without it
   * the chunk is appended (Docker streams a whole layer in one PATCH). Resolves to the new length.
   */
  async append(who: Pusher, repository: string, id: string, data: Readable, range?: { start: number; end?: number }): Promise<UploadRow> {
    const row = await this.upload(who, repository, id);
    if (range && range.start !== row.offset) {
      throw new RegistryError('RANGE_INVALID', 'invalid content range', { offset: row.offset, start: range.start });
    }
    return this.exclusive(id, async () => {
      const length = await this.blobs.append(id, row.offset, data);
      if (range?.end !== undefined && range.end + 1 !== length) {
        await this.blobs.cut(id, row.offset);
        throw new RegistryError('RANGE_INVALID', 'invalid content range', { offset: row.offset, end: range.end, received: length - row.offset });
      }
      if (!(await this.repo.advanceUpload(id, row.offset, length))) throw uploadUnknown(id);
      return { ...row, offset: length };
    });
  }

  /** PUT ?digest=: the last chunk (or none), then the bytes become blob `digest` linked to `repository`. */
  async finish(who: Pusher, repository: string, id: string, digest: string, data: Readable | undefined): Promise<void> {
    if (!DIGEST_PATTERN.test(digest)) throw digestInvalid(digest);
    let row = await this.upload(who, repository, id);
    if (data) row = await this.append(who, repository, id, data);
    await this.exclusive(id, async () => {
      await this.blobs.verify(id, row.offset, digest);
      // Recorded and linked before the file is in place: a release of the same digest either
      // went first (its file is gone before ours lands) or sees the link and keeps the blob.
      await this.repo.storeBlob(repository, digest, row.offset);
      await this.blobs.place(id, row.offset, digest);
      await this.repo.deleteUpload(id);
    });
  }

  /** POST ?digest=: a whole blob in one request. */
  async putBlob(who: Pusher, repository: string, digest: string, data: Readable): Promise<void> {
    if (!DIGEST_PATTERN.test(digest)) throw digestInvalid(digest);
    const row = await this.startUpload(who, repository);
    try {
      await this.finish(who, repository, row.id, digest, data);
    } catch (e) {
      await this.cancel(who, repository, row.id).catch(() => undefined);
      throw e;
    }
  }

  /** DELETE an upload: its bytes and record go. */
  async cancel(who: Pusher, repository: string, id: string): Promise<void> {
    await this.upload(who, repository, id);
    if (!(await this.repo.deleteUpload(id))) throw uploadUnknown(id);
    await this.blobs.dropUpload(id);
  }

  /** DELETE a blob: unlinked from the repository; its file goes when nothing else uses it. */
  async deleteBlob(repository: string, digest: string): Promise<void> {
    if (!DIGEST_PATTERN.test(digest)) throw digestInvalid(digest);
    if (!(await this.repo.unlink(repository, digest))) throw blobUnknown(digest);
    await this.release([digest]);
  }

  // ================================================================ manifests

  /** PUT a manifest by tag or digest; resolves to its digest. */
  async putManifest(who: Pusher, repository: string, reference: string, body: Buffer, contentType: string | undefined): Promise<string> {
    const byDigest = reference.startsWith('sha256:') || reference.includes(':');
    if (!byDigest && !TAG_PATTERN.test(reference)) throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', { reason: `invalid tag ${reference}` });
    const digest = `sha256:${crypto.createHash('sha256').update(body).digest('hex')}`;
    if (byDigest && reference !== digest) throw digestInvalid(reference);
    const m = parseManifest(body, contentType);
    // An index is a Glance image of the compute hosts' platform: without one, the push is refused before anything is stored.
    const image = byDigest ? undefined : await this.imageOf(repository, m);
    const refused = await this.repo.putManifest({ repository, digest, media_type: m.mediaType, body }, m.blobs.map((b) => b.digest), m.manifests.map((c) => c.digest), Date.now());
    if (refused) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: refused.missing });
    if (!byDigest) await this.tag(who, repository, reference, digest, image);
    return digest;
  }

  /**
   * The image a manifest is for the compute hosts: an image manifest's own config, or an index's
   * child for the hosts' platform (MANIFEST_INVALID if it has none; MANIFEST_BLOB_UNKNOWN if
   * that child was not pushed first).
   */
  private async imageOf(repository: string, m: ParsedManifest): Promise<{ config: string; size: number }> {
    if (m.config) return { config: m.config.digest, size: m.blobs.reduce((s, b) => s + b.size, 0) };
    const child = platformChild(m);
    if (!child) {
      throw new RegistryError('MANIFEST_INVALID', 'manifest invalid', {
        reason: `the index has no ${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture} image, the platform the compute hosts run`,
      });
    }
    const row = await this.repo.manifest(repository, child.digest);
    if (!row) throw new RegistryError('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry', { digest: child.digest });
    return this.imageOf(repository, parseManifest(row.body, row.media_type));
  }

  /** The image manifest `reference` names for the compute hosts (an index: its child for their platform). */
  async platformManifest(repository: string, reference: string): Promise<ManifestContent> {
    const found = await this.manifest(repository, reference);
    const child = platformChild(parseManifest(found.body, found.mediaType));
    return child ? this.manifest(repository, child.digest) : found;
  }

  private async tag(who: Pusher, repository: string, tag: string, digest: string, image: { config: string; size: number } | undefined): Promise<void> {
    const before = await this.repo.tag(repository, tag);
    if (before?.digest === digest && (before.image_id || !image || !this.catalogue)) return;
    let imageId: string | null = null;
    if (image && this.catalogue) {
      imageId = await this.catalogue.tagged({ projectId: who.projectId, repository, tag, manifestDigest: digest, configDigest: image.config, size: image.size }, before?.image_id ?? null);
    }
    await this.repo.setTag(repository, tag, digest, imageId);
  }

  /** DELETE a manifest by digest (its tags and their Glance images go with it). */
  async deleteManifest(repository: string, reference: string): Promise<void> {
    if (!DIGEST_PATTERN.test(reference)) throw new RegistryError('UNSUPPORTED', 'The operation is unsupported.', { reason: 'delete a manifest by digest' });
    if (await this.repo.referenced(repository, reference)) throw new RegistryError('DENIED', 'requested access to the resource is denied', { reason: 'an index still references this manifest' });
    if (await this.catalogue?.anyProtected(await this.repo.imageIdsOf(repository, reference))) {
      throw new RegistryError('DENIED', 'requested access to the resource is denied', { reason: 'the Glance image of this manifest is protected' });
    }
    if (!(await this.dropManifest(repository, reference))) throw manifestUnknown(reference);
  }

  /**
   * Deletes a manifest, the Glance images of its tags and the blobs only it used; an index's
   * children go too when no tag or other index names them. False when there was no such manifest.
   */
  private async dropManifest(repository: string, digest: string): Promise<boolean> {
    const removed = await this.repo.deleteManifest(repository, digest);
    if (!removed) return false;
    if (removed.imageIds.length > 0) await this.catalogue?.untagged(removed.imageIds);
    await this.release(removed.refs);
    for (const ref of removed.refs) {
      if (!(await this.repo.manifest(repository, ref)) || (await this.repo.digestTagged(repository, ref)) || (await this.repo.referenced(repository, ref))) continue;
      await this.dropManifest(repository, ref);
    }
    return true;
  }

  /**
   * A Glance image made from a push was deleted: its tag goes (if the tag still names it), and
   * its manifest with it when no other tag or index names that manifest (its blobs are released).
   * `properties` are the deleted image's (RegistryImages records the repository and digest there).
   */
  async imageDeleted(image: { id: string; properties: Record<string, string> }, names: { repository: string; manifestDigest: string }): Promise<void> {
    const repository = image.properties[names.repository];
    const digest = image.properties[names.manifestDigest];
    if (!repository || !digest) return;
    await this.repo.deleteTagOfImage(image.id);
    if ((await this.repo.digestTagged(repository, digest)) || (await this.repo.referenced(repository, digest))) return;
    await this.dropManifest(repository, digest);
  }

  // ================================================================ clean-up

  /** Removes abandoned uploads, links nothing came to use, and blobs nothing uses any more. */
  async sweep(nowMs = Date.now()): Promise<void> {
    const before = nowMs - this.uploadTimeoutMs;
    for (const u of await this.repo.staleUploads(before)) {
      if (this.busy.has(u.id)) continue;
      if (await this.repo.deleteUpload(u.id)) await this.blobs.dropUpload(u.id);
    }
    await this.release(await this.repo.dropStaleLinks(before));
  }

  /** Removes the blobs among `digests` that nothing uses any more (each one a compare-and-set that may lose to a push). */
  private async release(digests: string[]): Promise<void> {
    for (const d of new Set(digests)) {
      await this.repo.release(d, (digest) => this.blobs.remove(digest)).catch((err) => this.log.warn({ err, digest: d }, 'could not remove a registry blob'));
    }
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw new RegistryError('BLOB_UPLOAD_INVALID', 'blob upload invalid', { reason: 'another request is writing to this upload' });
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
  }
}
