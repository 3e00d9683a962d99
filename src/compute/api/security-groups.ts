/**
 * The compute API's security group proxy over the Networking API's records (issue 17), Nova's
 * shapes (nova/api/openstack/compute/security_groups.py), < 2.36 like Nova:
 *
 *   GET    /os-security-groups[?all_tenants=1]   the project's groups (an admin: all with all_tenants)
 *   POST   /os-security-groups                   create {security_group: {name, description}}
 *   GET    /os-security-groups/{id}              one group
 *   DELETE /os-security-groups/{id}              delete (202)
 *   POST   /os-security-group-rules              create an ingress rule {security_group_rule: {parent_group_id, …}}
 *   DELETE /os-security-group-rules/{id}         delete (202)
 *   GET    /servers/{id}/os-security-groups      the groups of the server's ports (every version)
 *
 * A server without ports (booted before the network service) shows the groups its record names;
 * the routes after this router answer for it.
 */
import { Router } from 'express';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { NovaSecurityGroups } from '../../network/nova-security-groups';
import type { ComputeServices } from '../services';
import { untilVersion } from '../microversion';

const createBody = {
  type: 'object',
  properties: {
    security_group: {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1, maxLength: 255 }, description: { type: 'string', maxLength: 255 } },
      required: ['name', 'description'],
      additionalProperties: true,
    },
  },
  required: ['security_group'],
  additionalProperties: false,
};

const ruleBody = {
  type: 'object',
  properties: {
    security_group_rule: {
      type: 'object',
      properties: {
        parent_group_id: { type: 'string' },
        ip_protocol: { type: ['string', 'null'] },
        from_port: { type: ['integer', 'string', 'null'] },
        to_port: { type: ['integer', 'string', 'null'] },
        cidr: { type: ['string', 'null'] },
        group_id: { type: ['string', 'null'] },
      },
      required: ['parent_group_id'],
      additionalProperties: true,
    },
  },
  required: ['security_group_rule'],
  additionalProperties: false,
};

export interface NovaSecurityGroupsRouterDeps {
  groups: NovaSecurityGroups;
  compute: Pick<ComputeServices, 'queries'>;
}

export function novaSecurityGroupsRouter({ groups, compute }: NovaSecurityGroupsRouterDeps): Router {
  const r = Router();
  r.get('/os-security-groups', untilVersion('2.35'), handle(async (req, res) => {
    const all = ['1', 'true', 'True'].includes(String(req.query.all_tenants ?? ''));
    res.status(200).json({ security_groups: await groups.list(ctxOf(req), all) });
  }));
  r.post('/os-security-groups', untilVersion('2.35'), handle(async (req, res) => {
    const b = validate<{ security_group: { name: string; description: string } }>(createBody, req.body);
    res.status(200).json({ security_group: await groups.create(ctxOf(req), b.security_group.name, b.security_group.description) });
  }));
  r.get('/os-security-groups/:id', untilVersion('2.35'), handle(async (req, res) => {
    res.status(200).json({ security_group: await groups.get(ctxOf(req), req.params.id) });
  }));
  r.delete('/os-security-groups/:id', untilVersion('2.35'), handle(async (req, res) => {
    await groups.delete(ctxOf(req), req.params.id);
    res.status(202).end();
  }));
  r.all(['/os-security-groups', '/os-security-groups/:id'], untilVersion('2.35'), methodNotAllowed());

  r.post('/os-security-group-rules', untilVersion('2.35'), handle(async (req, res) => {
    const b = validate<{ security_group_rule: Parameters<NovaSecurityGroups['createRule']>[1] }>(ruleBody, req.body);
    res.status(200).json({ security_group_rule: await groups.createRule(ctxOf(req), b.security_group_rule) });
  }));
  r.delete('/os-security-group-rules/:id', untilVersion('2.35'), handle(async (req, res) => {
    await groups.deleteRule(ctxOf(req), req.params.id);
    res.status(202).end();
  }));
  r.all(['/os-security-group-rules', '/os-security-group-rules/:id'], untilVersion('2.35'), methodNotAllowed());

  r.get('/servers/:id/os-security-groups', handle(async (req, res, next) => {
    await compute.queries.get(ctxOf(req), req.params.id);
    const found = await groups.ofServer(req.params.id);
    if (!found) return next();
    res.status(200).json({ security_groups: found });
  }));
  return r;
}
