/**
 * /images/{id}/metadata (nova/api/openstack/compute/image_metadata.py), removed after 2.38
 * (computeRouter mounts it behind untilVersion('2.38'), before the image proxy's 2.35 cut).
 *
 *   GET    /images/{id}/metadata         {"metadata": {...}}
 *   POST   /images/{id}/metadata         merge                PUT /images/{id}/metadata   replace
 *   GET    /images/{id}/metadata/{key}   {"meta": {k: v}}     PUT …/{key}   set one     DELETE …/{key}   204
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { ImageMetadata } from '../services/image-metadata';
import { metaItemBody, metadataBody } from '../schemas/servers';

export function imageMetadataRouter({ metadata }: { metadata: ImageMetadata }): Router {
  const r = Router();
  r.get('/:id/metadata', handle(async (req, res) => {
    res.json({ metadata: await metadata.list(ctxOf(req), req.params.id) });
  }));
  const setAll = (mode: 'merge' | 'replace') => handle(async (req, res) => {
    const body = validate<{ metadata: Record<string, string> }>(metadataBody, req.body);
    res.json({ metadata: await metadata.set(ctxOf(req), req.params.id, body.metadata, mode) });
  });
  r.post('/:id/metadata', setAll('merge'));
  r.put('/:id/metadata', setAll('replace'));
  r.get('/:id/metadata/:key', handle(async (req, res) => {
    const { id, key } = req.params;
    res.json({ meta: { [key]: await metadata.get(ctxOf(req), id, key) } });
  }));
  r.put('/:id/metadata/:key', handle(async (req, res) => {
    const body = validate<{ meta: Record<string, string> }>(metaItemBody, req.body);
    res.json({ meta: await metadata.setItem(ctxOf(req), req.params.id, req.params.key, body.meta) });
  }));
  r.delete('/:id/metadata/:key', handle(async (req, res) => {
    await metadata.deleteItem(ctxOf(req), req.params.id, req.params.key);
    res.status(204).end();
  }));
  r.all(['/:id/metadata', '/:id/metadata/:key'], methodNotAllowed());
  return r;
}
