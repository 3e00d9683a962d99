/**
 * /compute/v2.1/flavors — flavors, flavor management and extra specs
 * (nova/api/openstack/compute/{flavors,flavor_manage,flavors_extraspecs}.py).
 * Mounted by computeRouter after the token, microversion and JSON-body middleware.
 *
 *   GET    /                          list (id, name, links)            everyone
 *   GET    /detail                    list in detail                    everyone
 *   POST   /                          create                            admin
 *   GET    /{id}                      show                              everyone (private: admin)
 *   PUT    /{id}                      set description (2.55+)           admin
 *   DELETE /{id}                      delete (202)                      admin
 *   GET    /{id}/os-extra_specs       all extra specs                   everyone who sees the flavor
 *   POST   /{id}/os-extra_specs       add/replace keys                  admin
 *   GET    /{id}/os-extra_specs/{k}   one key                           everyone who sees the flavor
 *   PUT    /{id}/os-extra_specs/{k}   set one key                       admin
 *   DELETE /{id}/os-extra_specs/{k}   remove one key (200, empty)       admin
 *   GET    /{id}/os-flavor-access     projects given a private flavor   admin
 *
 * Flavor access grants (addTenantAccess/removeTenantAccess) are not stored yet: a private flavor
 * is an admin's only, and its access list is empty.
 */
import { Router, Request } from 'express';
import type { Services } from '../compose';
import { badRequest, msg, notFound } from '../errors';
import { handle } from '../http/async';
import { ctxOf, requireAdmin } from '../http/auth';
import { methodNotAllowed } from '../http/errors';
import { boolFromString, validate } from '../http/validation';
import { limitParam, queryParam } from '../http/query';
import { FlavorMarkerNotFound, FlavorRecord, FlavorRepository } from '../db/flavor-repo';
import { atLeast } from './microversion';
import { flavorListView, flavorView } from './views/flavors';
import { MAX_LIMIT } from './max-limit';
import * as schemas from './schemas/flavors';

/**
 * `is_public` for admins: absent = public only; "None" (any case) = public and private; else a
 * boolean string. NOTE(openstack): OSC sends is_public=True for `flavor list` and is_public=None
 * from `server list` and `nova boot` lookups.
 */
function parseIsPublic(raw: string | undefined): boolean | null {
  if (raw === undefined) return true;
  const s = raw.trim().toLowerCase();
  if (s === 'none') return null;
  const b = boolFromString(s);
  if (b === undefined) throw badRequest(`Invalid is_public filter [${raw}]`);
  return b;
}

function intFilter(req: Request, name: 'minRam' | 'minDisk'): number | undefined {
  const raw = queryParam(req, name);
  if (raw === undefined) return undefined;
  if (!/^\s*[-+]?[0-9]+\s*$/.test(raw)) throw badRequest(`Invalid ${name} filter [${raw}]`);
  return Number(raw.trim());
}

/** Body booleans (parameter_types.boolean) to a boolean. */
function bodyBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  return ['true', '1', 'on', 'yes'].includes(String(v).toLowerCase());
}

/** Nova's utils.validate_integer, with the DB column names Nova reports. */
function sizeValue(v: unknown, field: string, min: number): number {
  const n = typeof v === 'number' ? v : /^[0-9]+$/.test(String(v)) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw badRequest(`Invalid input received: ${field} must be an integer`);
  if (n < min) throw badRequest(`Invalid input received: ${field} must be >= ${min}`);
  if (n > schemas.MAX_INT) throw badRequest(`Invalid input received: ${field} must be <= ${schemas.MAX_INT}`);
  return n;
}

type FlavorBody = {
  flavor: {
    name: string;
    id?: string | number | null;
    ram: number | string;
    vcpus: number | string;
    disk: number | string;
    'OS-FLV-EXT-DATA:ephemeral'?: number | string;
    swap?: number | string;
    rxtx_factor?: number | string;
    'os-flavor-access:is_public'?: boolean | string;
    description?: string | null;
  };
};

export function flavorsRouter(services: Services): Router {
  const repo = new FlavorRepository(services.db);
  const publicUrl = services.config.publicUrl;
  const router = Router();

  /** The flavor as the caller may see it: non-admins never see private flavors (404, as Nova). */
  const visibleFlavor = async (req: Request, id: string): Promise<FlavorRecord> => {
    const f = await repo.get(id);
    if (!f || (!f.is_public && !ctxOf(req).isAdmin)) throw notFound(msg.flavorNotFound(id));
    return f;
  };

  const list = (detail: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const sortKey = queryParam(req, 'sort_key') || 'flavorid';
    const sortDir = queryParam(req, 'sort_dir') || 'asc';
    if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest("Unknown sort direction, must be 'desc' or 'asc'");
    const limit = limitParam(req, MAX_LIMIT);
    const marker = queryParam(req, 'marker');
    // Only admins choose the visibility; everyone else sees enabled public flavors.
    const isPublic = ctx.isAdmin ? parseIsPublic(queryParam(req, 'is_public')) : true;
    const minRam = intFilter(req, 'minRam');
    const minDisk = intFilter(req, 'minDisk');
    let flavors: FlavorRecord[];
    try {
      flavors = await repo.list({ isPublic, includeDisabled: ctx.isAdmin, minRam, minDisk, sortKey, sortDir, limit: limit ?? MAX_LIMIT, marker });
    } catch (e) {
      if (e instanceof FlavorMarkerNotFound) throw badRequest(e.message);
      throw e;
    }
    res.status(200).json(flavorListView(req, publicUrl, flavors, detail));
  });

  router.route('/')
    .get(list(false))
    .post(handle(async (req, res) => {
      const v255 = atLeast(req, '2.55');
      const body = validate<FlavorBody>(v255 ? schemas.createFlavorV255 : schemas.createFlavor, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:create');
      const f = body.flavor;
      const rxtx = f.rxtx_factor === undefined ? 1.0 : Number(f.rxtx_factor);
      if (!(rxtx > 0) || !Number.isFinite(rxtx)) throw badRequest("Invalid input received: 'rxtx_factor' argument must be a positive float");
      const created = await repo.create({
        id: f.id === undefined || f.id === null ? undefined : String(f.id),
        name: f.name,
        ram: sizeValue(f.ram, 'memory_mb', 1),
        vcpus: sizeValue(f.vcpus, 'vcpus', 1),
        disk: sizeValue(f.disk, 'root_gb', 0),
        ephemeral: f['OS-FLV-EXT-DATA:ephemeral'] === undefined ? 0 : sizeValue(f['OS-FLV-EXT-DATA:ephemeral'], 'ephemeral_gb', 0),
        swap: f.swap === undefined ? 0 : sizeValue(f.swap, 'swap', 0),
        rxtx_factor: rxtx,
        is_public: f['os-flavor-access:is_public'] === undefined ? true : bodyBool(f['os-flavor-access:is_public']),
        description: v255 ? f.description ?? null : null,
      });
      // NOTE(openstack): Nova answers 200 (not 201) to a flavor create, for compatibility.
      res.status(200).json(flavorView(req, publicUrl, created));
    }))
    .all(methodNotAllowed());

  router.get('/detail', list(true));
  router.all('/detail', methodNotAllowed());

  router.route('/:id')
    .get(handle(async (req, res) => {
      res.status(200).json(flavorView(req, publicUrl, await visibleFlavor(req, req.params.id)));
    }))
    .put(handle(async (req, res, next) => {
      // Nova has no update below 2.55: the route does not exist there.
      if (!atLeast(req, '2.55')) return next(notFound(msg.resourceNotFound()));
      const body = validate<{ flavor: { description: string | null } }>(schemas.updateFlavor, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:update');
      const updated = await repo.updateDescription(req.params.id, body.flavor.description);
      if (!updated) throw notFound(msg.flavorNotFound(req.params.id));
      res.status(200).json(flavorView(req, publicUrl, updated));
    }))
    .delete(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:delete');
      if (!(await repo.delete(req.params.id))) throw notFound(msg.flavorNotFound(req.params.id));
      // NOTE(oomichi, nova): 202 kept for backwards compatibility although the delete is complete.
      res.status(202).end();
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-extra_specs')
    .get(handle(async (req, res) => {
      const f = await visibleFlavor(req, req.params.id);
      res.status(200).json({ extra_specs: f.extra_specs });
    }))
    .post(handle(async (req, res) => {
      const body = validate<{ extra_specs: Record<string, string | number> }>(schemas.createExtraSpecs, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:create');
      await visibleFlavor(req, req.params.id);
      await repo.setExtraSpecs(req.params.id, stringify(body.extra_specs));
      // Nova echoes the request (numbers stay numbers here; later reads show strings).
      res.status(200).json(body);
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-flavor-access')
    .get(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-access');
      const f = await visibleFlavor(req, req.params.id);
      if (f.is_public) throw notFound('Access list not available for public flavors.');
      res.status(200).json({ flavor_access: [] });
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-extra_specs/:key')
    .get(handle(async (req, res) => {
      const f = await visibleFlavor(req, req.params.id);
      const { key } = req.params;
      if (!Object.prototype.hasOwnProperty.call(f.extra_specs, key)) {
        throw notFound(`Flavor ${req.params.id} has no extra specs with key ${key}.`);
      }
      res.status(200).json({ [key]: f.extra_specs[key] });
    }))
    .put(handle(async (req, res) => {
      const body = validate<Record<string, string | number>>(schemas.updateExtraSpec, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:update');
      if (!Object.prototype.hasOwnProperty.call(body, req.params.key)) throw badRequest('Request body and URI mismatch');
      await visibleFlavor(req, req.params.id);
      await repo.setExtraSpecs(req.params.id, stringify(body));
      res.status(200).json(body);
    }))
    .delete(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:delete');
      await repo.deleteExtraSpec(req.params.id, req.params.key);
      // NOTE(openstack): Nova answers 200 with an empty body here (tempest expects exactly 200).
      res.status(200).end();
    }))
    .all(methodNotAllowed());

  return router;
}

function stringify(specs: Record<string, string | number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(specs)) out[k] = String(v);
  return out;
}
