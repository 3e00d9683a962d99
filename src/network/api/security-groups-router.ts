/**
 * Security groups and rules of the Networking API (issue 17), Neutron's routes:
 *
 *   GET    /security-groups            list (filters, fields, sort, limit/marker)   member: own, admin: all
 *   POST   /security-groups            create {security_group}                       member
 *   GET    /security-groups/{id}       show                                          owner, admin
 *   PUT    /security-groups/{id}       update name, description, stateful            owner, admin
 *   DELETE /security-groups/{id}       delete (not default, not in use)              owner, admin
 *   GET    /security-group-rules       list                                          member: own, admin: all
 *   POST   /security-group-rules       create {security_group_rule}                  owner of the group
 *   GET    /security-group-rules/{id}  show
 *   PUT    /security-group-rules/{id}  update description
 *   DELETE /security-group-rules/{id}  delete
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { neutronSg } from '../errors';
import type { SecurityGroupService } from '../security-groups';
import { groupView, ruleView } from '../views/security-groups';
import { applyListQuery } from './list-query';

/** The body's one resource, with Neutron's texts for what is missing (neutron/api/v2/base.py prepare_request_body). */
function resourceOf(body: Record<string, unknown>, resource: string): Record<string, unknown> {
  if (Object.keys(body).length === 0) throw neutronSg.badRequest('Resource body required');
  if (`${resource}s` in body) throw neutronSg.badRequest('Bulk operation not supported');
  const item = body[resource];
  if (item === undefined || item === null) throw neutronSg.badRequest(`Unable to find '${resource}' in request body`);
  if (typeof item !== 'object' || Array.isArray(item)) throw neutronSg.badRequest(`Object '${resource}' contains invalid data`);
  return item as Record<string, unknown>;
}

export function securityGroupsRouter(groups: SecurityGroupService, base: string): Router {
  const r = Router();
  const page = (collection: string, all: Record<string, unknown>[], query: Record<string, unknown>) => {
    const { items, next } = applyListQuery(all, query);
    const links = next ? { [`${collection.replace(/-/g, '_')}_links`]: [{ rel: 'next', href: `${base}/v2.0/${collection}?limit=${String(query.limit)}&marker=${next}` }] } : {};
    return { [collection.replace(/-/g, '_')]: items, ...links };
  };

  r.get('/security-groups', handle(async (req, res) => {
    res.status(200).json(page('security-groups', (await groups.list(ctxOf(req))).map(groupView), req.query as Record<string, unknown>));
  }));
  r.post('/security-groups', handle(async (req, res) => {
    const made = await groups.create(ctxOf(req), resourceOf(req.body, 'security_group'));
    res.status(201).json({ security_group: groupView(made) });
  }));
  r.get('/security-groups/:id', handle(async (req, res) => {
    res.status(200).json({ security_group: groupView(await groups.get(ctxOf(req), req.params.id)) });
  }));
  r.put('/security-groups/:id', handle(async (req, res) => {
    res.status(200).json({ security_group: groupView(await groups.update(ctxOf(req), req.params.id, resourceOf(req.body, 'security_group'))) });
  }));
  r.delete('/security-groups/:id', handle(async (req, res) => {
    await groups.delete(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/security-groups', methodNotAllowed());
  r.all('/security-groups/:id', methodNotAllowed());

  r.get('/security-group-rules', handle(async (req, res) => {
    res.status(200).json(page('security-group-rules', (await groups.listRules(ctxOf(req))).map(ruleView), req.query as Record<string, unknown>));
  }));
  r.post('/security-group-rules', handle(async (req, res) => {
    const made = await groups.createRule(ctxOf(req), resourceOf(req.body, 'security_group_rule'));
    res.status(201).json({ security_group_rule: ruleView(made) });
  }));
  r.get('/security-group-rules/:id', handle(async (req, res) => {
    res.status(200).json({ security_group_rule: ruleView(await groups.getRule(ctxOf(req), req.params.id)) });
  }));
  r.put('/security-group-rules/:id', handle(async (req, res) => {
    res.status(200).json({ security_group_rule: ruleView(await groups.updateRule(ctxOf(req), req.params.id, resourceOf(req.body, 'security_group_rule'))) });
  }));
  r.delete('/security-group-rules/:id', handle(async (req, res) => {
    await groups.deleteRule(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/security-group-rules', methodNotAllowed());
  r.all('/security-group-rules/:id', methodNotAllowed());
  return r;
}
