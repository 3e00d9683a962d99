/**
 * /compute/v2.1/os-server-groups (nova/api/openstack/compute/server_groups.py). Mounted by
 * computeRouter after the token, microversion and JSON-body middleware.
 *
 *   GET    /        the project's groups (admins: ?all_projects for every project's; limit/offset)
 *   POST   /        create (200): < 2.64 `policies: [one]`, from 2.64 `policy` + `rules`
 *   GET    /{id}    show (another project's group: 404)
 *   DELETE /{id}    delete (204)
 *
 * Policies (nova/policies/server_groups.py): readers list and show, members create and delete
 * their project's groups, admins any project's.
 */
import { Router } from 'express';
import { badRequest } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { nonNegativeParam } from '../../http/query';
import { validate } from '../../http/validation';
import { MAX_LIMIT } from '../max-limit';
import { atLeast, mvOf } from '../microversion';
import type { ServerGroups } from '../services/server-groups';
import { CreateServerGroupBody, LIST_QUERY_PARAMETERS, createServerGroupSchema, ruleValue } from '../schemas/server-groups';
import { serverGroupListView, serverGroupView } from '../views/server-groups';

export interface ServerGroupsRouterDeps {
  serverGroups: ServerGroups;
}

export function serverGroupsRouter({ serverGroups }: ServerGroupsRouterDeps): Router {
  const router = Router();

  router.route('/')
    .get(handle(async (req, res) => {
      if (atLeast(req, '2.75')) {
        for (const k of Object.keys(req.query)) {
          if (!LIST_QUERY_PARAMETERS.has(k)) throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
        }
      }
      const offset = nonNegativeParam(req, 'offset') ?? 0;
      // NOTE(openstack): common.limited reads a limit of 0 as "no limit" (the maximum).
      const limit = Math.min(MAX_LIMIT, nonNegativeParam(req, 'limit') || MAX_LIMIT);
      // NOTE(openstack): the parameter's presence is what counts (`'all_projects' in req.GET`), whatever its value.
      const groups = await serverGroups.list(ctxOf(req), { allProjects: 'all_projects' in req.query, offset, limit });
      res.status(200).json(serverGroupListView(mvOf(req), groups));
    }))
    .post(handle(async (req, res) => {
      const mv = mvOf(req);
      const { server_group: b } = validate<CreateServerGroupBody>(createServerGroupSchema(mv), req.body);
      const rules = b.rules?.max_server_per_host === undefined ? {} : { max_server_per_host: ruleValue(b.rules.max_server_per_host) };
      const policy = mv('2.64') ? b.policy! : b.policies![0];
      const group = await serverGroups.create(ctxOf(req), { name: b.name, policy, rules });
      res.status(200).json(serverGroupView(mv, group));
    }))
    .all(methodNotAllowed());

  router.route('/:id')
    .get(handle(async (req, res) => {
      res.status(200).json(serverGroupView(mvOf(req), await serverGroups.get(ctxOf(req), req.params.id)));
    }))
    .delete(handle(async (req, res) => {
      await serverGroups.delete(ctxOf(req), req.params.id);
      res.status(204).end();
    }))
    .all(methodNotAllowed());

  return router;
}
