/**
 * A server's volume attachments, as Nova answers for a server with no volumes (there is no block
 * storage service here): the dashboard's instance detail lists them (volume_attachments.py).
 *
 *   GET    /servers/{id}/os-volume_attachments        {"volumeAttachments": []} (limit/offset checked)
 *   GET    /servers/{id}/os-volume_attachments/{vol}  404 "not attached"
 *   DELETE /servers/{id}/os-volume_attachments/{vol}  404 "not attached"
 *
 * An unknown server is Nova's 404 "Instance … could not be found." in each case.
 */
import { Router } from 'express';
import { notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { nonNegativeParam } from '../../http/query';
import type { ComputeServices } from '../services';

export interface VolumeAttachmentsRouterDeps {
  compute: Pick<ComputeServices, 'queries'>;
}

export function volumeAttachmentsRouter({ compute }: VolumeAttachmentsRouterDeps): Router {
  const r = Router();
  r.get('/servers/:id/os-volume_attachments', handle(async (req, res) => {
    nonNegativeParam(req, 'limit');
    nonNegativeParam(req, 'offset');
    await compute.queries.get(ctxOf(req), req.params.id);
    res.json({ volumeAttachments: [] });
  }));
  const notAttached = handle(async (req) => {
    await compute.queries.get(ctxOf(req), req.params.id);
    throw notFound(`Instance ${req.params.id} is not attached to volume ${req.params.volume}`);
  });
  r.get('/servers/:id/os-volume_attachments/:volume', notAttached);
  r.delete('/servers/:id/os-volume_attachments/:volume', notAttached);
  return r;
}
