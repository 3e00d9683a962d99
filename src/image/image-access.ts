/**
 * Who may see and change an image, as Glance's default policy says (glance/policies/image.py,
 * glance/db/sqlalchemy/api.py `is_image_visible`). Shared by the image services, so each rule
 * has one home.
 */
import { forbidden, msg, notFound } from '../errors';
import type { RequestContext } from '../http/context';
import type { ImageRepository } from '../db/image-repo';
import type { ImageRecord } from './image-record';

export class ImageAccess {
  constructor(private readonly repo: ImageRepository) {}

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

  /** Like find, but not-found (Glance's "No image found with ID …") when unknown or invisible. */
  async get(ctx: RequestContext, id: string): Promise<ImageRecord> {
    const img = await this.find(ctx, id);
    if (!img) throw notFound(msg.imageNotFound(id));
    return img;
  }

  /** The image, if ctx may see it (not found) and change it (forbidden: owner or admin). */
  async getForWrite(ctx: RequestContext, id: string, action: string): Promise<ImageRecord> {
    const img = await this.get(ctx, id);
    this.checkModify(ctx, img, action, true);
    return img;
  }

  /** Not found unless ctx sees the image (`seen`: already known to, e.g. as a member), forbidden unless it owns it. */
  checkModify(ctx: RequestContext, img: ImageRecord, action: string, seen: boolean): void {
    if (!seen && !visibleTo(ctx, img)) throw notFound(msg.imageNotFound(img.id));
    if (!this.owns(ctx, img)) throw forbidden(`You are not authorized to complete ${action} action.`);
  }

  owns(ctx: RequestContext, img: ImageRecord): boolean {
    return ctx.isAdmin || img.owner === ctx.projectId;
  }

  /** True when img is shared and ctx's project is one of its members (any status). */
  private async isMember(ctx: RequestContext, img: ImageRecord): Promise<boolean> {
    return img.visibility === 'shared' && (await this.repo.getMember(img.id, ctx.projectId)) !== undefined;
  }
}

function visibleTo(ctx: RequestContext, img: ImageRecord): boolean {
  return ctx.isAdmin || img.owner === ctx.projectId || img.visibility === 'public' || img.visibility === 'community';
}
