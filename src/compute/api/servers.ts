/**
 * /servers and everything under it but actions (nova/api/openstack/compute/servers.py,
 * server_metadata.py, ips.py, instance_actions.py, security_groups.py). Each handler:
 * validate → one service call → view + status. POST /servers/{id}/action: server-actions.ts.
 *
 *   GET    /servers                         list (summary)          GET  /servers/detail   list (detail)
 *   POST   /servers                         create (202)            GET  /servers/{id}     show
 *   PUT    /servers/{id}                    update                  DELETE /servers/{id}   delete (204)
 *   GET|POST|PUT /servers/{id}/metadata     GET|PUT|DELETE /servers/{id}/metadata/{key}
 *   GET    /servers/{id}/ips                GET  /servers/{id}/ips/{network}
 *   GET    /servers/{id}/os-instance-actions[/{request_id}]
 *   GET    /servers/{id}/os-security-groups
 */
import { Request, Router } from 'express';
import { badRequest, forbidden, notFound } from '../../errors';
import { handle } from '../../http/async';
import { ctxOf } from '../../http/auth';
import { methodNotAllowed } from '../../http/errors';
import { validate } from '../../http/validation';
import type { ComputeServices } from '../services';
import type { CreateServerRequest, NetworkRequest } from '../services/boot';
import { ServerQueries } from '../services/server-queries';
import { atLeast, mvOf } from '../microversion';
import { defaultSecurityGroup } from '../networks';
import { actionView, addressesView, createView, detailView, listView } from '../views/servers';
import * as schemas from '../schemas/servers';
import { toBool } from '../schemas/parameter-types';
import { canonicalV6, checkBase64, diskConfigParam, listQuery, serverGroupsShown, serverViewOptions, toInt } from './server-requests';

type Query = Record<string, unknown>;

export interface ServersRouterDeps {
  compute: Pick<ComputeServices, 'queries' | 'boot' | 'updates' | 'deleter' | 'hosts'>;
  /** Base of the absolute links and of Location. */
  publicUrl: string;
}

export function serversRouter({ compute, publicUrl }: ServersRouterDeps): Router {
  const r = Router();
  const views = (req: Request) => serverViewOptions(req, publicUrl, compute);
  /** At 2.21+ instance actions of deleted servers stay readable (instance_actions.py). */
  const actionsWithDeleted = (req: Request) => atLeast(req, '2.21');

  // ---------------------------------------------------------------- collection

  const list = (detailed: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const q = listQuery(req, ctx);
    const servers = await compute.queries.list(ctx, q);
    res.json(listView(servers, views(req), detailed, { pageSize: ServerQueries.pageSize(q.limit), query: req.query as Query }));
  });
  r.get('/servers', list(false));
  r.get('/servers/detail', list(true));
  r.all(['/servers/detail'], methodNotAllowed());

  r.post('/servers', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const mv = mvOf(req);
    const body = validate<{ server: Record<string, unknown>; 'os:scheduler_hints'?: unknown; 'OS-SCH-HNT:scheduler_hints'?: unknown }>(schemas.createServerSchema(mv), req.body);
    const s = body.server as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if ((s.block_device_mapping ?? []).length || (s.block_device_mapping_v2 ?? []).length) {
      throw badRequest('Block device mappings are not supported: servers boot from their docker image only.');
    }
    checkBase64('server/user_data', s.user_data);
    // NOTE(openstack): file injection (personality, < 2.57) is validated as Nova does, then ignored:
    // a container's files come from its image.
    (s.personality as { contents?: string }[] | undefined)?.forEach((p, i) => checkBase64(`server/personality/${i}/contents`, p.contents));
    const availabilityZone = s.availability_zone as string | undefined;
    if (s.host !== undefined || s.hypervisor_hostname !== undefined) {
      if (!ctx.isAdmin) throw forbidden("Policy doesn't allow compute:servers:create:requested_destination to be performed.");
      if (availabilityZone?.includes(':')) {
        throw badRequest('One mechanism with host and/or hypervisor_hostname and another mechanism with zone:host:node are mutually exclusive.');
      }
    }
    const hints = (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints']) as { group?: string | string[] } | undefined;
    const minCount = toInt(s.min_count) ?? 1;
    const maxCount = toInt(s.max_count) ?? minCount;
    const create: CreateServerRequest = {
      name: s.name,
      imageRef: s.imageRef ?? '',
      flavorRef: String(s.flavorRef),
      metadata: s.metadata,
      networks: s.networks as NetworkRequest | undefined,
      availabilityZone,
      accessIPv4: s.accessIPv4,
      accessIPv6: canonicalV6(s.accessIPv6),
      adminPass: s.adminPass,
      minCount,
      maxCount,
      userData: s.user_data,
      keyName: s.key_name,
      description: s.description,
      tags: s.tags,
      autoDiskConfig: diskConfigParam(s['OS-DCF:diskConfig']),
      configDrive: s.config_drive === undefined ? undefined : toBool(s.config_drive),
      securityGroups: (s.security_groups as { name: string }[] | undefined)?.map((g) => g.name),
      hostname: s.hostname,
      requestedHost: s.host,
      requestedHypervisorHostname: s.hypervisor_hostname,
      group: Array.isArray(hints?.group) ? hints.group[0] : hints?.group,
    };
    const result = await compute.boot.create(ctx, create);
    const first = result.servers[0];
    if (s.return_reservation_id !== undefined && toBool(s.return_reservation_id)) {
      res.status(202).json({ reservation_id: result.reservationId });
      return;
    }
    res.setHeader('Location', `${publicUrl}/compute/v2.1/servers/${first.id}`);
    res.status(202).json(createView(first, result.adminPass, views(req)));
  }));
  r.all('/servers', methodNotAllowed());

  // ---------------------------------------------------------------- one server

  r.get('/servers/:id', handle(async (req, res) => {
    const server = await compute.queries.get(ctxOf(req), req.params.id);
    res.json({ server: detailView(server, views(req), 'show', await serverGroupsShown(req, compute, server.id)) });
  }));

  r.put('/servers/:id', handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.queries.get(ctx, req.params.id);
    const body = validate<{ server: Record<string, any> }>(schemas.updateServerSchema(mvOf(req)), req.body); // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = body.server;
    const server = await compute.updates.update(ctx, req.params.id, {
      name: s.name, accessIPv4: s.accessIPv4, accessIPv6: canonicalV6(s.accessIPv6), description: s.description, hostname: s.hostname,
      autoDiskConfig: diskConfigParam(s['OS-DCF:diskConfig']),
    });
    res.json({ server: detailView(server, views(req), 'update', await serverGroupsShown(req, compute, server.id)) });
  }));

  r.delete('/servers/:id', handle(async (req, res) => {
    await compute.deleter.delete(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/servers/:id', methodNotAllowed());

  // ---------------------------------------------------------------- metadata

  r.get('/servers/:id/metadata', handle(async (req, res) => {
    res.json({ metadata: await compute.queries.getMetadata(ctxOf(req), req.params.id) });
  }));
  const setAll = (mode: 'merge' | 'replace') => handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.queries.get(ctx, req.params.id);
    const body = validate<{ metadata: Record<string, string> }>(schemas.metadataBody, req.body);
    res.json({ metadata: await compute.updates.setMetadata(ctx, req.params.id, body.metadata, mode) });
  });
  r.post('/servers/:id/metadata', setAll('merge'));
  r.put('/servers/:id/metadata', setAll('replace'));
  r.all('/servers/:id/metadata', methodNotAllowed());

  r.get('/servers/:id/metadata/:key', handle(async (req, res) => {
    const md = await compute.queries.getMetadata(ctxOf(req), req.params.id);
    const key = req.params.key;
    if (!Object.prototype.hasOwnProperty.call(md, key)) throw notFound('Metadata item was not found');
    res.json({ meta: { [key]: md[key] } });
  }));
  r.put('/servers/:id/metadata/:key', handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.queries.get(ctx, req.params.id);
    const body = validate<{ meta: Record<string, string> }>(schemas.metaItemBody, req.body);
    const key = req.params.key;
    if (!Object.prototype.hasOwnProperty.call(body.meta, key)) throw badRequest('Request body and URI mismatch');
    await compute.updates.setMetadata(ctx, req.params.id, { [key]: body.meta[key] }, 'merge');
    res.json({ meta: { [key]: body.meta[key] } });
  }));
  r.delete('/servers/:id/metadata/:key', handle(async (req, res) => {
    await compute.updates.deleteMetadataItem(ctxOf(req), req.params.id, req.params.key);
    res.status(204).end();
  }));
  r.all('/servers/:id/metadata/:key', methodNotAllowed());

  // ---------------------------------------------------------------- ips

  r.get('/servers/:id/ips', handle(async (req, res) => {
    const server = await compute.queries.get(ctxOf(req), req.params.id);
    res.json({ addresses: addressesView(server.addresses, false) });
  }));
  r.get('/servers/:id/ips/:network', handle(async (req, res) => {
    const server = await compute.queries.get(ctxOf(req), req.params.id);
    const list = server.addresses[req.params.network];
    if (!list) throw notFound('Instance is not a member of specified network');
    res.json({ [req.params.network]: addressesView({ n: list }, false).n });
  }));
  r.all(['/servers/:id/ips', '/servers/:id/ips/:network'], methodNotAllowed());

  // ---------------------------------------------------------------- instance actions

  r.get('/servers/:id/os-instance-actions', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const list = await compute.queries.listActions(ctx, req.params.id, { withDeleted: actionsWithDeleted(req) });
    res.json({ instanceActions: list.map((a) => actionView(a, views(req), false)) });
  }));
  r.get('/servers/:id/os-instance-actions/:requestId', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const opts = { withDeleted: actionsWithDeleted(req) };
    const a = await compute.queries.getAction(ctx, req.params.id, req.params.requestId, opts);
    const server = await compute.queries.get(ctx, req.params.id, opts);
    res.json({ instanceAction: actionView(a, views(req), true, server) });
  }));
  r.all(['/servers/:id/os-instance-actions', '/servers/:id/os-instance-actions/:requestId'], methodNotAllowed());

  // ---------------------------------------------------------------- security groups

  /** The server's security groups, in the os-security-groups shape (one "default" per project). */
  r.get('/servers/:id/os-security-groups', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const groups = await compute.queries.securityGroups(ctx, req.params.id);
    res.json({
      security_groups: groups.map((name) => ({ ...defaultSecurityGroup(ctx.projectId), name })),
    });
  }));

  return r;
}
