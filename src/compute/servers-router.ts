/**
 * /servers and everything under it (nova/api/openstack/compute/servers.py, server_metadata.py,
 * ips.py, instance_actions.py). Each handler: validate → one service call → view + status.
 *
 *   GET    /servers                         list (summary)          GET  /servers/detail   list (detail)
 *   POST   /servers                         create (202)            GET  /servers/{id}     show
 *   PUT    /servers/{id}                    update                  DELETE /servers/{id}   delete (204)
 *   POST   /servers/{id}/action             ACTIONS table below
 *   GET|POST|PUT /servers/{id}/metadata     GET|PUT|DELETE /servers/{id}/metadata/{key}
 *   GET    /servers/{id}/ips                GET  /servers/{id}/ips/{network}
 *   GET    /servers/{id}/os-instance-actions[/{request_id}]
 */
import { Request, Response, Router } from 'express';
import ipaddr from 'ipaddr.js';
import type { Services } from '../compose';
import { handle } from '../http/async';
import { ctxOf } from '../http/auth';
import { methodNotAllowed } from '../http/errors';
import { parseBool, validate } from '../http/validation';
import { allStrings, lastString } from '../http/query';
import { badRequest, forbidden, notFound } from '../errors';
import type { RequestContext } from '../http/context';
import { atLeast } from './microversion';
import { ComputeService, CreateServerRequest, ListServersQuery, NetworkRequest, RebuildRequest, SORT_KEYS } from './compute-service';
import { ALL_STATUSES } from './status';
import { PowerStates } from './power-state';
import { RULES } from './state-rules';
import { defaultSecurityGroup } from './networks';
import {
  ViewOptions, actionView, addressesView, createView, detailView, listView,
} from './views/servers';
import * as schemas from './schemas/servers';
import { toBool } from './schemas/parameter-types';

type Query = Record<string, unknown>;

/** Comma-separated lists (tags filters) or repeated parameters. */
function csv(v: unknown): string[] | undefined {
  const items = allStrings(v).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** ISO 8601 as Nova's query schema accepts it ('+' decoded to ' ' is put back). */
function isoParam(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim().replace(/ (\d{2}:?\d{2})$/, '+$1');
  const ok = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i.test(v);
  const t = ok ? Date.parse(/T|\s/.test(v) && !/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(v) ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T')) : NaN;
  if (Number.isNaN(t)) throw badRequest(`Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not a 'date-time'`);
  return new Date(t).toISOString();
}

/** IPv6 as Nova stores it: RFC 5952 canonical text. */
function canonicalV6(v: string | undefined): string | undefined {
  return v === undefined ? undefined : ipaddr.IPv6.parse(v).toRFC5952String();
}

/** Base64 as Python's b64decode accepts it (whitespace ignored). */
function checkBase64(field: string, v: string | null | undefined): void {
  if (v === undefined || v === null) return;
  const s = v.replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw badRequest(`Invalid input for field/attribute ${field}. Value: ${v.length > 60 ? `${v.slice(0, 60)}…` : v}. '${v.length > 60 ? '…' : v}' is not a 'base64'`);
  }
}

const toInt = (v: string | number | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/** Query parameters Nova knows for the servers list (schemas/servers.py query_params_v275). */
const KNOWN_QUERY = new Set([
  'user_id', 'project_id', 'tenant_id', 'launch_index', 'image_ref', 'image', 'kernel_id', 'ramdisk_id', 'hostname', 'key_name',
  'power_state', 'vm_state', 'task_state', 'host', 'node', 'flavor', 'reservation_id', 'launched_at', 'terminated_at',
  'availability_zone', 'name', 'display_name', 'description', 'display_description', 'locked_by', 'uuid', 'root_device_name',
  'config_drive', 'access_ip_v4', 'access_ip_v6', 'auto_disk_config', 'progress', 'sort_key', 'sort_dir', 'all_tenants',
  'soft_deleted', 'deleted', 'status', 'changes-since', 'changes-before', 'ip', 'ip6', 'tag', 'tag-any', 'not-tag', 'not-tag-any',
  'tags', 'tags-any', 'not-tags', 'not-tags-any', 'limit', 'marker', 'created_at', 'locked', 'pinned_availability_zone',
]);

const POWER_NAMES: Record<string, number> = {
  nostate: PowerStates.NOSTATE, running: PowerStates.RUNNING, paused: PowerStates.PAUSED,
  shutdown: PowerStates.SHUTDOWN, crashed: PowerStates.CRASHED, suspended: PowerStates.SUSPENDED,
};

/** Filters a non-admin may use (servers.py _get_server_search_options); others are dropped. */
function userFilters(req: Request): Set<string> {
  const f = new Set(['reservation_id', 'name', 'status', 'image', 'flavor', 'ip', 'changes-since', 'all_tenants']);
  if (atLeast(req, '2.5')) f.add('ip6');
  if (atLeast(req, '2.26')) ['tags', 'tags-any', 'not-tags', 'not-tags-any'].forEach((x) => f.add(x));
  if (atLeast(req, '2.66')) f.add('changes-before');
  if (atLeast(req, '2.73')) f.add('locked');
  if (atLeast(req, '2.83')) {
    ['availability_zone', 'config_drive', 'key_name', 'created_at', 'launched_at', 'terminated_at', 'power_state', 'task_state', 'vm_state', 'progress', 'user_id']
      .forEach((x) => f.add(x));
  }
  return f;
}

/** Translates GET /servers query parameters into the service's list query. */
function listQuery(req: Request, ctx: RequestContext): ListServersQuery {
  const raw = req.query as Query;
  if (atLeast(req, '2.75')) {
    for (const k of Object.keys(raw)) if (!KNOWN_QUERY.has(k)) throw badRequest(`Invalid input for query parameters ${k}. Additional properties are not allowed ('${k}' was unexpected)`);
  }
  const allowed = ctx.isAdmin ? undefined : userFilters(req);
  const q: Query = {};
  for (const [k, v] of Object.entries(raw)) if (!allowed || allowed.has(k) || ['limit', 'marker', 'sort_key', 'sort_dir'].includes(k)) q[k] = v;

  const out: ListServersQuery = {};
  const limit = lastString(q.limit);
  if (limit !== undefined) {
    if (!/^[0-9]+$/.test(limit)) throw badRequest(`Invalid input for query parameters limit. Value: ${limit}. '${limit}' does not match '^[0-9]*$'`);
    out.limit = Number(limit);
  }
  out.marker = lastString(q.marker);
  const sortKeys = allStrings(q.sort_key);
  const sortDirs = allStrings(q.sort_dir).map((d) => d.toLowerCase());
  for (const k of sortKeys) if (!(k in SORT_KEYS)) throw badRequest(`Invalid input for query parameters sort_key. Value: ${k}. '${k}' is not one of the valid sort keys`);
  for (const d of sortDirs) if (d !== 'asc' && d !== 'desc') throw badRequest(`Invalid input for query parameters sort_dir. Value: ${d}. '${d}' is not one of ['asc', 'desc']`);
  if (sortKeys.length) out.sortKeys = sortKeys;
  if (sortDirs.length) out.sortDirs = sortDirs as ('asc' | 'desc')[];

  if ('all_tenants' in q) {
    const v = lastString(q.all_tenants);
    // NOTE(openstack): `?all_tenants` with no value means true (nova/api/openstack/common.py is_all_tenants).
    out.allTenants = v === undefined || v === '' ? true : parseBool(v, 'all_tenants');
  }
  out.tenantId = lastString(q.tenant_id) ?? lastString(q.project_id);
  out.name = lastString(q.name) ?? lastString(q.display_name);
  const status = allStrings(q.status);
  if (status.length) {
    if (atLeast(req, '2.38') && status.some((s) => !ALL_STATUSES.has(s.toUpperCase()))) throw badRequest('Invalid status value');
    out.status = status;
  }
  out.image = lastString(q.image) ?? lastString(q.image_ref);
  out.flavor = lastString(q.flavor);
  out.ip = lastString(q.ip);
  out.ip6 = lastString(q.ip6);
  out.changesSince = isoParam('changes-since', lastString(q['changes-since']));
  out.changesBefore = isoParam('changes-before', lastString(q['changes-before']));
  if ('deleted' in q) out.deleted = parseBool(lastString(q.deleted) ?? 'true', 'deleted');
  const vm = allStrings(q.vm_state);
  if (vm.length) out.vmState = vm;
  const task = allStrings(q.task_state);
  if (task.length) out.taskState = task;
  const power = allStrings(q.power_state);
  if (power.length) {
    out.powerState = power.map((p) => {
      const n = /^\d+$/.test(p) ? Number(p) : POWER_NAMES[p.toLowerCase()];
      if (n === undefined) throw badRequest(`Invalid input for query parameters power_state. Value: ${p}.`);
      return n;
    });
  }
  out.host = lastString(q.host) ?? lastString(q.node);
  out.availabilityZone = lastString(q.availability_zone);
  out.keyName = lastString(q.key_name);
  out.userId = lastString(q.user_id);
  out.reservationId = lastString(q.reservation_id);
  out.hostname = lastString(q.hostname);
  if ('locked' in q) out.locked = parseBool(lastString(q.locked) ?? '', 'locked');
  out.tags = csv(q.tags ?? q.tag);
  out.tagsAny = csv(q['tags-any'] ?? q['tag-any']);
  out.notTags = csv(q['not-tags'] ?? q['not-tag']);
  out.notTagsAny = csv(q['not-tags-any'] ?? q['not-tag-any']);
  return out;
}

export function serversRouter(services: Services): Router {
  const r = Router();
  const compute: ComputeService = services.compute;
  const publicUrl = services.config.publicUrl;
  const views = (req: Request): ViewOptions => ({
    publicUrl,
    mv: (v) => atLeast(req, v),
    isAdmin: ctxOf(req).isAdmin,
    hostStatus: (h) => compute.hostStatusOf(h),
  });
  /** At 2.21+ instance actions of deleted servers stay readable (instance_actions.py). */
  const actionsWithDeleted = (req: Request) => atLeast(req, '2.21');

  // ---------------------------------------------------------------- collection

  const list = (detailed: boolean) => handle(async (req, res) => {
    const ctx = ctxOf(req);
    const q = listQuery(req, ctx);
    const servers = await compute.list(ctx, q);
    res.json(listView(servers, views(req), detailed, { pageSize: ComputeService.pageSize(q.limit), query: req.query as Query }));
  });
  r.get('/servers', list(false));
  r.get('/servers/detail', list(true));
  r.all(['/servers/detail'], methodNotAllowed());

  r.post('/servers', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const mv = (v: string) => atLeast(req, v);
    const body = validate<{ server: Record<string, unknown> }>(schemas.createServerSchema(mv), req.body);
    const s = body.server as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if ((s.block_device_mapping ?? []).length || (s.block_device_mapping_v2 ?? []).length) {
      throw badRequest('Block device mappings are not supported: servers boot from their docker image only.');
    }
    checkBase64('server/user_data', s.user_data);
    // NOTE(openstack): file injection (personality, < 2.57) is validated as Nova does, then ignored:
    // a container's files come from its image.
    (s.personality as { contents?: string }[] | undefined)?.forEach((p, i) => checkBase64(`server/personality/${i}/contents`, p.contents));
    let availabilityZone = s.availability_zone as string | undefined;
    if (s.host !== undefined || s.hypervisor_hostname !== undefined) {
      if (!ctx.isAdmin) throw forbidden("Policy doesn't allow compute:servers:create:requested_destination to be performed.");
      availabilityZone = `${availabilityZone ?? 'nova'}:${s.host ?? s.hypervisor_hostname}`;
    }
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
      configDrive: s.config_drive === undefined ? undefined : toBool(s.config_drive),
      securityGroups: (s.security_groups as { name: string }[] | undefined)?.map((g) => g.name),
      hostname: s.hostname,
    };
    const result = await compute.create(ctx, create);
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
    const server = await compute.get(ctxOf(req), req.params.id);
    res.json({ server: detailView(server, views(req), 'show') });
  }));

  r.put('/servers/:id', handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.get(ctx, req.params.id);
    const body = validate<{ server: Record<string, any> }>(schemas.updateServerSchema((v) => atLeast(req, v)), req.body); // eslint-disable-line @typescript-eslint/no-explicit-any
    const s = body.server;
    const server = await compute.update(ctx, req.params.id, {
      name: s.name, accessIPv4: s.accessIPv4, accessIPv6: canonicalV6(s.accessIPv6), description: s.description, hostname: s.hostname,
    });
    res.json({ server: detailView(server, views(req), 'update') });
  }));

  r.delete('/servers/:id', handle(async (req, res) => {
    await compute.delete(ctxOf(req), req.params.id);
    res.status(204).end();
  }));
  r.all('/servers/:id', methodNotAllowed());

  // ---------------------------------------------------------------- actions

  type ActionHandler = (req: Request, res: Response, id: string, body: any) => Promise<void>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const accepted = (res: Response) => res.status(202).end();
  /** POST /servers/{id}/action dispatches on the body's single key. */
  const ACTIONS: Record<string, { schema: (req: Request) => object; run: ActionHandler }> = {
    'os-start': { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.start(ctxOf(req), id); accepted(res); } },
    'os-stop': { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.stop(ctxOf(req), id); accepted(res); } },
    reboot: {
      schema: () => schemas.reboot,
      run: async (req, res, id, b) => { await compute.reboot(ctxOf(req), id, String(b.type).toUpperCase() as 'SOFT' | 'HARD'); accepted(res); },
    },
    pause: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.pause(ctxOf(req), id); accepted(res); } },
    unpause: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.unpause(ctxOf(req), id); accepted(res); } },
    suspend: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.suspend(ctxOf(req), id); accepted(res); } },
    resume: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.resume(ctxOf(req), id); accepted(res); } },
    rebuild: {
      schema: (req) => schemas.rebuildSchema((v) => atLeast(req, v)),
      run: async (req, res, id, b) => {
        checkBase64('rebuild/user_data', b.user_data);
        (b.personality as { contents?: string }[] | undefined)?.forEach((p, i) => checkBase64(`rebuild/personality/${i}/contents`, p.contents));
        const rebuild: RebuildRequest = {
          imageRef: b.imageRef, name: b.name, metadata: b.metadata, adminPass: b.adminPass, accessIPv4: b.accessIPv4,
          accessIPv6: canonicalV6(b.accessIPv6), description: b.description, keyName: b.key_name, userData: b.user_data, hostname: b.hostname,
        };
        const { server, adminPass } = await compute.rebuild(ctxOf(req), id, rebuild);
        const view = detailView(server, views(req), 'rebuild');
        view.adminPass = adminPass;
        if (atLeast(req, '2.57')) view.user_data = server.user_data;
        res.status(202).json({ server: view });
      },
    },
    'os-getConsoleOutput': {
      schema: () => schemas.consoleOutput,
      run: async (req, res, id, b) => {
        const raw = b?.length;
        const length = raw === undefined || raw === null ? null : Number(raw);
        res.json({ output: await compute.consoleOutput(ctxOf(req), id, length === -1 ? null : length) });
      },
    },
    createImage: {
      schema: () => schemas.createImage,
      run: async (req, res, id, b) => {
        const image = await compute.createImage(ctxOf(req), id, { name: b.name, metadata: b.metadata });
        if (atLeast(req, '2.45')) {
          res.status(202).json({ image_id: image.id });
          return;
        }
        // NOTE(openstack): Nova answers Location = <image endpoint>/images/<id>; clients (tempest's
        // parse_image_id, the SDK) only read the last path segment. We point at the Glance v2 URL.
        res.setHeader('Location', `${publicUrl}/image/v2/images/${image.id}`);
        accepted(res);
      },
    },
    createBackup: {
      schema: () => schemas.createBackup,
      run: async (req, res, id, b) => {
        const image = await compute.createBackup(ctxOf(req), id, { name: b.name, backupType: b.backup_type, rotation: Number(b.rotation), metadata: b.metadata });
        if (atLeast(req, '2.45')) {
          res.status(202).json({ image_id: image.id });
          return;
        }
        res.setHeader('Location', `${publicUrl}/image/v2/images/${image.id}`);
        accepted(res);
      },
    },
    restore: { schema: () => schemas.noBody, run: async (req, _res, id) => { await compute.restore(ctxOf(req), id); } },
    addSecurityGroup: {
      schema: () => schemas.securityGroupAction,
      run: async (req, res, id, b) => { await compute.changeSecurityGroup(ctxOf(req), id, b.name, 'add'); accepted(res); },
    },
    removeSecurityGroup: {
      schema: () => schemas.securityGroupAction,
      run: async (req, res, id, b) => { await compute.changeSecurityGroup(ctxOf(req), id, b.name, 'remove'); accepted(res); },
    },
    'os-resetState': {
      schema: () => schemas.resetState,
      run: async (req, res, id, b) => { await compute.resetState(ctxOf(req), id, b.state); accepted(res); },
    },
    lock: {
      schema: (req) => (atLeast(req, '2.73') ? schemas.lock273 : schemas.noBody),
      run: async (req, res, id, b) => {
        await compute.lock(ctxOf(req), id, atLeast(req, '2.73') ? b?.locked_reason : undefined);
        accepted(res);
      },
    },
    unlock: { schema: () => schemas.noBody, run: async (req, res, id) => { await compute.unlock(ctxOf(req), id); accepted(res); } },
    forceDelete: {
      schema: () => schemas.noBody,
      run: async (req, res, id) => { await compute.delete(ctxOf(req), id, RULES.forceDelete); accepted(res); },
    },
  };

  /** The server's security groups, in the os-security-groups shape (one "default" per project). */
  r.get('/servers/:id/os-security-groups', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const groups = await compute.securityGroups(ctx, req.params.id);
    res.json({
      security_groups: groups.map((name) => ({ ...defaultSecurityGroup(ctx.projectId), name })),
    });
  }));

  r.post('/servers/:id/action', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const id = req.params.id;
    // NOTE(openstack): tempest expects 404 for an unknown server before the body is looked at.
    await compute.get(ctx, id);
    const body = req.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Malformed request body: the action body must be a JSON object.');
    const keys = Object.keys(body);
    if (keys.length !== 1) throw badRequest(keys.length ? 'Malformed request body: too many body keys' : 'Malformed request body: no action given');
    const action = ACTIONS[keys[0]];
    if (!action) throw badRequest(`There is no such action: ${keys[0]}`);
    const args = validate<{ [k: string]: unknown }>({ type: 'object', properties: { [keys[0]]: action.schema(req) } }, body)[keys[0]];
    await action.run(req, res, id, args);
  }));
  r.all('/servers/:id/action', methodNotAllowed());

  // ---------------------------------------------------------------- metadata

  r.get('/servers/:id/metadata', handle(async (req, res) => {
    res.json({ metadata: await compute.getMetadata(ctxOf(req), req.params.id) });
  }));
  const setAll = (mode: 'merge' | 'replace') => handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.get(ctx, req.params.id);
    const body = validate<{ metadata: Record<string, string> }>(schemas.metadataBody, req.body);
    res.json({ metadata: await compute.setMetadata(ctx, req.params.id, body.metadata, mode) });
  });
  r.post('/servers/:id/metadata', setAll('merge'));
  r.put('/servers/:id/metadata', setAll('replace'));
  r.all('/servers/:id/metadata', methodNotAllowed());

  r.get('/servers/:id/metadata/:key', handle(async (req, res) => {
    const md = await compute.getMetadata(ctxOf(req), req.params.id);
    const key = req.params.key;
    if (!Object.prototype.hasOwnProperty.call(md, key)) throw notFound('Metadata item was not found');
    res.json({ meta: { [key]: md[key] } });
  }));
  r.put('/servers/:id/metadata/:key', handle(async (req, res) => {
    const ctx = ctxOf(req);
    await compute.get(ctx, req.params.id);
    const body = validate<{ meta: Record<string, string> }>(schemas.metaItemBody, req.body);
    const key = req.params.key;
    if (!Object.prototype.hasOwnProperty.call(body.meta, key)) throw badRequest('Request body and URI mismatch');
    await compute.setMetadata(ctx, req.params.id, { [key]: body.meta[key] }, 'merge');
    res.json({ meta: { [key]: body.meta[key] } });
  }));
  r.delete('/servers/:id/metadata/:key', handle(async (req, res) => {
    await compute.deleteMetadataItem(ctxOf(req), req.params.id, req.params.key);
    res.status(204).end();
  }));
  r.all('/servers/:id/metadata/:key', methodNotAllowed());

  // ---------------------------------------------------------------- ips

  r.get('/servers/:id/ips', handle(async (req, res) => {
    const server = await compute.get(ctxOf(req), req.params.id);
    res.json({ addresses: addressesView(server.addresses, false) });
  }));
  r.get('/servers/:id/ips/:network', handle(async (req, res) => {
    const server = await compute.get(ctxOf(req), req.params.id);
    const list = server.addresses[req.params.network];
    if (!list) throw notFound('Instance is not a member of specified network');
    res.json({ [req.params.network]: addressesView({ n: list }, false).n });
  }));
  r.all(['/servers/:id/ips', '/servers/:id/ips/:network'], methodNotAllowed());

  // ---------------------------------------------------------------- instance actions

  r.get('/servers/:id/os-instance-actions', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const list = await compute.listActions(ctx, req.params.id, { withDeleted: actionsWithDeleted(req) });
    res.json({ instanceActions: list.map((a) => actionView(a, views(req), false)) });
  }));
  r.get('/servers/:id/os-instance-actions/:requestId', handle(async (req, res) => {
    const ctx = ctxOf(req);
    const opts = { withDeleted: actionsWithDeleted(req) };
    const a = await compute.getAction(ctx, req.params.id, req.params.requestId, opts);
    const server = await compute.get(ctx, req.params.id, opts);
    res.json({ instanceAction: actionView(a, views(req), true, server) });
  }));
  r.all(['/servers/:id/os-instance-actions', '/servers/:id/os-instance-actions/:requestId'], methodNotAllowed());

  return r;
}
