/**
 * Reads of servers (nova/compute/api.py get, get_all and the instance-action reads): the
 * database answers, never a driver. Another project's server is 404 for non-admins.
 */
import type { RequestContext } from '../../http/context';
import { badRequest, forbidden, msg, notFound } from '../../errors';
import type { ServerRepository } from '../../db/server-repo';
import type { ActionRepository, InstanceActionRecord } from '../../db/action-repo';
import type { ServerRecord } from '../server-record';
import { statusOf } from '../status';
import { filterRegex } from '../safe-regex';
import { UUID_RE, idFromHref } from '../refs';
import { MAX_LIMIT } from '../max-limit';
import type { QuotaUsage } from '../views/limits';

/** What the reads need of server groups. */
export interface GroupReads {
  /** Uuids of the groups a server is in. */
  groupsOf(serverId: string): Promise<string[]>;
  /** Groups a project holds. */
  countInProject(projectId: string): Promise<number>;
}

export interface ListServersQuery {
  /** Admin only: every project (ignored for others). */
  allTenants?: boolean;
  /** Admin only: this project. */
  tenantId?: string;
  name?: string;
  status?: string[];
  image?: string;
  flavor?: string;
  ip?: string;
  ip6?: string;
  changesSince?: string;
  changesBefore?: string;
  /** Admin only: list deleted servers. */
  deleted?: boolean;
  vmState?: string[];
  taskState?: string[];
  powerState?: number[];
  host?: string;
  availabilityZone?: string;
  keyName?: string;
  userId?: string;
  reservationId?: string;
  hostname?: string;
  locked?: boolean;
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
  sortKeys?: string[];
  sortDirs?: ('asc' | 'desc')[];
  /** Page size; 0/undefined = the maximum (1000). */
  limit?: number;
  marker?: string;
}

/** Nova's valid sort keys (schemas/servers.py VALID_SORT_KEYS) → how to read them off a server. */
export const SORT_KEYS: Record<string, (s: ServerRecord) => string | number | null> = {
  access_ip_v4: (s) => s.access_ip_v4,
  access_ip_v6: (s) => s.access_ip_v6,
  auto_disk_config: () => 0,
  availability_zone: (s) => s.availability_zone,
  config_drive: (s) => (s.config_drive ? 1 : 0),
  created_at: (s) => s.created_at,
  display_description: (s) => s.description,
  display_name: (s) => s.name,
  host: (s) => s.host,
  hostname: (s) => s.hostname,
  image_ref: (s) => s.image_id,
  instance_type_id: (s) => s.flavor_id,
  kernel_id: () => '',
  key_name: (s) => s.key_name,
  launch_index: (s) => s.launch_index,
  launched_at: (s) => s.launched_at,
  locked: (s) => (s.locked ? 1 : 0),
  locked_by: (s) => s.locked_by,
  node: (s) => s.host,
  power_state: (s) => s.power_state,
  progress: (s) => s.progress,
  project_id: (s) => s.project_id,
  ramdisk_id: () => '',
  root_device_name: () => null,
  task_state: (s) => s.task_state,
  terminated_at: (s) => s.terminated_at,
  updated_at: (s) => s.updated_at,
  user_id: (s) => s.user_id,
  uuid: (s) => s.id,
  vm_state: (s) => s.vm_state,
};

/** Sort keys only admins may use (Nova: 403 for others). */
export const ADMIN_SORT_KEYS = new Set(['host', 'node']);

export class ServerQueries {
  constructor(private readonly servers: ServerRepository, private readonly actions: ActionRepository, private readonly groups: GroupReads) {}

  /** The server as `ctx` may see it: another project's (for non-admins) and deleted ones are 404. */
  async get(ctx: RequestContext, id: string, opts: { withDeleted?: boolean } = {}): Promise<ServerRecord> {
    const s = UUID_RE.test(id) ? await this.servers.get(id, opts) : undefined;
    if (!s || (!ctx.isAdmin && s.project_id !== ctx.projectId)) throw notFound(msg.instanceNotFound(id));
    return s;
  }

  /** Servers matching Nova's list filters, sorted, one page (marker/limit). */
  async list(ctx: RequestContext, q: ListServersQuery): Promise<ServerRecord[]> {
    let projectId: string | undefined = ctx.projectId;
    if (ctx.isAdmin) {
      if (q.tenantId !== undefined) projectId = q.tenantId;
      else if (q.allTenants) projectId = undefined;
    }
    const includeDeleted = q.changesSince !== undefined || q.changesBefore !== undefined;
    const deleted = ctx.isAdmin && q.deleted === true ? 'only' : includeDeleted ? 'yes' : 'no';
    if (q.changesSince && q.changesBefore && q.changesSince > q.changesBefore) {
      throw badRequest('The value of changes-since must be less than or equal to changes-before.');
    }

    const equals: Record<string, (string | number | null)[]> = {};
    if (q.image !== undefined) equals.image_id = [idFromHref(q.image)];
    if (q.flavor !== undefined) equals.flavor_id = [idFromHref(q.flavor)];
    if (q.vmState) equals.vm_state = q.vmState;
    if (q.taskState) equals.task_state = q.taskState.map((t) => (t.toLowerCase() === 'none' || t === '' ? null : t));
    if (q.powerState) equals.power_state = q.powerState;
    if (q.host !== undefined) equals.host = [q.host];
    if (q.availabilityZone !== undefined) equals.availability_zone = [q.availabilityZone];
    if (q.keyName !== undefined) equals.key_name = [q.keyName];
    if (q.userId !== undefined) equals.user_id = [q.userId];
    if (q.reservationId !== undefined) equals.reservation_id = [q.reservationId];
    if (q.hostname !== undefined) equals.hostname = [q.hostname];

    let rows = await this.servers.list({ projectId, deleted, changesSince: q.changesSince, changesBefore: q.changesBefore, equals });

    if (q.name !== undefined) {
      const re = filterRegex('name', q.name);
      rows = rows.filter((s) => re.test(s.name));
    }
    if (q.status) {
      const wanted = new Set(q.status.map((x) => x.toUpperCase()));
      rows = rows.filter((s) => wanted.has(statusOf(s.vm_state, s.task_state, s.deleted)));
    }
    for (const [field, version] of [['ip', 4], ['ip6', 6]] as const) {
      const pattern = q[field];
      if (pattern === undefined) continue;
      // NOTE(openstack): Nova's _ip_filter uses re.match: the pattern is anchored at the start only.
      const re = filterRegex(field, `^(?:${pattern})`);
      rows = rows.filter((s) => Object.values(s.addresses).some((list) => list.some((a) => a.version === version && re.test(a.addr))));
    }
    if (q.locked !== undefined) rows = rows.filter((s) => s.locked === q.locked);
    if (q.tags) rows = rows.filter((s) => q.tags!.every((t) => s.tags.includes(t)));
    if (q.tagsAny) rows = rows.filter((s) => q.tagsAny!.some((t) => s.tags.includes(t)));
    if (q.notTags) rows = rows.filter((s) => !q.notTags!.every((t) => s.tags.includes(t)));
    if (q.notTagsAny) rows = rows.filter((s) => !q.notTagsAny!.some((t) => s.tags.includes(t)));

    const compare = this.comparator(ctx, q.sortKeys, q.sortDirs);
    rows.sort(compare);

    if (q.marker !== undefined) {
      // NOTE(openstack): Nova looks the marker up among deleted rows too (db api _get_marker reads
      // deleted), so a page after a server deleted meanwhile still loads (Horizon's instance list).
      const m = UUID_RE.test(q.marker) ? await this.servers.get(q.marker, { withDeleted: true }) : undefined;
      if (!m || (projectId !== undefined && m.project_id !== projectId)) throw badRequest(`marker [${q.marker}] not found`);
      rows = rows.filter((s) => compare(s, m) > 0);
    }
    return rows.slice(0, ServerQueries.pageSize(q.limit));
  }

  /** The effective page size of a list request (for servers_links). */
  static pageSize(limit: number | undefined): number {
    // limit=0 is an empty page (Nova's get_limit_and_marker: min(limit, max_limit)), not "no limit".
    return limit !== undefined ? Math.min(limit, MAX_LIMIT) : MAX_LIMIT;
  }

  private comparator(ctx: RequestContext, keys: string[] = [], dirs: ('asc' | 'desc')[] = []): (a: ServerRecord, b: ServerRecord) => number {
    for (const k of keys) {
      if (!Object.hasOwn(SORT_KEYS, k)) throw badRequest(`Invalid sort_key: ${k}`);
      if (ADMIN_SORT_KEYS.has(k) && !ctx.isAdmin) throw forbidden(`Only administrators can sort servers by ${k}`);
    }
    const order: { get: (s: ServerRecord) => string | number | null; sign: number }[] = [];
    const effective = keys.length ? keys : ['created_at'];
    effective.forEach((k, i) => order.push({ get: SORT_KEYS[k], sign: (dirs[i] ?? dirs[dirs.length - 1] ?? 'desc') === 'asc' ? 1 : -1 }));
    // Nova's tie-breakers (created_at, id); a server's sequence orders servers created in the same millisecond.
    const lastSign = order[order.length - 1].sign;
    order.push({ get: SORT_KEYS.created_at, sign: lastSign }, { get: (s) => s.sequence, sign: lastSign });
    return (a, b) => {
      for (const { get, sign } of order) {
        const x = get(a);
        const y = get(b);
        if (x === y) continue;
        // NULLs sort first ascending, as in Nova's databases.
        if (x === null) return -sign;
        if (y === null) return sign;
        return (x < y ? -1 : 1) * sign;
      }
      return 0;
    };
  }

  /** Instances, cores and RAM a project uses (for /limits and quotas). */
  async usage(projectId: string): Promise<{ instances: number; cores: number; ram: number }> {
    return this.servers.usage(projectId);
  }

  /** Everything /limits and os-quota-sets count for a project (or a user's servers in it): servers' usage and the project's server groups. */
  async quotaUsage(projectId: string, userId?: string): Promise<QuotaUsage> {
    const [servers, serverGroups] = await Promise.all([this.servers.usage(projectId, userId), this.groups.countInProject(projectId)]);
    return { ...servers, server_groups: serverGroups };
  }

  /** Uuids of the server groups a server is in (its body's `server_groups`, 2.71). */
  async serverGroups(serverId: string): Promise<string[]> {
    return this.groups.groupsOf(serverId);
  }

  /** Servers (not deleted) recorded on a compute host. */
  async serversOnHost(host: string): Promise<ServerRecord[]> {
    return this.servers.listOnHost(host);
  }

  /** The server's metadata. */
  async getMetadata(ctx: RequestContext, id: string): Promise<Record<string, string>> {
    return (await this.get(ctx, id)).metadata;
  }

  /** The security groups of a server (one per project: "default"; no network service filters traffic). */
  async securityGroups(ctx: RequestContext, id: string): Promise<string[]> {
    return (await this.get(ctx, id)).security_groups;
  }

  async listActions(ctx: RequestContext, id: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceActionRecord[]> {
    await this.get(ctx, id, opts);
    return this.actions.list(id);
  }

  async getAction(ctx: RequestContext, id: string, requestId: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceActionRecord> {
    await this.get(ctx, id, opts);
    const a = await this.actions.get(id, requestId);
    if (!a) throw notFound(`Action for request_id ${requestId} on instance ${id} not found`);
    return a;
  }
}
