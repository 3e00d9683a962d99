/**
 * /compute/v2.1/flavors — flavors, flavor management, extra specs and flavor access
 * (nova/api/openstack/compute/{flavors,flavor_manage,flavors_extraspecs,flavor_access}.py).
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
 *   POST   /{id}/action               addTenantAccess/removeTenantAccess admin
 *
 * Policy (admin only) is checked here, after the body's schema, as Nova's controllers do; the
 * rules (visibility, sizes, misses) are FlavorService's.
 */
import { Router, Request } from 'express';
import { badRequest, msg, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { limitParam, queryParam } from '../../http/query';
import { boolFromString, validate } from '../../http/validation';
import { MAX_LIMIT } from '../max-limit';
import { atLeast, mvOf } from '../microversion';
import type { FlavorService } from '../services/flavors';
import { flavorListView, flavorView } from '../views/flavors';
import { toBool } from '../schemas/parameter-types';
import * as schemas from '../schemas/flavors';

export interface FlavorsRouterDeps {
  flavors: FlavorService;
  /** Base of the absolute links. */
  publicUrl: string;
}

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

export function flavorsRouter({ flavors, publicUrl }: FlavorsRouterDeps): Router {
  const router = Router();

  const list = (detail: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const sortKey = queryParam(req, 'sort_key') || 'flavorid';
    const sortDir = queryParam(req, 'sort_dir') || 'asc';
    if (sortDir !== 'asc' && sortDir !== 'desc') throw badRequest("Unknown sort direction, must be 'desc' or 'asc'");
    const limit = limitParam(req, MAX_LIMIT);
    const marker = queryParam(req, 'marker');
    // Only an admin's is_public is read (and refused when malformed); the service ignores it for others.
    const isPublic = ctx.isAdmin ? parseIsPublic(queryParam(req, 'is_public')) : true;
    const minRam = intFilter(req, 'minRam');
    const minDisk = intFilter(req, 'minDisk');
    const found = await flavors.list(ctx, { isPublic, minRam, minDisk, sortKey, sortDir, limit: limit ?? MAX_LIMIT, marker });
    res.status(200).json(flavorListView(mvOf(req), publicUrl, found, detail, req.query));
  });

  router.route('/')
    .get(list(false))
    .post(handle(async (req, res) => {
      const v255 = atLeast(req, '2.55');
      const { flavor: f } = validate<FlavorBody>(v255 ? schemas.createFlavorV255 : schemas.createFlavor, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:create');
      const created = await flavors.create({
        id: f.id === undefined || f.id === null ? undefined : String(f.id),
        name: f.name,
        ram: f.ram,
        vcpus: f.vcpus,
        disk: f.disk,
        ephemeral: f['OS-FLV-EXT-DATA:ephemeral'],
        swap: f.swap,
        rxtxFactor: f.rxtx_factor,
        isPublic: f['os-flavor-access:is_public'] === undefined ? true : toBool(f['os-flavor-access:is_public']),
        description: v255 ? f.description ?? null : null,
      });
      // NOTE(openstack): Nova answers 200 (not 201) to a flavor create, for compatibility.
      res.status(200).json(flavorView(mvOf(req), publicUrl, created));
    }))
    .all(methodNotAllowed());

  router.get('/detail', list(true));
  router.all('/detail', methodNotAllowed());

  router.route('/:id')
    .get(handle(async (req, res) => {
      res.status(200).json(flavorView(mvOf(req), publicUrl, await flavors.get(ctxOf(req), req.params.id)));
    }))
    .put(handle(async (req, res, next) => {
      // Nova has no update below 2.55: the route does not exist there.
      if (!atLeast(req, '2.55')) return next(notFound(msg.resourceNotFound()));
      const body = validate<{ flavor: { description: string | null } }>(schemas.updateFlavor, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:update');
      res.status(200).json(flavorView(mvOf(req), publicUrl, await flavors.updateDescription(req.params.id, body.flavor.description)));
    }))
    .delete(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-manage:delete');
      await flavors.delete(req.params.id);
      // NOTE(oomichi, nova): 202 kept for backwards compatibility although the delete is complete.
      res.status(202).end();
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-extra_specs')
    .get(handle(async (req, res) => {
      res.status(200).json({ extra_specs: await flavors.extraSpecs(ctxOf(req), req.params.id) });
    }))
    .post(handle(async (req, res) => {
      const body = validate<{ extra_specs: Record<string, string | number> }>(schemas.createExtraSpecs, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:create');
      await flavors.setExtraSpecs(ctxOf(req), req.params.id, body.extra_specs);
      // Nova echoes the request (numbers stay numbers here; later reads show strings).
      res.status(200).json(body);
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-flavor-access')
    .get(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-access');
      res.status(200).json({ flavor_access: await flavors.access(ctxOf(req), req.params.id) });
    }))
    .all(methodNotAllowed());

  // The flavor actions: each gives the access list after it (flavor_access.py).
  const ACCESS_ACTIONS: Record<string, { schema: object; policy: string; run: typeof flavors.addAccess }> = {
    addTenantAccess: { schema: schemas.addTenantAccess, policy: 'os_compute_api:os-flavor-access:add_tenant_access', run: (c, id, p) => flavors.addAccess(c, id, p) },
    removeTenantAccess: { schema: schemas.removeTenantAccess, policy: 'os_compute_api:os-flavor-access:remove_tenant_access', run: (c, id, p) => flavors.removeAccess(c, id, p) },
  };
  router.route('/:id/action')
    .post(handle(async (req, res) => {
      const keys = Object.keys(req.body as object);
      if (keys.length !== 1) throw badRequest(keys.length ? 'Malformed request body: too many body keys' : 'Malformed request body: no action given');
      const action = Object.hasOwn(ACCESS_ACTIONS, keys[0]) ? ACCESS_ACTIONS[keys[0]] : undefined;
      if (!action) throw badRequest(`There is no such action: ${keys[0]}`);
      const { tenant } = validate<Record<string, { tenant: string }>>(action.schema, req.body)[keys[0]];
      requireAdmin(ctxOf(req), action.policy);
      res.status(200).json({ flavor_access: await action.run(ctxOf(req), req.params.id, tenant) });
    }))
    .all(methodNotAllowed());

  router.route('/:id/os-extra_specs/:key')
    .get(handle(async (req, res) => {
      const { key } = req.params;
      res.status(200).json({ [key]: await flavors.extraSpec(ctxOf(req), req.params.id, key) });
    }))
    .put(handle(async (req, res) => {
      const body = validate<Record<string, string | number>>(schemas.updateExtraSpec, req.body);
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:update');
      if (!Object.prototype.hasOwnProperty.call(body, req.params.key)) throw badRequest('Request body and URI mismatch');
      await flavors.setExtraSpecs(ctxOf(req), req.params.id, body);
      res.status(200).json(body);
    }))
    .delete(handle(async (req, res) => {
      requireAdmin(ctxOf(req), 'os_compute_api:os-flavor-extra-specs:delete');
      await flavors.deleteExtraSpec(req.params.id, req.params.key);
      // NOTE(openstack): Nova answers 200 with an empty body here (tempest expects exactly 200).
      res.status(200).end();
    }))
    .all(methodNotAllowed());

  return router;
}
