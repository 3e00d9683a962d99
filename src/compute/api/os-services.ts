/**
 * os-services, admin only (nova/api/openstack/compute/services.py):
 *
 *   GET     /os-services                 list (?host, ?binary; from 2.75 no other parameter)
 *   PUT     /os-services/{action}        below 2.53: enable, disable, disable-log-reason,
 *                                        force-down (2.11), the service named by {host, binary}
 *   PUT     /os-services/{uuid}          from 2.53: {status, disabled_reason, forced_down}
 *   DELETE  /os-services/{id}            an integer below 2.53, a UUID from 2.53
 *
 * As Nova, the body is validated before the policy is checked.
 */
import { Router, Request } from 'express';
import { badRequest, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf, requireAdmin } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { queryParam } from '../../http/query';
import { UUID_RE, validate } from '../../http/validation';
import { atLeast, mvOf } from '../microversion';
import { toBool } from '../schemas/parameter-types';
import * as schemas from '../schemas/host-admin';
import type { OsServices } from '../services/os-services';
import { serviceForcedDownView, serviceListView, serviceStatusView, serviceView } from '../views/host-admin';

export interface OsServicesRouterDeps {
  services: Pick<OsServices, 'list' | 'updateByHost' | 'update' | 'delete'>;
}

interface ActionBody { host: string; binary: string; disabled_reason?: string; forced_down?: boolean | string }
interface UpdateBody { status?: 'enabled' | 'disabled'; disabled_reason?: string; forced_down?: boolean | string }

const admin = (req: Request, action: string) => requireAdmin(ctxOf(req), `os_compute_api:os-services:${action}`);

/** Python's int(str(id)): digits with an optional sign and surrounding spaces. */
function integerId(id: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(id)) throw badRequest('Invalid input received: id must be an integer');
  return Number(id);
}

function uuidId(id: string): string {
  if (!UUID_RE.test(id)) throw badRequest(`Invalid uuid ${id}`);
  return id.replace(/-/g, '').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5').toLowerCase();
}

export function osServicesRouter({ services }: OsServicesRouterDeps): Router {
  const router = Router();

  /** The actions of PUT /os-services/{action} below 2.53: each validated body to a service change and its answer. */
  const ACTIONS: Record<string, (b: ActionBody) => Promise<object>> = {
    enable: async (b) => {
      await services.updateByHost(b.host, b.binary, { disabled: false, disabledReason: null });
      return serviceStatusView(b.host, b.binary, false);
    },
    disable: async (b) => {
      await services.updateByHost(b.host, b.binary, { disabled: true, disabledReason: null });
      return serviceStatusView(b.host, b.binary, true);
    },
    'disable-log-reason': async (b) => {
      if (b.disabled_reason === undefined) throw badRequest('Missing disabled reason field');
      await services.updateByHost(b.host, b.binary, { disabled: true, disabledReason: b.disabled_reason });
      return serviceStatusView(b.host, b.binary, true, b.disabled_reason);
    },
    'force-down': async (b) => {
      if (b.forced_down === undefined) throw badRequest('Missing forced_down field');
      const forcedDown = toBool(b.forced_down);
      await services.updateByHost(b.host, b.binary, { forcedDown });
      return serviceForcedDownView(b.host, b.binary, forcedDown);
    },
  };

  router.get('/', handle(async (req, res) => {
    admin(req, 'list');
    if (atLeast(req, '2.75')) {
      for (const k of Object.keys(req.query)) {
        if (k !== 'host' && k !== 'binary') throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
      }
    }
    const list = await services.list({ host: queryParam(req, 'host'), binary: queryParam(req, 'binary') });
    res.status(200).json(serviceListView(mvOf(req), list));
  }));

  router.put('/:id', handle(async (req, res) => {
    const { id } = req.params;
    if (atLeast(req, '2.53')) {
      const body = validate<UpdateBody>(schemas.serviceUpdateV253, req.body);
      const uuid = uuidId(id);
      admin(req, 'update');
      const svc = await services.update(uuid, {
        status: body.status,
        disabledReason: body.disabled_reason,
        forcedDown: body.forced_down === undefined ? undefined : toBool(body.forced_down),
      });
      res.status(200).json({ service: serviceView(mvOf(req), svc) });
      return;
    }
    const body = validate<ActionBody>(atLeast(req, '2.11') ? schemas.serviceActionV211 : schemas.serviceAction, req.body);
    admin(req, 'update');
    const action = Object.hasOwn(ACTIONS, id) && (id !== 'force-down' || atLeast(req, '2.11')) ? ACTIONS[id] : undefined;
    if (!action) throw notFound('Unknown action');
    res.status(200).json(await action(body));
  }));

  router.delete('/:id', handle(async (req, res) => {
    admin(req, 'delete');
    const { id } = req.params;
    const ref = atLeast(req, '2.53') ? { uuid: uuidId(id) } : { id: integerId(id) };
    await services.delete(ref, id);
    res.status(204).end();
  }));

  router.all('/', methodNotAllowed());
  router.all('/:id', methodNotAllowed());
  return router;
}
