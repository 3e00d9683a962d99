/**
 * Moves of servers between hosts (Nova's `migrations`). Every status change is a compare-and-set
 * on the status it leaves (`UPDATE … WHERE status IN (…)`): of a confirm and a revert racing for
 * one finished migration, exactly one moves it on.
 */
import type { Db } from './knex';
import { stamp } from '../clock';
import type { MigrationStatus, MigrationType } from '../compute/migration-status';
import type { FlavorSnapshot } from '../compute/server-record';

export interface MigrationRecord {
  id: number;
  uuid: string;
  instance_uuid: string;
  source_compute: string | null;
  dest_compute: string | null;
  source_node: string | null;
  dest_node: string | null;
  dest_host: string | null;
  /** The flavors' integer ids (Nova's instance_types.id). */
  old_instance_type_id: number | null;
  new_instance_type_id: number | null;
  status: MigrationStatus;
  migration_type: MigrationType;
  project_id: string | null;
  user_id: string | null;
  hidden: boolean;
  /** The server's vm_state when the move began (Nova's system_metadata old_vm_state). */
  old_vm_state: string | null;
  created_at: string;
  /** Null until the row is first changed, as Nova's. */
  updated_at: string | null;
  /** A resize's flavors, whole (Nova's instance old_flavor / new_flavor); null for other moves. */
  old_flavor?: FlavorSnapshot | null;
  new_flavor?: FlavorSnapshot | null;
}

export type NewMigration = Omit<MigrationRecord, 'id' | 'created_at' | 'updated_at' | 'hidden'>;

const flavorOf = (v: unknown): FlavorSnapshot | null => (typeof v === 'string' && v ? JSON.parse(v) as FlavorSnapshot : null);

/** Columns a change may write. */
export type MigrationPatch = Partial<Pick<MigrationRecord, 'status' | 'dest_compute' | 'dest_node' | 'dest_host' | 'hidden'>>;

/** os-migrations filters (nova/db/main/api.py migration_get_all_by_filters). */
export interface MigrationFilter {
  status?: string[];
  /** Source or destination. */
  host?: string;
  sourceCompute?: string;
  migrationType?: string;
  hidden?: boolean;
  instanceUuid?: string;
  userId?: string;
  projectId?: string;
  /** updated_at at or after / at or before (ISO). */
  changesSince?: string;
  changesBefore?: string;
}

export interface MigrationPage {
  /** Newest first (created_at, id), as Nova pages from 2.59; otherwise in creation order. */
  sorted: boolean;
  limit?: number;
  /** uuid of the row the page starts after. */
  marker?: string;
}

/** The page's marker names no migration (Nova's MarkerNotFound). */
export class MigrationMarkerNotFound extends Error {
  constructor(readonly marker: string) {
    super(`Marker ${marker} could not be found.`);
    this.name = 'MigrationMarkerNotFound';
  }
}

type Row = Record<string, unknown>;

const toRecord = (r: Row): MigrationRecord => ({
  id: Number(r.id),
  uuid: r.uuid as string,
  instance_uuid: r.instance_uuid as string,
  source_compute: (r.source_compute ?? null) as string | null,
  dest_compute: (r.dest_compute ?? null) as string | null,
  source_node: (r.source_node ?? null) as string | null,
  dest_node: (r.dest_node ?? null) as string | null,
  dest_host: (r.dest_host ?? null) as string | null,
  old_instance_type_id: r.old_instance_type_id === null || r.old_instance_type_id === undefined ? null : Number(r.old_instance_type_id),
  new_instance_type_id: r.new_instance_type_id === null || r.new_instance_type_id === undefined ? null : Number(r.new_instance_type_id),
  status: r.status as MigrationStatus,
  migration_type: r.migration_type as MigrationType,
  project_id: (r.project_id ?? null) as string | null,
  user_id: (r.user_id ?? null) as string | null,
  hidden: Boolean(r.hidden),
  old_vm_state: (r.old_vm_state ?? null) as string | null,
  created_at: r.created_at as string,
  updated_at: (r.updated_at ?? null) as string | null,
  old_flavor: flavorOf(r.old_flavor),
  new_flavor: flavorOf(r.new_flavor),
});

export class MigrationRepository {
  constructor(private readonly db: Db) {}

  async create(m: NewMigration): Promise<MigrationRecord> {
    const created_at = stamp();
    const flavors = { old_flavor: m.old_flavor ? JSON.stringify(m.old_flavor) : null, new_flavor: m.new_flavor ? JSON.stringify(m.new_flavor) : null };
    const [row] = await this.db('migrations').insert({ ...m, ...flavors, hidden: 0, created_at, updated_at: null }).returning('id');
    const id = Number(typeof row === 'object' ? row.id : row);
    return { ...m, id, hidden: false, created_at, updated_at: null };
  }

  async get(id: number): Promise<MigrationRecord | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const row = await this.db('migrations').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  async getByUuid(uuid: string): Promise<MigrationRecord | undefined> {
    const row = await this.db('migrations').where({ uuid }).first();
    return row ? toRecord(row) : undefined;
  }

  /** Compare-and-set: writes `patch` only while the status is one of `from` (any, when absent). */
  async update(id: number, patch: MigrationPatch, from?: readonly MigrationStatus[]): Promise<boolean> {
    const q = this.db('migrations').where({ id });
    if (from) q.whereIn('status', [...from]);
    const cols: Record<string, unknown> = { ...patch, updated_at: stamp() };
    if (patch.hidden !== undefined) cols.hidden = patch.hidden ? 1 : 0;
    return (await q.update(cols)) > 0;
  }

  /** The newest migration of a server in one of `statuses` (of one type, when given). */
  async latest(instanceUuid: string, statuses: readonly MigrationStatus[], type?: MigrationType): Promise<MigrationRecord | undefined> {
    const q = this.db('migrations').where({ instance_uuid: instanceUuid }).whereIn('status', [...statuses]);
    if (type) q.where({ migration_type: type });
    const row = await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
    return row ? toRecord(row) : undefined;
  }

  /** Migrations of servers, in one of `statuses`, that have `host` as source or destination. */
  async involving(host: string, statuses: readonly MigrationStatus[], instanceUuid?: string): Promise<MigrationRecord[]> {
    const q = this.db('migrations').whereIn('status', [...statuses]).andWhere((w) => w.where({ source_compute: host }).orWhere({ dest_compute: host }));
    if (instanceUuid) q.where({ instance_uuid: instanceUuid });
    return (await q.orderBy('id')).map(toRecord);
  }

  /** os-migrations: the rows matching `f`, paged as `page` asks. */
  async list(f: MigrationFilter, page: MigrationPage = { sorted: false }): Promise<MigrationRecord[]> {
    if (page.limit === 0) return [];
    const q = this.db('migrations');
    if (f.status) q.whereIn('status', f.status);
    if (f.host !== undefined) q.where((w) => w.where({ source_compute: f.host }).orWhere({ dest_compute: f.host }));
    else if (f.sourceCompute !== undefined) q.where({ source_compute: f.sourceCompute });
    if (f.migrationType !== undefined) q.where({ migration_type: f.migrationType });
    if (f.hidden !== undefined) q.where({ hidden: f.hidden ? 1 : 0 });
    if (f.instanceUuid !== undefined) q.where({ instance_uuid: f.instanceUuid });
    if (f.userId !== undefined) q.where({ user_id: f.userId });
    if (f.projectId !== undefined) q.where({ project_id: f.projectId });
    if (f.changesSince !== undefined) q.where('updated_at', '>=', f.changesSince);
    if (f.changesBefore !== undefined) q.where('updated_at', '<=', f.changesBefore);
    if (!page.sorted) return (await q.orderBy('id')).map(toRecord);
    if (page.marker !== undefined) {
      const m = await this.getByUuid(page.marker);
      if (!m) throw new MigrationMarkerNotFound(page.marker);
      q.where((w) => w.where('created_at', '<', m.created_at).orWhere((x) => x.where('created_at', '=', m.created_at).andWhere('id', '<', m.id)));
    }
    q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]);
    if (page.limit !== undefined) q.limit(page.limit);
    return (await q).map(toRecord);
  }
}
