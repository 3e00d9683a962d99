/**
 * Reading server requests (nova/api/openstack/compute/servers.py, schemas/servers.py query
 * params): GET /servers query parameters into the service's list query, and the body checks
 * JSON Schema cannot express (base64 as Python decodes it, IPv6 in canonical text). Shared by
 * the servers and the server actions routers.
 */
import type { Request } from 'express';
import ipaddr from 'ipaddr.js';
import { badRequest } from '../../errors';
import { ctxOf } from '../../http/auth';
import type { RequestContext } from '../../http/context';
import { allStrings, lastString } from '../../http/query';
import { parseBool } from '../../http/validation';
import type { ComputeServices } from '../services';
import { ListServersQuery, SORT_KEYS } from '../services/server-queries';
import { atLeast, mvOf } from '../microversion';
import { PowerStates } from '../power-state';
import { ALL_STATUSES } from '../status';
import type { ViewOptions } from '../views/servers';

/** What the server views need to know about a request. */
export function serverViewOptions(req: Request, publicUrl: string, compute: Pick<ComputeServices, 'hosts'>): ViewOptions {
  return {
    publicUrl,
    mv: mvOf(req),
    isAdmin: ctxOf(req).isAdmin,
    hostStatus: (h) => compute.hosts.hostStatusOf(h),
  };
}

/** The server's groups as its show, update and rebuild answers carry them (2.71); none asked for below. */
export async function serverGroupsShown(req: Request, compute: Pick<ComputeServices, 'queries'>, id: string): Promise<string[]> {
  return atLeast(req, '2.71') ? compute.queries.serverGroups(id) : [];
}

type Query = Record<string, unknown>;

/** Comma-separated lists (tags filters) or repeated parameters. */
function csv(v: unknown): string[] | undefined {
  const items = allStrings(v).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

/** ISO 8601 as Nova's query schema accepts it ('+' decoded to ' ' is put back). */
export function isoParam(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const v = raw.trim().replace(/ (\d{2}:?\d{2})$/, '+$1');
  const ok = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i.test(v);
  const t = ok ? Date.parse(/T|\s/.test(v) && !/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(v) ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T')) : NaN;
  if (Number.isNaN(t)) throw badRequest(`Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not a 'date-time'`);
  return new Date(t).toISOString();
}

/** IPv6 as Nova stores it: RFC 5952 canonical text. */
export function canonicalV6(v: string | undefined): string | undefined {
  return v === undefined ? undefined : ipaddr.IPv6.parse(v).toRFC5952String();
}

/** Base64 as Python's b64decode accepts it (whitespace ignored). */
export function checkBase64(field: string, v: string | null | undefined): void {
  if (v === undefined || v === null) return;
  const s = v.replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw badRequest(`Invalid input for field/attribute ${field}. Value: ${v.length > 60 ? `${v.slice(0, 60)}…` : v}. '${v.length > 60 ? '…' : v}' is not a 'base64'`);
  }
}

export const toInt = (v: string | number | undefined): number | undefined => (v === undefined ? undefined : Number(v));

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
export function listQuery(req: Request, ctx: RequestContext): ListServersQuery {
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
  for (const k of sortKeys) if (!Object.hasOwn(SORT_KEYS, k)) throw badRequest(`Invalid input for query parameters sort_key. Value: ${k}. '${k}' is not one of the valid sort keys`);
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
      const name = p.toLowerCase();
      const n = /^\d+$/.test(p) ? Number(p) : Object.hasOwn(POWER_NAMES, name) ? POWER_NAMES[name] : undefined;
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

/** OS-DCF:diskConfig (schema-checked AUTO|MANUAL) → auto_disk_config; absent stays absent (helpers.disk_config_from_api). */
export function diskConfigParam(v: unknown): boolean | undefined {
  return v === undefined ? undefined : v === 'AUTO';
}
