/**
 * ImageService: Glance's image records — create, show, list, update, delete, tags,
 * deactivate/reactivate — over the ImageRepository, with the image's bytes removed from the
 * ImageStore and its engine copies from every compute host (the EngineImages port) on delete.
 * Knows nothing of HTTP or of drivers.
 *
 * Its neighbours, one concern each: image-members.ts (sharing), image-upload.ts (data in and
 * out), image-snapshots.ts (Nova's createImage); image-access.ts holds the visibility and
 * ownership rules they share, tasks.ts the background work idle() waits for.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { badRequest, conflict, forbidden, msg, notFound, tooLarge } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository, NewImage } from '../db/image-repo';
import { now } from '../clock';
import type { ImageStore } from '../store/image-store';
import type { EngineImages } from './engine-images';
import type { ImageAccess } from './image-access';
import type { ImageRecord } from './image-record';
import { compareImages, defaultListQuery, ImageListQuery } from './list-query';
import { applyPatch, Change, parseCreate } from './requests';
import { MAX_TAGS } from './schemas';
import type { Background } from '../background';

export interface ImageServiceDeps {
  repo: ImageRepository;
  store: ImageStore;
  /** The compute hosts' engine images (HostImages). */
  engines: EngineImages;
  access: ImageAccess;
  tasks: Background;
  log: Logger;
}

export class ImageService {
  private readonly repo: ImageRepository;
  private readonly store: ImageStore;
  private readonly engines: EngineImages;
  private readonly access: ImageAccess;
  private readonly tasks: Background;
  private readonly log: Logger;
  /** Told of every deleted image (the registry drops the tag it was: issue 14). */
  private readonly deletedListeners: ((image: ImageRecord) => Promise<void>)[] = [];

  constructor(deps: ImageServiceDeps) {
    this.repo = deps.repo;
    this.store = deps.store;
    this.engines = deps.engines;
    this.access = deps.access;
    this.tasks = deps.tasks;
    this.log = deps.log;
  }

  // ================================================================ reads

  /** The image if `ctx` may see it (image-access.ts says who may), else undefined. */
  find(ctx: RequestContext, id: string): Promise<ImageRecord | undefined> {
    return this.access.find(ctx, id);
  }

  /** Like find, but not-found (Glance's "No image found with ID …") when unknown or invisible. */
  get(ctx: RequestContext, id: string): Promise<ImageRecord> {
    return this.access.get(ctx, id);
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

  // ================================================================ writes

  /** POST /v2/images: a new image, queued. */
  async create(ctx: RequestContext, body: unknown): Promise<ImageRecord> {
    const n = parseCreate(body, ctx);
    const at = now();
    const rec: NewImage = {
      id: n.id ?? crypto.randomUUID(),
      name: n.name,
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
    return (await this.repo.get(rec.id)) ?? { ...rec, status: 'queued' };
  }

  /** PATCH: applies the changes all or nothing, in one transaction. */
  async update(ctx: RequestContext, id: string, changes: Change[], draft: 4 | 10): Promise<ImageRecord> {
    // Asked before the transaction (which cannot wait on another query): a member sees the image, so is forbidden, not told it is not found.
    const member = await this.repo.getMember(id, ctx.projectId);
    const updated = await this.repo.edit(id, (current) => {
      this.access.checkModify(ctx, current, 'modify_image', member !== undefined && current.visibility === 'shared');
      return applyPatch(current, changes, draft, ctx);
    });
    if (!updated) throw notFound(`Failed to find image ${id} to update`);
    return updated;
  }

  /**
   * DELETE: forbidden if protected. Removes the record, the bytes, and the engine image from every
   * host unless another image record names the same engine id (a host keeps an image a
   * container still uses: the driver makes removal a no-op then).
   */
  async delete(ctx: RequestContext, id: string): Promise<void> {
    const img = await this.access.getForWrite(ctx, id, 'delete_image');
    if (img.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
    const removed = await this.repo.delete(id, { protected: false });
    if (!removed) {
      const still = await this.repo.get(id);
      if (still?.protected) throw forbidden(`Image ${id} is protected and cannot be deleted.`);
      throw notFound(`Failed to find image ${id} to delete`);
    }
    await this.store.delete(id).catch((e) => this.log.error({ err: e, image_id: id }, 'could not remove the image data'));
    for (const fn of this.deletedListeners) await fn(removed).catch((e) => this.log.error({ err: e, image_id: id }, 'a listener of image deletion failed'));
    if (removed.engine_image_id) await this.tasks.track(this.removeEngineImage(removed.engine_image_id, id));
  }

  /**
   * Deletes an image its source took away (the registry's manifest of a pushed tag was deleted,
   * which the registry authorised, having checked it is not protected): the record, the bytes and
   * the engine copies go as on DELETE; the deletion listeners are not told (the source already knows).
   */
  async discard(id: string): Promise<void> {
    const removed = await this.repo.delete(id, { protected: false });
    if (!removed) return;
    await this.store.delete(id).catch((e) => this.log.error({ err: e, image_id: id }, 'could not remove the image data'));
    if (removed.engine_image_id) await this.tasks.track(this.removeEngineImage(removed.engine_image_id, id));
  }

  async addTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    const img = await this.access.getForWrite(ctx, id, 'modify_image');
    if (tag.length > 255) throw badRequest(`Tag '${tag.slice(0, 40)}…' is longer than 255 characters.`);
    if (!img.tags.includes(tag) && img.tags.length >= MAX_TAGS) {
      throw tooLarge(`Attempted to add more than ${MAX_TAGS} tags to the image.`);
    }
    if (!(await this.repo.addTag(id, tag))) throw notFound(msg.imageNotFound(id));
  }

  async removeTag(ctx: RequestContext, id: string, tag: string): Promise<void> {
    await this.access.getForWrite(ctx, id, 'modify_image');
    if (!(await this.repo.removeTag(id, tag))) throw notFound(`Tag ${tag} not found on image ${id}`);
  }

  /**
   * active → deactivated; already deactivated is a no-op. Glance's default policy
   * (glance/policies/image.py "deactivate": ADMIN_OR_PROJECT_MEMBER): an admin, or a member of the
   * owning project (readers are refused by the router).
   */
  async deactivate(ctx: RequestContext, id: string): Promise<void> {
    await this.access.getForWrite(ctx, id, 'deactivate');
    if (await this.repo.transition(id, 'active', 'deactivated')) return;
    const nowImg = await this.get(ctx, id);
    if (nowImg.status === 'deactivated') return;
    throw forbidden(`Not allowed to deactivate image in status '${nowImg.status}'`);
  }

  /** deactivated → active; already active is a no-op. Same policy as deactivate. */
  async reactivate(ctx: RequestContext, id: string): Promise<void> {
    await this.access.getForWrite(ctx, id, 'reactivate');
    // NOTE(openstack): reactivate is the move back from deactivated, not any move to active
    // (glance/domain/__init__.py Image.reactivate): a queued image is refused, not activated.
    if (await this.repo.transition(id, 'deactivated', 'active')) return;
    const nowImg = await this.get(ctx, id);
    if (nowImg.status === 'active') return;
    throw forbidden(`Not allowed to reactivate image in status '${nowImg.status}'`);
  }

  /** Resolves when no upload, snapshot copy or engine clean-up is in flight (the shared Background tracker). */
  idle(): Promise<void> {
    return this.tasks.idle();
  }

  /** Calls `fn` after each image deletion through the API (the registry's tags follow their images). */
  whenDeleted(fn: (image: ImageRecord) => Promise<void>): void {
    this.deletedListeners.push(fn);
  }

  // ================================================================ helpers

  /** Removes an engine image from every host, unless another image record still names it. */
  private async removeEngineImage(engineImageId: string, deletedId: string): Promise<void> {
    if (await this.repo.dockerImageInUse(engineImageId, deletedId)) return;
    await this.engines.removeEverywhere(engineImageId);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
