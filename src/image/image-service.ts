/**
 * ImageService: Glance's rules for images — who sees what, how status moves, how data gets
 * in and out — over three ports: the ImageRepository (records), the ImageStore (bytes) and
 * EngineImages (the compute hosts' engine images). Knows nothing of HTTP or of drivers.
 *
 * Uploads are the heart of it: one pass over the request (see ingest.ts) hashes, stores and,
 * for docker images, loads into the primary engine at once. Every status move is a
 * compare-and-set, so two concurrent uploads give one 204 and one 409. A failed upload leaves
 * nothing: no stored bytes, no engine image it created, and the image back in `queued`.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DomainError, badRequest, conflict, forbidden, gone, invalidState, msg, notFound, tooLarge, unavailable } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository } from '../db/image-repo';
import { now } from '../db/knex';
import type { ImageStore, PendingWrite } from '../store/image-store';
import { HypervisorUnavailable, InvalidImageArchive } from '../virt/driver';
import type { EngineImages, UploadEngine } from './engine-images';
import type { ImageMember, ImageRecord, MemberStatus } from './image-record';
import { DOCKER_IMAGE_ID_PROPERTY } from './image-record';
import { transitionMessage } from './image-status';
import { ingest, IngestFailed, IngestResult } from './ingest';
import type { ImageArchiveInfo } from '../virt/image-archive';
import { compareImages, defaultListQuery, ImageListQuery } from './list-query';
import { applyPatch, Change, parseCreate } from './requests';
import { CORE_ATTRIBUTES, isReserved, MAX_TAGS } from './schemas';

export interface ImageServiceDeps {
  repo: ImageRepository;
  store: ImageStore;
  /** The compute hosts' engine images (HostImages). */
  engines: EngineImages;
  /** Largest upload accepted, in bytes (413 above). */
  maxImageSize: number;
  log: Logger;
}

export interface UploadOptions {
  /** The request's Content-Length, if it had one (413 before reading when above the cap). */
  contentLength?: number;
  /** x-openstack-image-size, if sent: the upload must be exactly this long (400 otherwise). */
  declaredSize?: number;
}

export interface ImageData {
  stream: Readable;
  size: number;
  /** Hex md5, for Content-MD5. */
  checksum: string | null;
}

/**
 * Properties a snapshot does not inherit from its base image: Nova's own snapshot markers (set
 * afresh), novadock's engine id (the snapshot has its own), and the SDK's upload checksums,
 * which describe the base image's file, not the snapshot's.
 */
const NON_INHERITABLE = new Set([
  'image_type', 'instance_uuid', 'base_image_ref', 'user_id', 'owner_project_name', 'owner_user_name', 'image_location', 'image_state',
  'cache_in_nova', 'bittorrent', 'img_signature_hash_method', 'img_signature', 'img_signature_key_type', 'img_signature_certificate_uuid',
  'owner_specified.openstack.md5', 'owner_specified.openstack.sha256', 'owner_specified.openstack.object', DOCKER_IMAGE_ID_PROPERTY,
]);

const fmtBytes = (n: number) => `${n} bytes`;

export class ImageService {
  private readonly repo: ImageRepository;
  private readonly store: ImageStore;
  private readonly engines: EngineImages;
  private readonly maxImageSize: number;
  private readonly log: Logger;
  /** Uploads, snapshot copies and engine clean-ups under way (idle() waits for them). */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(deps: ImageServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.engines = deps.engines;
    this.maxImageSize = deps.maxImageSize;
    this.log = deps.log;
  }

  // ================================================================ reads

  /**
   * The image if `ctx` may see it: its project owns it, it is public or community, ctx is
   * admin, or it is `shared` and ctx's project is one of its members. NOTE(openstack): any
   * member status will do, as in Glance's `is_image_visible` for a single image (pending and
   * rejected members can still show, download and boot it; only listings look at the status).
   */
  async find(ctx: RequestContext, id: string): Promise<ImageRecord | undefined> {
    const img = await this.repo.get(id);
    if (!img) return undefined;
    return visibleTo(ctx, img) || (await this.isMember(ctx, img)) ? img : undefined;
  }

  /** Like find, but 404 (Glance's "No image found with ID …") when unknown or invisible. */
  async get(ctx: RequestContext, id: string): Promise<ImageRecord> {
    const img = await this.find(ctx, id);
    if (!img) throw notFound(msg.imageNotFound(id));
    return img;
  }

  /**
   * Lists images `ctx` may see, filtered, sorted and paged as `query` says (parse one from a
   * request with list-query.ts `parseListQuery`). Omitted fields take Glance's defaults
   * (hidden images excluded, newest first), except `limit`: omitted means every match.
   * `nextMarker` is set when more images follow the page.
   */
  async list(ctx: RequestContext, query: Partial<ImageListQuery> = {}): Promise<{ images: ImageRecord[]; nextMarker?: string }> {
    const q = defaultListQuery({ limit: Number.MAX_SAFE_INTEGER, ...stripUndefined(query) });
    let rows = await this.repo.list({ projectId: ctx.projectId, isAdmin: ctx.isAdmin, visibility: q.visibility, memberStatus: q.memberStatus }, q.conditions);
    rows.sort((a, b) => compareImages(a, b, q.sort));
    if (q.marker !== undefined) {
      // NOTE(openstack): the marker need not match the filters, only be visible (keyset paging).
      const m = await this.find(ctx, q.marker);
      if (!m) throw badRequest(`marker [${q.marker}] not found`);
      rows = rows.filter((r) => compareImages(r, m, q.sort) > 0);
    }
    const page = rows.slice(0, q.limit);
    const nextMarker = page.length > 0 && rows.length > page.length ? page[page.length - 1].id : undefined;
    return { images: await this.repo.withTags(page), nextMarker };
  }

  // ================================================================ members (image sharing)
  //
  // Glance's default policy (glance/policies/image.py): the owning project (or an admin) adds
  // and removes members; only the member project itself answers (accepts/rejects); the owner
  // sees every member, a member sees only its own membership (glance/db/sqlalchemy/api.py
  // `_image_member_find`). Members exist only on `shared` images.

  /** GET …/members: every member for the owner or an admin; a member sees only itself. */
  async members(ctx: RequestContext, id: string): Promise<ImageMember[]> {
    const img = await this.get(ctx, id);
    if (this.owns(ctx, img)) return this.repo.listMembers(id);
    return this.repo.listMembers(id, ctx.projectId);
  }

  /** GET …/members/{member_id}: 404 when unknown or not ctx's to see. */
  async member(ctx: RequestContext, id: string, memberId: string): Promise<ImageMember> {
    const img = await this.get(ctx, id);
    const m = this.owns(ctx, img) || memberId === ctx.projectId ? await this.repo.getMember(id, memberId) : undefined;
    if (!m) throw notFound(`Member ${memberId} not found for image ${id}.`);
    return m;
  }

  /** POST …/members: a pending membership; owner or admin only, shared images only, 409 if present. */
  async addMember(ctx: RequestContext, id: string, memberId: string): Promise<ImageMember> {
    const img = await this.get(ctx, id);
    if (!this.owns(ctx, img)) throw forbidden(`Not allowed to create members for image ${id}.`);
    if (img.visibility !== 'shared') throw forbidden('Only shared images have members.');
    const m = await this.repo.addMember(id, memberId);
    if (m) return m;
    if (!(await this.repo.get(id))) throw notFound(msg.imageNotFound(id));
    throw conflict(`Member ${memberId} is duplicated for image ${id}`);
  }

  /** PUT …/members/{member_id}: only the member project itself may answer (the owner gets 403). */
  async setMemberStatus(ctx: RequestContext, id: string, memberId: string, status: MemberStatus): Promise<ImageMember> {
    await this.get(ctx, id);
    const existing = await this.member(ctx, id, memberId);
    if (existing.member_id !== ctx.projectId) throw forbidden(`Not allowed to update members for image ${id}.`);
    const m = await this.repo.setMemberStatus(id, memberId, status);
    if (!m) throw notFound(`Member ${memberId} not found for image ${id}.`);
    return m;
  }

  /** DELETE …/members/{member_id}: owner or admin only; the image disappears for that project. */
  async removeMember(ctx: RequestContext, id: string, memberId: string): Promise<void> {
    const img = await this.get(ctx, id);
    if (!this.owns(ctx, img)) {
      // A member may learn that it is one, but not remove itself (Glance: delete_member is the owner's).
      await this.member(ctx, id, memberId);
      throw forbidden(`Not allowed to delete members for image ${id}.`);
    }
    if (!(await this.repo.deleteMember(id, memberId))) throw notFound(`Member ${memberId} not found for image ${id}.`);
  }

  // ================================================================ writes

  /** POST /v2/images: a queued image (201). */
  async create(ctx: RequestContext, body: unknown): Promise<ImageRecord> {
    const n = parseCreate(body, ctx);
    const at = now();
    const rec: ImageRecord = {
      id: n.id ?? crypto.randomUUID(),
      name: n.name,
      status: 'queued',
      visibility: n.visibility,
      protected: n.protected,
      os_hidden: n.os_hidden,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      owner: n.owner,
      size: null,
      virtual_size: null,
      container_format: n.container_format,
      disk_format: n.disk_format,
      min_ram: n.min_ram,
      min_disk: n.min_disk,
      engine_image_id: null,
      properties: n.properties,
      tags: n.tags,
      created_at: at,
      updated_at: at,
    };
    if (!(await this.repo.create(rec))) throw conflict(`Image with identifier ${rec.id} already exists!`);
    return (await this.repo.get(rec.id)) ?? rec;
  }

  /** PATCH: applies the changes all or nothing, in one transaction. */
  async update(ctx: RequestContext, id: string, changes: Change[], draft: 4 | 10): Promise<ImageRecord> {
    // Asked before the transaction (which cannot wait on another query): a member sees the image, so gets 403, not 404.
    const member = await this.repo.getMember(id, ctx.projectId);
    const updated = await this.repo.edit(id, (current) => {
      this.checkModify(ctx, current, 'modify_image', member !== undefined && current.visibility === 'shared');
      return applyPatch(current, changes, draft, ctx);
    });
    if (!updated) throw notFound(`Failed to find image ${id} to update`);
    return updated;
  }

  /**
   * DELETE: 403 if protected. Removes the record, the bytes, and the engine image from every
   * host unless another image record names the same engine id (a host keeps an image a
   * container still uses: the driver makes removal a no-op then).
   */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    const img = await this.getForWrite(ctx, id, 'delete_image');
    if (img.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    const removed = await this.repo.delete(id, { protected: false });
    if (!removed) {
      const still = await this.repo.get(id);
      if (still?.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
      throw notFound(`Failed to find image ${id} to delete`);
    }
    await this.store.delete(id).catch((e) => this.log.error({ err: e, image_id: id }, 'could not remove the image data'));
    if (removed.engine_image_id) await this.track(this.removeEngineImage(removed.engine_image_id, id));
  }

  async addTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    const img = await this.getForWrite(ctx, id, 'modify_image');
    if (tag.length > 255) throw badRequest(`Tag '${tag.slice(0, 40)}…' is longer than 255 characters.`);
    if (!img.tags.includes(tag) && img.tags.length >= MAX_TAGS) {
      throw tooLarge(`Attempted to add more than ${MAX_TAGS} tags to the image.`);
    }
    if (!(await this.repo.addTag(id, tag))) throw notFound(msg.imageNotFound(id));
  }

  async removeTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    await this.getForWrite(ctx, id, 'modify_image');
    if (!(await this.repo.removeTag(id, tag))) throw notFound(`Tag ${tag} not found on image ${id}`);
  }

  /**
   * active → deactivated; already deactivated is a no-op. Glance's default policy
   * (glance/policies/image.py "deactivate": ADMIN_OR_PROJECT_MEMBER): an admin, or a member of the
   * owning project (readers are refused by the router).
   */
  async deactivate(ctx: RequestContext, id: string): Promise<void> {
    const img = await this.getForWrite(ctx, id, 'deactivate');
    if (img.status === 'deactivated') return;
    if (img.status !== 'active' || !(await this.repo.transition(id, 'active', 'deactivated'))) {
      const nowImg = await this.get(ctx, id);
      if (nowImg.status === 'deactivated') return;
      throw forbidden(`Not allowed to deactivate image in status '${nowImg.status}'`);
    }
  }

  /** deactivated → active; already active is a no-op. Same policy as deactivate. */
  async reactivate(ctx: RequestContext, id: string): Promise<void> {
    const img = await this.getForWrite(ctx, id, 'reactivate');
    if (img.status === 'active') return;
    if (img.status !== 'deactivated' || !(await this.repo.transition(id, 'deactivated', 'active'))) {
      const nowImg = await this.get(ctx, id);
      if (nowImg.status === 'active') return;
      throw forbidden(`Not allowed to reactivate image in status '${nowImg.status}'`);
    }
  }

  /**
   * GET …/file: the stored bytes, or undefined when there are none yet (the router answers 204).
   * A deactivated image's data is forbidden to non-admins.
   */
  async download(ctx: RequestContext, id: string): Promise<ImageData | undefined> {
    const img = await this.get(ctx, id);
    if (img.status === 'deactivated' && !ctx.isAdmin) {
      throw forbidden('The requested image has been deactivated. Image data download is forbidden.');
    }
    if (img.status !== 'active' && img.status !== 'deactivated') return undefined;
    const size = await this.store.size(id);
    if (size === undefined) return undefined;
    const stream = await this.store.read(id);
    return { stream, size, checksum: img.checksum };
  }

  // ================================================================ upload

  /**
   * PUT …/file. Checks (404, 403, 409 unless queued, 400 without formats, 413 when the
   * announced length is over the cap) come before a byte is read; then queued → saving by
   * compare-and-set, and the one pass of ingest.ts. Resolves when the image is active.
   */
  async upload(ctx: RequestContext, id: string, source: Readable, opts: UploadOptions = {}): Promise<ImageRecord> {
    const img = await this.getForWrite(ctx, id, 'upload_image');
    if (img.status !== 'queued') throw invalidState(transitionMessage(img.status, 'saving'));
    const missing = (['container_format', 'disk_format'] as const).filter((k) => !img[k]);
    if (missing.length === 1) throw badRequest(`Property ${missing[0]} must be set prior to saving data.`);
    if (missing.length > 1) throw badRequest(`Properties ${missing.join(', ')} must be set prior to saving data.`);
    for (const n of [opts.contentLength, opts.declaredSize]) {
      if (n !== undefined && n > this.maxImageSize) throw this.overCap(n);
    }
    if (opts.declaredSize !== undefined && opts.contentLength !== undefined && opts.declaredSize !== opts.contentLength) {
      throw badRequest(`x-openstack-image-size (${opts.declaredSize}) does not match the Content-Length of the upload (${opts.contentLength}).`);
    }
    if (!(await this.repo.transition(id, 'queued', 'saving'))) {
      const current = await this.repo.get(id);
      if (!current) throw notFound(msg.imageNotFound(id));
      throw invalidState(transitionMessage(current.status, 'saving'));
    }
    return this.track(this.receive(img, source, opts));
  }

  private overCap(n?: number): DomainError {
    return tooLarge(n === undefined
      ? `Image exceeds the size limit of ${fmtBytes(this.maxImageSize)}.`
      : `Image of ${fmtBytes(n)} exceeds the size limit of ${fmtBytes(this.maxImageSize)}.`);
  }

  /** The image is `saving` and ours: take the bytes, or put everything back as it was. */
  private async receive(img: ImageRecord, source: Readable, opts: UploadOptions): Promise<ImageRecord> {
    const id = img.id;
    const engine = this.engines.uploadEngine();
    const docker = img.container_format === 'docker';
    let pending: PendingWrite | undefined;
    let committed = false;
    let wasPresent: boolean | undefined;
    let archive: ImageArchiveInfo | undefined;
    let released = false;
    try {
      pending = await this.store.begin(id);
      let result: IngestResult;
      try {
        result = await ingest(source, {
          maxBytes: this.maxImageSize,
          tooLarge: () => this.overCap(),
          sink: pending.sink,
          sinkFile: pending.file,
          engine: docker ? {
            load: (archiveStream, replay) => engine.load(archiveStream, replay).catch((e) => {
              throw engineError(engine, e);
            }),
            beforeRelease: async (info) => {
              wasPresent = await engine.has(info.imageId);
            },
          } : undefined,
          sourceBroken: () => badRequest('The upload was interrupted: the client closed the connection before all the data arrived.'),
        });
      } catch (e) {
        if (e instanceof IngestFailed) {
          released = e.released;
          archive = e.archive;
          if (e.stuck) this.log.error({ image_id: id, host: engine.host }, 'the engine load did not stop after the upload failed (driver bug?)');
        }
        throw e;
      }
      released = true;
      archive = result.archive;
      if (opts.declaredSize !== undefined && result.size !== opts.declaredSize) {
        throw badRequest(`x-openstack-image-size (${opts.declaredSize}) does not match the size of the uploaded data (${result.size}).`);
      }
      if (archive && !(await engine.has(archive.imageId))) {
        throw badRequest(`Compute host ${engine.host} accepted the archive but does not have image ${archive.imageId} afterwards.`);
      }
      await pending.commit();
      committed = true;
      const done = await this.repo.transition(id, 'saving', 'active', {
        size: result.size,
        checksum: result.md5,
        os_hash_algo: 'sha512',
        os_hash_value: result.sha512,
        engine_image_id: archive?.imageId ?? null,
      });
      if (!done) {
        const current = await this.repo.get(id);
        if (!current) throw gone(`Image ${id} could not be found after upload. The image may have been deleted during the upload.`);
        throw invalidState(transitionMessage(current.status, 'active'));
      }
      this.log.info({ image_id: id, size: result.size, engine_image_id: archive?.imageId }, 'image uploaded');
      return (await this.repo.get(id))!;
    } catch (e) {
      const err = uploadError(e);
      await this.undoUpload(id, { pending, committed, engine, archive: released ? archive : undefined, wasPresent });
      if (err.kind === 'internal' || err.kind === 'unavailable') this.log.error({ err: e, image_id: id }, 'image upload failed');
      else this.log.info({ image_id: id, reason: err.message, kind: err.kind }, 'image upload refused');
      throw err;
    }
  }

  /** Puts everything back after a failed upload: no bytes, no engine image we created, queued. */
  private async undoUpload(id: string, s: {
    pending?: PendingWrite; committed: boolean; engine: UploadEngine; archive?: ImageArchiveInfo; wasPresent?: boolean;
  }): Promise<void> {
    try {
      if (s.committed) await this.store.delete(id);
      else await s.pending?.abort();
    } catch (e) {
      this.log.error({ err: e, image_id: id }, 'could not discard the data of a failed upload');
    }
    // Only an image this upload brought into the engine is ours to remove.
    if (s.archive && s.wasPresent === false) {
      try {
        if (!(await this.repo.dockerImageInUse(s.archive.imageId, id))) await s.engine.remove(s.archive.imageId);
      } catch (e) {
        this.log.error({ err: e, image_id: id, engine_image_id: s.archive.imageId }, 'could not remove the engine image of a failed upload');
      }
    }
    await this.repo.transition(id, 'saving', 'queued').catch((e) => this.log.error({ err: e, image_id: id }, 'could not return the image to queued'));
  }

  // ================================================================ snapshots (for the compute service)

  /**
   * createImage step 1, before compute answers 202: a queued private snapshot record owned by
   * ctx's project, listed at once (contract §5.12). Properties: the base image's inheritable
   * ones, then Nova's snapshot markers, then the request metadata.
   */
  async beginSnapshot(ctx: RequestContext, req: { name: string; metadata: Record<string, string>; serverId: string; baseImage: ImageRecord | undefined }): Promise<ImageRecord> {
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.baseImage?.properties ?? {})) if (!NON_INHERITABLE.has(k)) properties[k] = v;
    Object.assign(properties, {
      image_type: 'snapshot',
      instance_uuid: req.serverId,
      base_image_ref: req.baseImage?.id ?? '',
      user_id: ctx.userId,
      owner_project_name: ctx.projectName,
      owner_user_name: ctx.userName,
    });
    for (const [k, v] of Object.entries(req.metadata)) {
      // Metadata cannot overwrite core attributes or server-managed ones.
      if (CORE_ATTRIBUTES.has(k) || isReserved(k) || typeof v !== 'string') continue;
      properties[k] = v;
    }
    const at = now();
    const rec: ImageRecord = {
      id: crypto.randomUUID(),
      name: req.name,
      status: 'queued',
      visibility: 'private',
      protected: false,
      os_hidden: false,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      owner: ctx.projectId,
      size: null,
      virtual_size: null,
      container_format: 'docker',
      disk_format: 'raw',
      min_ram: req.baseImage?.min_ram ?? 0,
      min_disk: req.baseImage?.min_disk ?? 0,
      engine_image_id: null,
      properties,
      tags: [],
      created_at: at,
      updated_at: at,
    };
    if (!(await this.repo.create(rec))) throw conflict(`Image with identifier ${rec.id} already exists!`);
    return (await this.repo.get(rec.id)) ?? rec;
  }

  /**
   * createImage step 2 (compute's background task): queued → saving (compare-and-set), the
   * engine image's archive (the caller opens it: `driver.exportImage(engineImageId)`) streamed
   * into the store with size/md5/sha512 and checked to hold `engineImageId`, which is
   * recorded; then active. On failure the record and any bytes are removed and the error is
   * thrown (the engine image is the caller's). The archive is always consumed or destroyed.
   */
  async finishSnapshot(imageId: string, engineImageId: string, archive: Readable): Promise<ImageRecord> {
    if (!(await this.repo.transition(imageId, 'queued', 'saving'))) {
      archive.destroy();
      const current = await this.repo.get(imageId);
      throw new Error(current
        ? `Snapshot image ${imageId} is ${current.status}, not queued: it cannot receive data.`
        : `Snapshot image ${imageId} was deleted before its data was uploaded.`);
    }
    return this.track((async () => {
      let pending: PendingWrite | undefined;
      let committed = false;
      try {
        pending = await this.store.begin(imageId);
        let result: IngestResult;
        try {
          result = await ingest(archive, { maxBytes: this.maxImageSize, tooLarge: () => this.overCap(), sink: pending.sink, sinkFile: pending.file, inspect: true });
        } catch (e) {
          throw e instanceof IngestFailed ? e.cause : e;
        }
        if (result.archive?.imageId !== engineImageId) {
          throw new Error(`The exported archive holds ${result.archive?.imageId}, not the snapshot ${engineImageId}.`);
        }
        await pending.commit();
        committed = true;
        const done = await this.repo.transition(imageId, 'saving', 'active', {
          size: result.size,
          checksum: result.md5,
          os_hash_algo: 'sha512',
          os_hash_value: result.sha512,
          engine_image_id: engineImageId,
        });
        if (!done) throw new Error(`Snapshot image ${imageId} was deleted while its data was being uploaded.`);
        return (await this.repo.get(imageId))!;
      } catch (e) {
        archive.destroy();
        if (committed) await this.store.delete(imageId).catch(() => undefined);
        else await pending?.abort().catch(() => undefined);
        await this.repo.delete(imageId).catch((err) => this.log.error({ err, image_id: imageId }, 'could not remove a failed snapshot record'));
        this.log.warn({ err: e, image_id: imageId }, 'snapshot upload failed');
        throw e instanceof Error ? e : new Error(String(e));
      }
    })());
  }

  /** The snapshot failed before its data was taken: the queued record goes away. */
  async abortSnapshot(imageId: string): Promise<void> {
    const removed = await this.repo.delete(imageId, { status: 'queued' });
    if (removed) await this.store.delete(imageId).catch(() => undefined);
  }

  /**
   * Start-up recovery: no upload survives a restart, so images left `saving` by a crash go back
   * to `queued` (their partial bytes are the store's sweepPartials()). Call once before serving.
   */
  async recoverInterruptedUploads(): Promise<number> {
    const n = await this.repo.transitionAll('saving', 'queued');
    if (n > 0) this.log.warn({ images: n }, 'uploads interrupted by a restart: images back to queued');
    await this.store.sweepPartials();
    return n;
  }

  /** Resolves when no upload, snapshot copy or engine clean-up is in flight. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  // ================================================================ helpers

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const forget = () => this.inFlight.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** The image, if ctx may see it (404) and change it (403: owner or admin). */
  private async getForWrite(ctx: RequestContext, id: string, action: string): Promise<ImageRecord> {
    const img = await this.get(ctx, id);
    this.checkModify(ctx, img, action, true);
    return img;
  }

  /** 404 unless ctx sees the image (`seen`: already known to, e.g. as a member), 403 unless it owns it. */
  private checkModify(ctx: RequestContext, img: ImageRecord, action: string, seen: boolean): void {
    if (!seen && !visibleTo(ctx, img)) throw notFound(`No image found with ID ${img.id}`);
    if (!this.owns(ctx, img)) throw forbidden(`You are not authorized to complete ${action} action.`);
  }

  private owns(ctx: RequestContext, img: ImageRecord): boolean {
    return ctx.isAdmin || img.owner === ctx.projectId;
  }

  /** True when img is shared and ctx's project is one of its members (any status). */
  private async isMember(ctx: RequestContext, img: ImageRecord): Promise<boolean> {
    return img.visibility === 'shared' && (await this.repo.getMember(img.id, ctx.projectId)) !== undefined;
  }

  /** Removes an engine image from every host, unless another image record still names it. */
  private async removeEngineImage(engineImageId: string, deletedId: string): Promise<void> {
    if (await this.repo.dockerImageInUse(engineImageId, deletedId)) return;
    await this.engines.removeEverywhere(engineImageId);
  }
}

function visibleTo(ctx: RequestContext, img: ImageRecord): boolean {
  return ctx.isAdmin || img.owner === ctx.projectId || img.visibility === 'public' || img.visibility === 'community';
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What the engine said, as an API error: refused → 400, unreachable → 503. */
function engineError(engine: UploadEngine, e: unknown): Error {
  if (e instanceof DomainError) return e;
  if (e instanceof InvalidImageArchive) return invalidArchive(e.reason);
  if (e instanceof HypervisorUnavailable) return unavailable(e.message);
  return unavailable(`Compute host ${engine.host} failed to load the image: ${e instanceof Error ? e.message : String(e)}`);
}

/** 400 for bytes that are not a loadable image, whether the inspector or the engine said so. */
function invalidArchive(reason: string): DomainError {
  return badRequest(`Invalid docker image archive: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`);
}

/** Any failure of an upload, as the API error to answer with. */
function uploadError(e: unknown): DomainError {
  const cause = e instanceof IngestFailed ? e.cause : e;
  if (cause instanceof DomainError) return cause;
  if (cause instanceof InvalidImageArchive) return invalidArchive(cause.reason);
  if (cause instanceof HypervisorUnavailable) return unavailable(cause.message);
  const code = (cause as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return tooLarge(`Image storage media is full: ${(cause as Error).message}`);
  return unavailable(`The image could not be stored: ${cause instanceof Error ? cause.message : String(cause)}`);
}
