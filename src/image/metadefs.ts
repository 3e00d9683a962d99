/**
 * Glance's metadata definitions catalog, as much of it as a Glance with no definitions loaded
 * answers (glance/api/v2/metadef_*.py): the ten JSON schemas clients fetch, and an empty
 * namespace listing. metadefs-schemas.json is what Glance's own get_schema() and
 * get_collection_schema() return, generated from its source (glance master at the time of
 * writing) by running those functions, unchanged.
 *
 *   GET /v2/schemas/metadefs/{namespace,namespaces,object,objects,property,properties,
 *                             tag,tags,resource_type,resource_types}
 *   GET /v2/metadefs/namespaces      {"namespaces": [], "first": …, "schema": …}
 *   GET /v2/metadefs/resource_types  {"resource_types": []} (the dashboard's image metadata dialog)
 *   GET /v2/metadefs/namespaces/{ns}[/resource_types]   404, as for any namespace not loaded
 */
import { Request, Response, Router } from 'express';
import { badRequest, notFound } from '../errors';
import { methodNotAllowed } from '../http/errors';
import schemas from './metadefs-schemas.json';

/** The namespaces list's query checks (metadef_namespaces.py RequestDeserializer.index). */
function checkQuery(req: Request): void {
  const one = (k: string) => {
    const v = req.query[k];
    return Array.isArray(v) ? String(v[v.length - 1]) : v === undefined ? undefined : String(v);
  };
  const limit = one('limit');
  if (limit !== undefined) {
    if (!/^[+-]?\d+$/.test(limit.trim())) throw badRequest('limit param must be an integer');
    if (Number(limit) < 0) throw badRequest('limit param must be positive');
  }
  const sortDir = one('sort_dir');
  if (sortDir !== undefined && sortDir !== 'asc' && sortDir !== 'desc') throw badRequest(`Invalid sort direction: ${sortDir}`);
  const visibility = one('visibility');
  if (visibility && visibility !== 'public' && visibility !== 'private') throw badRequest(`Invalid visibility value: ${visibility}`);
}

export function metadefsRouter(): Router {
  const r = Router();
  for (const [name, body] of Object.entries(schemas)) {
    r.get(`/schemas/metadefs/${name}`, (_req: Request, res: Response) => {
      res.status(200).json(body);
    });
    r.all(`/schemas/metadefs/${name}`, methodNotAllowed());
  }
  r.get('/metadefs/namespaces', (req, res) => {
    checkQuery(req);
    // ResponseSerializer.index: `first` carries the query without the marker; no `next` on an empty page.
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) {
      if (k === 'marker') continue;
      for (const x of Array.isArray(v) ? v : [v]) params.append(k, String(x));
    }
    const query = params.toString();
    res.status(200).json({ namespaces: [], first: `/v2/metadefs/namespaces${query ? `?${query}` : ''}`, schema: '/v2/schemas/metadefs/namespaces' });
  });
  r.get('/metadefs/resource_types', (_req, res) => {
    res.status(200).json({ resource_types: [] });
  });
  r.get('/metadefs/namespaces/:ns', (req) => {
    throw notFound(`Metadata definition namespace=${req.params.ns} was not found.`);
  });
  r.get('/metadefs/namespaces/:ns/resource_types', (req) => {
    throw notFound(`Namespace ${req.params.ns} not found`);
  });
  return r;
}
