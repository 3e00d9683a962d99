/**
 * Servers (Nova's `instances`) in the database. Rows are never rewritten whole: every write names the
 * columns it changes, so a rename and a background state change never undo each other, and every
 * state change is a compare-and-set (`UPDATE … WHERE task_state IS NULL AND vm_state IN (…)`),
 * which is what gives one 202 and N−1 409s to N concurrent conflicting actions.
 *
 * Deleted servers keep their row (`deleted = 1`) for `changes-since` listings and instance actions.
 */
import { stamp } from '../clock';
import type { Knex } from 'knex';
import type { Db } from './knex';
import { dialect, orderBytes, serialize, whereBytes } from './dialect';
import type { ServerRecord, Fault, FlavorSnapshot } from '../compute/server-record';
import type { VmState } from '../compute/vm-states';
import type { TaskState } from '../compute/task-states';
import type { PowerState } from '../compute/power-state';

/** What the service supplies for a new server; the repository adds sequence and timestamps. */
export type NewServer = Omit<ServerRecord, 'sequence' | 'created_at' | 'updated_at' | 'deleted' | 'deleted_at' | 'auto_disk_config'>
  /** Absent = MANUAL (the column's default). */
  & { auto_disk_config?: boolean };

/** Columns a write may change (never id, project, user, sequence, created_at; the flavor only by a resize). */
export type ServerPatch = Partial<Pick<ServerRecord,
  | 'flavor' | 'flavor_id'
  | 'name' | 'vm_state' | 'task_state' | 'power_state' | 'host' | 'availability_zone' | 'hostname' | 'description'
  | 'metadata' | 'addresses' | 'access_ip_v4' | 'access_ip_v6' | 'key_name' | 'key_data' | 'user_data' | 'image_id'
  | 'tags' | 'locked' | 'locked_by' | 'locked_reason' | 'progress' | 'fault' | 'launched_at' | 'terminated_at'
  | 'security_groups' | 'deleted' | 'deleted_at' | 'shelved_at' | 'shelved_image_id' | 'shelved_host' | 'auto_disk_config'>>;

/** The compare part of a compare-and-set; absent = not compared. The row must never be deleted. */
export interface ServerExpectation {
  /** task_state must be one of these (null = "no task"). */
  taskStates?: readonly (TaskState | null)[];
  /** task_state must NOT be one of these (null excluded = must have a task). */
  notTaskStates?: readonly (TaskState | null)[];
  vmStates?: readonly VmState[];
  /** launched_at must be set. */
  launched?: boolean;
  /** updated_at must still be this (nothing changed since it was read). */
  updatedAt?: string;
}

export interface QuotaLimits { instances: number; cores: number; ram: number }
export interface Usage { instances: number; cores: number; ram: number }

export type QuotaResource = keyof QuotaLimits;

export type InsertResult =
  | { ok: true; servers: ServerRecord[] }
  | { ok: false; resource: QuotaResource; requested: number; used: number; allowed: number };

/** Row filters done in SQL; the service does the rest (regexes, statuses, sorting, paging). */
export interface ServerQuery {
  /** Only this project; undefined = every project (admin with all_tenants). */
  projectId?: string;
  /** 'no' (default), 'yes' (changes-since/before include deleted servers), 'only'. */
  deleted?: 'no' | 'yes' | 'only';
  changesSince?: string;
  changesBefore?: string;
  /** Exact matches on plain columns: any of the values. */
  equals?: Partial<Record<EqualsColumn, (string | number | null)[]>>;
}

export type EqualsColumn = 'image_id' | 'flavor_id' | 'vm_state' | 'task_state' | 'power_state' | 'host' | 'availability_zone'
  | 'key_name' | 'user_id' | 'reservation_id' | 'hostname' | 'project_id';

interface ServerRow {
  [k: string]: unknown;
}

const JSON_COLUMNS = ['flavor', 'metadata', 'addresses', 'requested_networks', 'security_groups', 'tags', 'fault'] as const;
const BOOL_COLUMNS = ['config_drive', 'locked', 'deleted', 'auto_disk_config'] as const;

// Rows are stamped with the strictly increasing clock (src/clock.ts stamp): two writes never share
// an updated_at, so a compare on updated_at proves that nothing changed in between.

const json = <T>(v: unknown, dflt: T): T => (v === null || v === undefined ? dflt : JSON.parse(v as string));

/** Row → record, built field by field (one object shape: listing 1,000 servers stays fast). */
function toRecord(r: ServerRow): ServerRecord {
  return {
    id: r.id as string,
    name: r.name as string,
    project_id: r.project_id as string,
    user_id: r.user_id as string,
    image_id: r.image_id as string | null,
    flavor_id: r.flavor_id as string,
    flavor: json(r.flavor, {} as FlavorSnapshot),
    vm_state: r.vm_state as ServerRecord['vm_state'],
    task_state: r.task_state as ServerRecord['task_state'],
    power_state: r.power_state as PowerState,
    host: r.host as string | null,
    availability_zone: r.availability_zone as string,
    sequence: r.sequence as number,
    reservation_id: r.reservation_id as string,
    launch_index: r.launch_index as number,
    hostname: r.hostname as string,
    description: r.description as string | null,
    metadata: json(r.metadata, {}),
    addresses: json(r.addresses, {}),
    requested_networks: json(r.requested_networks, 'auto' as const),
    access_ip_v4: r.access_ip_v4 as string,
    access_ip_v6: r.access_ip_v6 as string,
    key_name: r.key_name as string | null,
    key_data: r.key_data as string | null,
    user_data: r.user_data as string | null,
    config_drive: Boolean(r.config_drive),
    auto_disk_config: Boolean(r.auto_disk_config),
    security_groups: json(r.security_groups, []),
    tags: json(r.tags, []),
    locked: Boolean(r.locked),
    locked_by: r.locked_by as ServerRecord['locked_by'],
    locked_reason: r.locked_reason as string | null,
    progress: r.progress as number,
    fault: json<Fault | null>(r.fault, null),
    launched_at: r.launched_at as string | null,
    terminated_at: r.terminated_at as string | null,
    created_at: r.created_at as string,
    updated_at: r.updated_at as string,
    deleted_at: r.deleted_at as string | null,
    deleted: Boolean(r.deleted),
    task_owner: (r.task_owner ?? null) as string | null,
    shelved_at: (r.shelved_at ?? null) as string | null,
    shelved_image_id: (r.shelved_image_id ?? null) as string | null,
    shelved_host: (r.shelved_host ?? null) as string | null,
  };
}

function toColumns(patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if ((JSON_COLUMNS as readonly string[]).includes(k)) out[k] = v === null ? null : JSON.stringify(v);
    else if ((BOOL_COLUMNS as readonly string[]).includes(k)) out[k] = v ? 1 : 0;
    else out[k] = v;
  }
  return out;
}

function inList<T extends string | number>(q: Knex.QueryBuilder, column: string, values: readonly (T | null)[], negate = false): void {
  const nonNull = values.filter((v): v is T => v !== null);
  const withNull = values.includes(null);
  if (!negate) {
    q.where((w) => {
      if (nonNull.length) w.orWhereIn(column, nonNull as never[]);
      if (withNull) w.orWhereNull(column);
      if (!nonNull.length && !withNull) w.whereRaw('1 = 0');
    });
  } else {
    if (nonNull.length) q.where((w) => w.whereNotIn(column, nonNull as never[]).orWhereNull(column));
    if (withNull) q.whereNotNull(column);
  }
}

/** Records kept by list(); beyond this many the cache starts afresh. */
const CACHE_LIMIT = 20_000;

export class ServerRepository {
  private readonly cache = new Map<string, ServerRecord>();

  /**
   * `owner`: this process's worker id, recorded as `task_owner` by every write that sets a state,
   * so that another process recovers a task only when the process doing it is dead.
   */
  constructor(private readonly db: Db, private readonly owner: string | null = null) {}

  /** The patch's columns, plus who made the change when it sets a state. */
  private columns(patch: ServerPatch): Record<string, unknown> {
    const cols = toColumns(patch as Record<string, unknown>);
    if (patch.task_state !== undefined || patch.vm_state !== undefined) cols.task_owner = this.owner;
    return cols;
  }

  /**
   * Inserts as many of `servers` as the quota allows (at least `minCount`, Nova's multiple-create
   * rule), in one transaction with the usage count, so concurrent creates cannot both squeeze
   * under the limit. Sequences (instance-%08x names) are allocated in the same transaction.
   * On PostgreSQL creates take turns (an advisory lock) from the count on: the count is about
   * rows that do not exist yet, and the sequence row may not exist either.
   */
  async insertWithinQuota(servers: NewServer[], minCount: number, limits: QuotaLimits): Promise<InsertResult> {
    return this.db.transaction(async (tx) => {
      await serialize(tx, 'novadock.servers.insert');
      const projectId = servers[0].project_id;
      const used = await this.usageIn(tx, projectId);
      const per = { instances: 1, cores: servers[0].flavor.vcpus, ram: servers[0].flavor.ram };
      let allowedCount = servers.length;
      for (const r of ['instances', 'cores', 'ram'] as const) {
        if (limits[r] < 0 || per[r] === 0) continue;
        allowedCount = Math.min(allowedCount, Math.floor(Math.max(0, limits[r] - used[r]) / per[r]));
      }
      if (allowedCount < minCount) {
        for (const r of ['instances', 'cores', 'ram'] as const) {
          if (limits[r] >= 0 && used[r] + per[r] * minCount > limits[r]) {
            return { ok: false as const, resource: r, requested: per[r] * minCount, used: used[r], allowed: limits[r] };
          }
        }
      }
      const chosen = servers.slice(0, allowedCount);
      const seqRow = await tx('sequences').where({ name: 'instance' }).first();
      let next = seqRow ? Number(seqRow.value) : 0;
      if (!seqRow) await tx('sequences').insert({ name: 'instance', value: 0 });
      const created: ServerRecord[] = [];
      for (const s of chosen) {
        next += 1;
        const ts = stamp();
        const rec: ServerRecord = { ...s, auto_disk_config: s.auto_disk_config ?? false, sequence: next, created_at: ts, updated_at: ts, deleted: false, deleted_at: null };
        await tx('servers').insert({ ...toColumns(rec as unknown as Record<string, unknown>), task_owner: this.owner });
        rec.task_owner = this.owner;
        created.push(rec);
      }
      await tx('sequences').where({ name: 'instance' }).update({ value: next });
      return { ok: true as const, servers: created };
    });
  }

  /** Whether this database has ever had a server of the project (deleted ones included). */
  async projectKnown(projectId: string): Promise<boolean> {
    return (await this.db('servers').where({ project_id: projectId }).first('id')) !== undefined;
  }

  async get(id: string, opts: { withDeleted?: boolean } = {}): Promise<ServerRecord | undefined> {
    const q = this.db('servers').where({ id });
    if (!opts.withDeleted) q.andWhere({ deleted: 0 });
    const row = await q.first();
    return row ? toRecord(row) : undefined;
  }

  /**
   * Rows matching `query`, in no particular order. Records come from a cache validated by
   * updated_at (every write stamps a new one), so listing 1,000 unchanged servers reads two
   * columns instead of forty. The records are shared: callers must not mutate them.
   */
  /** Ids of servers not deleted that no port names as its device (made before the network service). */
  async withoutPorts(): Promise<string[]> {
    return this.db('servers').where({ deleted: 0 }).whereNotIn('id', this.db('ports').select('device_id')).pluck('id');
  }

  async list(query: ServerQuery = {}): Promise<ServerRecord[]> {
    const q = this.db('servers').select('id', 'updated_at');
    if (query.projectId !== undefined) q.where({ project_id: query.projectId });
    const deleted = query.deleted ?? 'no';
    if (deleted === 'no') q.where({ deleted: 0 });
    else if (deleted === 'only') q.where({ deleted: 1 });
    if (query.changesSince) q.where('updated_at', '>=', query.changesSince);
    if (query.changesBefore) q.where('updated_at', '<=', query.changesBefore);
    for (const [col, values] of Object.entries(query.equals ?? {})) {
      if (values) inList(q, col, values as (string | number | null)[]);
    }
    const keys: { id: string; updated_at: string }[] = await q;
    const out: ServerRecord[] = [];
    const missing: string[] = [];
    for (const k of keys) {
      const cached = this.cache.get(k.id);
      if (cached && cached.updated_at === k.updated_at) out.push(cached);
      else missing.push(k.id);
    }
    if (this.cache.size + missing.length > CACHE_LIMIT) this.cache.clear();
    for (let i = 0; i < missing.length; i += 500) {
      for (const row of await this.db('servers').whereIn('id', missing.slice(i, i + 500))) {
        const rec = toRecord(row);
        this.cache.set(rec.id, rec);
        out.push(rec);
      }
    }
    return out;
  }

  /** Servers (not deleted) whose home is this compute host. */
  async listOnHost(host: string): Promise<ServerRecord[]> {
    return (await this.db('servers').where({ host, deleted: 0 })).map(toRecord);
  }

  /** Servers (not deleted) with a task in flight or still building: what a crash can interrupt. */
  async listUnsettled(): Promise<ServerRecord[]> {
    return (await this.db('servers').where({ deleted: 0 }).andWhere((w) => w.whereNotNull('task_state').orWhere({ vm_state: 'building' }))).map(toRecord);
  }

  /** Ids of every server row, deleted or not, among `ids` (for orphan detection). */
  async liveIds(ids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db('servers').whereIn('id', ids.slice(i, i + 500)).andWhere({ deleted: 0 }).select('id');
      for (const r of rows) out.add(r.id as string);
    }
    return out;
  }

  /**
   * Compare-and-set: writes `patch` (and a fresh updated_at) only if the row is not deleted and
   * matches `expect`. True when a row changed.
   */
  async update(id: string, patch: ServerPatch, expect: ServerExpectation = {}): Promise<boolean> {
    const n = await this.matching(id, expect).update({ ...this.columns(patch), updated_at: stamp() });
    return n > 0;
  }

  /**
   * update, resolving to the row as written (undefined when nothing matched): one statement
   * (RETURNING) where a compare-and-set followed by get would take two.
   */
  async updated(id: string, patch: ServerPatch, expect: ServerExpectation = {}): Promise<ServerRecord | undefined> {
    const rows = await this.matching(id, expect).update({ ...this.columns(patch), updated_at: stamp() }).returning('*');
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** The row `id`, not deleted, as `expect` wants it. */
  private matching(id: string, expect: ServerExpectation): Knex.QueryBuilder {
    const q = this.db('servers').where({ id, deleted: 0 });
    if (expect.taskStates) inList(q, 'task_state', expect.taskStates);
    if (expect.notTaskStates) inList(q, 'task_state', expect.notTaskStates, true);
    if (expect.vmStates) inList(q, 'vm_state', expect.vmStates);
    if (expect.launched) q.whereNotNull('launched_at');
    if (expect.updatedAt !== undefined) q.where({ updated_at: expect.updatedAt });
    return q;
  }

  /**
   * Read-modify-write in one transaction, the row locked (SQLite: the only connection is held;
   * PostgreSQL: FOR UPDATE), so concurrent callers queue: `fn` sees the current row and returns the columns to write, or throws to refuse.
   * Resolves with the row as written, or undefined when there is no such (undeleted) server.
   */
  async mutate(id: string, fn: (current: ServerRecord) => ServerPatch): Promise<ServerRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const row = await tx('servers').where({ id, deleted: 0 }).forUpdate().first();
      if (!row) return undefined;
      const current = toRecord(row);
      const patch = fn(current);
      const updated_at = stamp();
      const cols = this.columns(patch);
      await tx('servers').where({ id }).update({ ...cols, updated_at });
      return { ...current, ...patch, updated_at, task_owner: 'task_owner' in cols ? this.owner : current.task_owner };
    });
  }

  /** Instances, cores and RAM held by a project's servers that are not deleted. */
  /** What the project's servers (or one user's among them) hold. */
  async usage(projectId: string, userId?: string): Promise<Usage> {
    return this.usageIn(this.db, projectId, userId);
  }

  private async usageIn(k: Knex | Knex.Transaction, projectId: string, userId?: string): Promise<Usage> {
    const of = userId === undefined ? { project_id: projectId, deleted: 0 } : { project_id: projectId, user_id: userId, deleted: 0 };
    if (dialect(k) === 'postgres') {
      // The embedded flavor is JSON text that jsonb may refuse (a \u0000 or a lone surrogate in
      // a name or an extra spec): add it up here. A project holds at most its quota of servers.
      const flavors: { flavor: string }[] = await k('servers').where(of).select('flavor');
      const usage = { instances: flavors.length, cores: 0, ram: 0 };
      for (const { flavor } of flavors) {
        const f = json<Partial<FlavorSnapshot>>(flavor, {});
        usage.cores += Number(f.vcpus ?? 0);
        usage.ram += Number(f.ram ?? 0);
      }
      return usage;
    }
    const row = await k('servers')
      .where(of)
      .select(k.raw('count(*) as instances'), k.raw("coalesce(sum(json_extract(flavor, '$.vcpus')), 0) as cores"), k.raw("coalesce(sum(json_extract(flavor, '$.ram')), 0) as ram"))
      .first();
    return { instances: Number(row?.instances ?? 0), cores: Number(row?.cores ?? 0), ram: Number(row?.ram ?? 0) };
  }

  // ------------------------------------------------------------------ os-simple-tenant-usage (issue 15)

  /**
   * Servers, deleted ones included, that ran during [begin, end) (Nova's
   * instance_get_active_by_window_joined): launched before `end` and not terminated by `begin`
   * (never launched: none). Ordered by project then id, a page of `limit` after `marker` (any
   * server's id, deleted or not; unknown: undefined).
   */
  async activeInWindow(begin: string, end: string, page: { projectId?: string; limit: number; marker?: string }): Promise<ServerRecord[] | undefined> {
    const q = this.db('servers').whereNotNull('launched_at').andWhere('launched_at', '<', end)
      .andWhere((w) => w.whereNull('terminated_at').orWhere('terminated_at', '>', begin));
    if (page.projectId !== undefined) q.andWhere({ project_id: page.projectId });
    if (page.marker !== undefined) {
      const m = await this.db('servers').where({ id: page.marker }).first('project_id', 'id');
      if (!m) return undefined;
      q.andWhere((w) => whereBytes(w, 'project_id', '>', m.project_id).orWhere((x) => whereBytes(x.where({ project_id: m.project_id }), 'id', '>', m.id)));
    }
    return ((await orderBytes(orderBytes(q, 'project_id'), 'id').limit(page.limit)) as ServerRow[]).map(toRecord);
  }

  // ------------------------------------------------------------------ metrics (issue 18)

  /** How many servers (not deleted) are in each vm_state and task_state, for a scrape. */
  async countByState(): Promise<{ vm_state: string; task_state: string | null; count: number }[]> {
    const rows = await this.db('servers').where({ deleted: 0 }).groupBy('vm_state', 'task_state')
      .select('vm_state', 'task_state', this.db.raw('count(*) as n'));
    return rows.map((r: { vm_state: string; task_state: string | null; n: number | string }) => ({ vm_state: r.vm_state, task_state: r.task_state, count: Number(r.n) }));
  }
}
