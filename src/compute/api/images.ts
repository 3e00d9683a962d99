/**
 * The compute image proxy (nova/api/openstack/compute/images.py), deprecated and removed at 2.36
 * (computeRouter mounts it behind untilVersion('2.35')); Tempest's createImage test polls
 * GET /images/{id} at 2.1. Images come from the image service, with the caller's visibility.
 *
 *   GET     /images[/detail]   list, Nova's filters, newest first, limit/marker
 *   GET     /images/{id}       show
 *   DELETE  /images/{id}       delete (204)
 */
import { Router, Request } from 'express';
import type { ImageRecord } from '../../image/image-record';
import { DomainError, badRequest, msg, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { limitParam, queryParam } from '../../http/query';
import { MAX_LIMIT } from '../max-limit';
import { imageListView, imageView, novaImageStatus } from '../views/images';
import type { ImageProxyPort } from './ports';

export interface ImageProxyRouterDeps {
  images: ImageProxyPort;
  /** Base of the absolute links. */
  publicUrl: string;
}

/** Nova's compute image filters (query parameters), as a predicate over what the image service lists. */
function imageFilter(req: Request): (i: ImageRecord) => boolean {
  const name = queryParam(req, 'name');
  const status = queryParam(req, 'status');
  // NOTE(openstack): Nova's _get_filters keeps what follows the last '/' (clients send the server's href).
  const serverId = queryParam(req, 'server')?.split('/').pop();
  const type = queryParam(req, 'type');
  const minRam = queryParam(req, 'minRam');
  const minDisk = queryParam(req, 'minDisk');
  const since = queryParam(req, 'changes-since');
  const intOf = (raw: string | undefined, what: string) => {
    if (raw === undefined) return undefined;
    if (!/^[0-9]+$/.test(raw)) throw badRequest(`Invalid ${what} filter [${raw}]`);
    return Number(raw);
  };
  const ram = intOf(minRam, 'minRam');
  const disk = intOf(minDisk, 'minDisk');
  let sinceMs: number | undefined;
  if (since !== undefined) {
    sinceMs = Date.parse(since);
    if (Number.isNaN(sinceMs)) throw badRequest(`Invalid filter field: changes-since.`);
  }
  return (i) =>
    (name === undefined || i.name === name)
    && (status === undefined || novaImageStatus(i) === status.toUpperCase())
    && (serverId === undefined || i.properties.instance_uuid === serverId)
    && (type === undefined || i.properties.image_type === type)
    && (ram === undefined || i.min_ram >= ram)
    && (disk === undefined || i.min_disk >= disk)
    && (sinceMs === undefined || Date.parse(i.updated_at) >= sinceMs);
}

/** Glance's default order: newest first (ties by id, descending). */
const newestFirst = (a: ImageRecord, b: ImageRecord) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : a.id < b.id ? 1 : -1);

/** The image service's 404 in Nova's words ("Image not found."); other errors pass unchanged. */
function toImageNotFound(e: unknown): unknown {
  if (e instanceof DomainError && e.kind === 'notFound') return notFound(msg.computeImageNotFound());
  return e;
}

export function imageProxyRouter({ images, publicUrl }: ImageProxyRouterDeps): Router {
  const router = Router();

  const list = (detail: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const all = (await images.list(ctx, {})).images.filter(imageFilter(req));
    all.sort(newestFirst);
    let start = 0;
    const marker = queryParam(req, 'marker');
    if (marker !== undefined) {
      const at = all.findIndex((i) => i.id === marker);
      if (at < 0) throw badRequest(`marker [${marker}] not found`);
      start = at + 1;
    }
    const limit = limitParam(req, MAX_LIMIT) ?? MAX_LIMIT;
    res.status(200).json(imageListView(publicUrl, all.slice(start, start + limit), detail, req.query));
  });

  router.get('/', list(false));
  router.get('/detail', list(true));
  router.get('/:id', handle(async (req, res) => {
    const image = await images.get(ctxOf(req), req.params.id).catch((e) => {
      throw toImageNotFound(e);
    });
    res.status(200).json(imageView(publicUrl, image));
  }));
  router.delete('/:id', handle(async (req, res) => {
    await images.delete(ctxOf(req), req.params.id).catch((e) => {
      throw toImageNotFound(e);
    });
    res.status(204).end();
  }));
  // DELETE /images/ (a blank id) matches no route of Nova's: its 404, not the collection's 405.
  router.delete('/', (req, _res, next) => next(req.originalUrl.split('?')[0].endsWith('/') ? notFound(msg.resourceNotFound()) : undefined));
  router.all(['/', '/detail', '/:id'], methodNotAllowed());
  return router;
}
