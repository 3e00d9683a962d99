/**
 * os-aggregates, admin only (nova/api/openstack/compute/aggregates.py):
 *
 *   GET     /os-aggregates               list
 *   POST    /os-aggregates               create {name, availability_zone}     200, no hosts/metadata
 *   GET     /os-aggregates/{id}          show
 *   PUT     /os-aggregates/{id}          update {name and/or availability_zone}
 *   DELETE  /os-aggregates/{id}          delete (400 while it has hosts)      200, empty
 *   POST    /os-aggregates/{id}/action   add_host, remove_host, set_metadata
 *
 * 2.41 shows the uuid. The 2.81 image cache action (`/{id}/images`) is not offered: 404.
 * As Nova, a body is validated before the policy is checked, and the id after.
 */
import { Router, Request } from 'express';
import { badRequest, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import { mvOf } from '../microversion';
import * as schemas from '../schemas/host-admin';
import type { AggregateRecord, AggregateService } from '../services/aggregates';
import { aggregateListView, aggregateView } from '../views/host-admin';

export interface AggregatesRouterDeps {
  aggregates: AggregateService;
}

interface CreateBody { aggregate: { name: string; availability_zone?: string | null } }
interface UpdateBody { aggregate: { name?: string; availability_zone?: string | null } }

const admin = (req: Request, action: string) => requireAdmin(ctxOf(req), `os_compute_api:os-aggregates:${action}`);

/**
 * utils.validate_integer(id, 'id'): Python's int(str(id)). An id beyond the column's range names
 * no aggregate (404, with the id as given).
 */
function aggregateId(raw: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) throw badRequest('Invalid input received: id must be an integer');
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) throw notFound(`Aggregate ${raw} could not be found.`);
  return n;
}

/** common.normalize_name: names may carry spaces in, not out. */
const normalize = (s: string) => s.trim();

export function aggregatesRouter({ aggregates }: AggregatesRouterDeps): Router {
  const router = Router();
  const show = (req: Request, a: AggregateRecord) => ({ aggregate: aggregateView(mvOf(req), a) });

  /** The actions of POST /os-aggregates/{id}/action: schema, policy name and the change. */
  const ACTIONS: Record<string, { schema: object; policy: string; run(id: number, args: Record<string, unknown>): Promise<AggregateRecord> }> = {
    add_host: { schema: schemas.addHost, policy: 'add_host', run: (id, a) => aggregates.addHost(id, a.host as string) },
    remove_host: { schema: schemas.removeHost, policy: 'remove_host', run: (id, a) => aggregates.removeHost(id, a.host as string) },
    set_metadata: {
      schema: schemas.setMetadata,
      policy: 'set_metadata',
      run: (id, a) => aggregates.setMetadata(id, a.metadata as Record<string, string | null>),
    },
  };

  router.route('/')
    .get(handle(async (req, res) => {
      admin(req, 'index');
      res.status(200).json(aggregateListView(mvOf(req), await aggregates.list()));
    }))
    .post(handle(async (req, res) => {
      const { aggregate: b } = validate<CreateBody>(schemas.createAggregate, req.body);
      admin(req, 'create');
      const zone = b.availability_zone ? normalize(b.availability_zone) : b.availability_zone;
      const a = await aggregates.create(normalize(b.name), zone);
      // NOTE(openstack): 200, not 201, "for backwards compatibility" (aggregates.py).
      res.status(200).json({ aggregate: aggregateView(mvOf(req), a, true) });
    }))
    .all(methodNotAllowed());

  router.route('/:id')
    .get(handle(async (req, res) => {
      admin(req, 'show');
      res.status(200).json(show(req, await aggregates.get(aggregateId(req.params.id))));
    }))
    .put(handle(async (req, res) => {
      const { aggregate: b } = validate<UpdateBody>(schemas.updateAggregate, req.body);
      admin(req, 'update');
      const id = aggregateId(req.params.id);
      const a = await aggregates.update(id, { name: b.name === undefined ? undefined : normalize(b.name), zone: b.availability_zone });
      res.status(200).json(show(req, a));
    }))
    .delete(handle(async (req, res) => {
      admin(req, 'delete');
      await aggregates.delete(aggregateId(req.params.id));
      res.status(200).end();
    }))
    .all(methodNotAllowed());

  router.route('/:id/action')
    .post(handle(async (req, res) => {
      const keys = Object.keys(req.body as object);
      if (keys.length !== 1) throw badRequest(keys.length ? 'Malformed request body: too many body keys' : 'Malformed request body: no action given');
      // Own keys only: "constructor" or "__proto__" name no action.
      const action = Object.hasOwn(ACTIONS, keys[0]) ? ACTIONS[keys[0]] : undefined;
      if (!action) throw badRequest(`There is no such action: ${keys[0]}`);
      const args = validate<Record<string, Record<string, unknown>>>(action.schema, req.body)[keys[0]];
      admin(req, action.policy);
      res.status(200).json(show(req, await action.run(aggregateId(req.params.id), args)));
    }))
    .all(methodNotAllowed());

  return router;
}
