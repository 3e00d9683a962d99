/**
 * What the compute routers read from outside the compute services, as ports: the wiring in
 * src/app.ts hands each router an implementation (the host cache, the image service).
 */
import type { RequestContext } from '../../http/context';
import type { ImageRecord } from '../../image/image-record';
import type { Change } from '../../image/requests';
import type { HostState } from '../services/hosts';

/** The compute hosts as last heard (a cache: a read never waits on an engine for long). */
export interface HostsPort {
  /** Every configured host, in configuration order. */
  hosts(): Promise<HostState[]>;
}

/** What the compute image proxy needs from the image service (ImageService implements it). */
export interface ImageProxyPort {
  /** Every image the caller may see (Glance's default listing: hidden ones excluded). */
  list(ctx: RequestContext, query: Record<string, never>): Promise<{ images: ImageRecord[] }>;
  /** The image, or a 404 DomainError when unknown or invisible. */
  get(ctx: RequestContext, id: string): Promise<ImageRecord>;
  /** Deletes as Glance would (403 for protected images, 404 when unknown). */
  delete(ctx: RequestContext, id: string): Promise<unknown>;
  /** A JSON patch as Glance's PATCH applies it (compute image metadata, issue 15). */
  update(ctx: RequestContext, id: string, changes: Change[], draft: 4 | 10): Promise<ImageRecord>;
}
