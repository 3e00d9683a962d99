/**
 * The network proxies of the compute API, without a network service behind them: one pseudo
 * network "private" and each project's one security group, "default" (see src/compute/networks.ts).
 *
 *   GET  /os-networks[/{id}]          the pseudo network (every version)   everyone
 *   GET  /os-security-groups[/{id}]   the project's default group (< 2.36)  everyone
 *
 * Nova removed both at 2.36; OSC's own lookups (`--network`, `--security-group`) send no
 * microversion, so they get 2.1.
 */
import { Router } from 'express';
import { badRequest, msg, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { UUID_RE } from '../../http/validation';
import { untilVersion } from '../microversion';
import { defaultSecurityGroup } from '../networks';
import type { RequestContext } from '../../http/context';
import { networkView } from '../views/networks';

/**
 * issue 17 (net-core): the caller's networks in the Networking API, for os-networks. The project's
 * default network keeps the pseudo id (boot takes it in every project, as Tempest's
 * admin-resolved fixed_network_name needs); the others show their own ids.
 */
export interface NovaNetworksPort {
  list(ctx: RequestContext): Promise<{ id: string; name: string; isDefault: boolean }[]>;
}

/** os-networks and os-security-groups answer from the request's project (and the network service's networks, when given). */
export function networksRouter(networks?: NovaNetworksPort): Router {
  const router = Router();
  const listed = async (ctx: RequestContext) => {
    if (!networks) return [networkView(ctx.isAdmin)];
    const all = await networks.list(ctx);
    return all.filter((n) => n.isDefault).slice(0, 1).map(() => networkView(ctx.isAdmin))
      .concat(all.filter((n) => !n.isDefault).map((n) => networkView(ctx.isAdmin, n.id, n.name)));
  };

  // NOTE(openstack): Nova answers 404 from 2.36 on; novadock keeps this read-only proxy at every
  // version because Tempest's microversioned classes resolve fixed_network_name through it with
  // their own microversion (there is no network service to ask instead).
  router.get('/os-networks', handle(async (req, res) => {
    res.status(200).json({ networks: await listed(ctxOf(req)) });
  }));
  router.get('/os-networks/:id', handle(async (req, res) => {
    const ctx = ctxOf(req);
    // NOTE(openstack): a name is a 404 here, so OSC's APIv2.find falls back to listing and
    // matching `label` (openstackclient/api/compute_v2.py network_find).
    const real = networks ? (await networks.list(ctx)).find((n) => n.id === req.params.id) : undefined;
    const found = real?.isDefault ? networkView(ctx.isAdmin) : (await listed(ctx)).find((n) => n.id === req.params.id);
    if (!found) throw notFound(msg.networkNotFound(req.params.id));
    res.status(200).json({ network: found });
  }));
  router.all(['/os-networks', '/os-networks/:id'], methodNotAllowed());

  router.get('/os-security-groups', untilVersion('2.35'), (req, res) => {
    res.status(200).json({ security_groups: [defaultSecurityGroup(ctxOf(req).projectId)] });
  });
  router.get('/os-security-groups/:id', untilVersion('2.35'), handle(async (req, res) => {
    const { projectId } = ctxOf(req);
    const { id } = req.params;
    // NOTE(openstack): Nova refuses a non-UUID id with 400 before asking neutron; OSC's
    // APIv2.find treats 400 like 404 and falls back to the list, matching `name`.
    if (!UUID_RE.test(id)) throw badRequest('Security group id should be uuid');
    const group = defaultSecurityGroup(projectId);
    if (id.toLowerCase() !== group.id) throw notFound(`Security group ${id} not found.`);
    res.status(200).json({ security_group: group });
  }));
  router.all(['/os-security-groups', '/os-security-groups/:id'], untilVersion('2.35'), methodNotAllowed());

  return router;
}
