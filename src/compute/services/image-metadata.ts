/**
 * Image metadata through the compute API (nova/api/openstack/compute/image_metadata.py, up to
 * 2.38): the image's custom properties, read and written through the image service with the
 * caller's rights (Glance says who may change an image), as Nova's glance.API().update with
 * purge_props does: the new set of properties becomes one JSON patch.
 */
import type { RequestContext } from '../../http/context';
import { DomainError, badRequest, forbidden, msg, notFound } from '../../errors';
import type { ImageProxyPort } from '../api/ports';

type Properties = Record<string, string>;

export class ImageMetadata {
  /** `limit`: a project's metadata_items quota (-1 = none). */
  constructor(private readonly images: ImageProxyPort, private readonly limit: (projectId: string) => Promise<number>) {}

  async list(ctx: RequestContext, imageId: string): Promise<Properties> {
    return { ...(await this.image(ctx, imageId)).properties };
  }

  /** One key; webob's bare 404 when the image lacks it (as Nova). */
  async get(ctx: RequestContext, imageId: string, key: string): Promise<string> {
    const props = await this.list(ctx, imageId);
    if (!Object.hasOwn(props, key)) throw notFound(msg.resourceNotFound());
    return props[key];
  }

  /** POST (merge) or PUT (replace); returns the image's properties after a merge, the body after a replace (as Nova). */
  async set(ctx: RequestContext, imageId: string, items: Properties, mode: 'merge' | 'replace'): Promise<Properties> {
    const current = await this.list(ctx, imageId);
    const next = mode === 'merge' ? { ...current, ...items } : { ...items };
    await this.checkQuota(ctx, next);
    await this.write(ctx, imageId, current, next);
    return next;
  }

  /** PUT /metadata/{key}: the body must name the key of the URL. */
  async setItem(ctx: RequestContext, imageId: string, key: string, meta: Properties): Promise<Properties> {
    if (!Object.hasOwn(meta, key)) throw badRequest('Request body and URI mismatch');
    const current = await this.list(ctx, imageId);
    const next = { ...current, [key]: meta[key] };
    await this.checkQuota(ctx, next);
    await this.write(ctx, imageId, current, next);
    return meta;
  }

  async deleteItem(ctx: RequestContext, imageId: string, key: string): Promise<void> {
    const current = await this.list(ctx, imageId);
    if (!Object.hasOwn(current, key)) throw notFound('Invalid metadata key');
    const next = { ...current };
    delete next[key];
    await this.write(ctx, imageId, current, next);
  }

  /** common.check_img_metadata_properties_quota */
  private async checkQuota(ctx: RequestContext, props: Properties): Promise<void> {
    const limit = await this.limit(ctx.projectId);
    if (limit >= 0 && Object.keys(props).length > limit) throw forbidden('Image metadata limit exceeded');
  }

  private async image(ctx: RequestContext, imageId: string) {
    try {
      return await this.images.get(ctx, imageId);
    } catch (e) {
      throw asNovaError(e);
    }
  }

  /** The change from `current` to `next` as one JSON patch (v2.1 semantics). */
  private async write(ctx: RequestContext, imageId: string, current: Properties, next: Properties): Promise<void> {
    const changes = [
      ...Object.keys(current).filter((k) => !Object.hasOwn(next, k)).map((attr) => ({ op: 'remove' as const, attr })),
      ...Object.entries(next).filter(([k, v]) => current[k] !== v).map(([attr, value]) => ({ op: 'add' as const, attr, value })),
    ];
    if (!changes.length) return;
    try {
      await this.images.update(ctx, imageId, changes, 10);
    } catch (e) {
      throw asNovaError(e);
    }
  }
}

/** The image service's 404 in Nova's words ("Image not found."), its 400s and 403s as they are. */
function asNovaError(e: unknown): unknown {
  if (e instanceof DomainError && e.kind === 'notFound') return notFound(msg.computeImageNotFound());
  return e;
}
