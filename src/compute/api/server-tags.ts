/**
 * /servers/{id}/tags (nova/api/openstack/compute/server_tags.py), from 2.26 on (a 404 below).
 *
 *   GET    /servers/{id}/tags          {"tags": [...]}
 *   PUT    /servers/{id}/tags          replace all (200, {"tags": [...]})
 *   DELETE /servers/{id}/tags          remove all (204)
 *   GET    /servers/{id}/tags/{tag}    204 when the server has it, else 404
 *   PUT    /servers/{id}/tags/{tag}    201 + Location when added, 204 when it was there
 *   DELETE /servers/{id}/tags/{tag}    204, 404 when the server lacks it
 *
 * Changes are refused (409) unless the server is ACTIVE, PAUSED, SUSPENDED or SHUTOFF.
 */
import { Router } from 'express';
import { badRequest } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import { sinceVersion } from '../microversion';
import type { ServerTags } from '../services/server-tags';
import { invalidTagMessage, updateAllTags } from '../schemas/server-tags';

export interface ServerTagsRouterDeps {
  tags: ServerTags;
  /** Base of Location. */
  publicUrl: string;
}

export function serverTagsRouter({ tags, publicUrl }: ServerTagsRouterDeps): Router {
  const r = Router();
  const paths = ['/servers/:id/tags', '/servers/:id/tags/:tag'];
  r.use(paths, sinceVersion('2.26'));

  r.get('/servers/:id/tags', handle(async (req, res) => {
    res.json({ tags: await tags.list(ctxOf(req), req.params.id) });
  }));
  r.put('/servers/:id/tags', handle(async (req, res) => {
    const body = validate<{ tags: string[] }>(updateAllTags, req.body);
    res.json({ tags: await tags.replace(ctxOf(req), req.params.id, body.tags) });
  }));
  r.delete('/servers/:id/tags', handle(async (req, res) => {
    await tags.removeAll(ctxOf(req), req.params.id);
    res.status(204).end();
  }));

  r.get('/servers/:id/tags/:tag', handle(async (req, res) => {
    await tags.check(ctxOf(req), req.params.id, req.params.tag);
    res.status(204).end();
  }));
  r.put('/servers/:id/tags/:tag', handle(async (req, res) => {
    // Nova's schema for this PUT is `null`: no body (an empty one reads as {} here).
    if (Object.keys(req.body ?? {}).length > 0) throw badRequest("Invalid input: the request body is not of type 'null'.");
    const { id, tag } = req.params;
    if (await tags.add(ctxOf(req), id, tag, invalidTagMessage(tag))) {
      res.setHeader('Location', `${publicUrl}/compute/v2.1/servers/${id}/tags/${encodeURIComponent(tag)}`);
      res.status(201).end();
    } else {
      res.status(204).end();
    }
  }));
  r.delete('/servers/:id/tags/:tag', handle(async (req, res) => {
    await tags.remove(ctxOf(req), req.params.id, req.params.tag);
    res.status(204).end();
  }));
  r.all(paths, methodNotAllowed());
  return r;
}
