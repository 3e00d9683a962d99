/**
 * Flavors: the sizes servers boot with (Nova's API-database `flavors` + `flavor_extra_specs`).
 * Ids are strings (Nova's `flavorid`); the row's rowid (SQLite's implicit one, an explicit serial
 * column on PostgreSQL) plays the part of Nova's internal integer id (creation order, the tiebreaker of every sort and the `id` sort key).
 * Extra specs live in a JSON column and change inside a transaction, so two concurrent writers
 * never lose each other's keys.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from './knex';
import { isConstraintViolation } from './dialect';
import { now } from '../clock';
import type { SeedFlavor } from '../config';
import { badRequest, conflict, msg, notFound } from '../errors';

export interface FlavorRecord {
  id: string;
  name: string;
  /** MiB */
  ram: number;
  vcpus: number;
  /** Root disk, GiB. */
  disk: number;
  /** Ephemeral disk, GiB. */
  ephemeral: number;
  /** MiB; 0 = none. */
  swap: number;
  rxtx_factor: number;
  is_public: boolean;
  disabled: boolean;
  description: string | null;
  extra_specs: Record<string, string>;
  created_at: string;
}

/** What an admin gives to create a flavor (validated by the router): a seed flavor whose id may be left out. */
export type NewFlavor = Omit<SeedFlavor, 'id'> & {
  /** Absent: a new UUID, as Nova generates one. */
  id?: string;
  rxtx_factor?: number;
};

/** Nova's flavor sort keys (API names of the DB columns), mapped to ours. */
export const FLAVOR_SORT_KEYS: Record<string, string> = {
  flavorid: 'id',
  id: 'rowid',
  name: 'name',
  memory_mb: 'ram',
  vcpus: 'vcpus',
  root_gb: 'disk',
  ephemeral_gb: 'ephemeral',
  swap: 'swap',
  rxtx_factor: 'rxtx_factor',
  is_public: 'is_public',
  disabled: 'disabled',
  description: 'description',
  created_at: 'created_at',
  // Never updated in place except the description; Nova sorts NULLs first like any other column.
  updated_at: 'created_at',
};

export interface FlavorQuery {
  /** true: public only; false: private only; null: both (Nova's `is_public=None`). Default true. */
  isPublic?: boolean | null;
  /** Include disabled flavors (admins). Default true. */
  includeDisabled?: boolean;
  /** Only flavors with at least this much RAM (MiB). */
  minRam?: number;
  /** Only flavors with at least this much root disk (GiB). */
  minDisk?: number;
  /** A key of FLAVOR_SORT_KEYS; default 'flavorid'. */
  sortKey?: string;
  sortDir?: 'asc' | 'desc';
  /** Page size; undefined = all. */
  limit?: number;
  /** Flavor id after which the page starts. Unknown → FlavorMarkerNotFound. */
  marker?: string;
  /** With isPublic true: also the private flavors given to this project (Nova's flavor_projects). */
  projectId?: string;
}

/** The list's marker names no flavor the caller can see (Nova's MarkerNotFound → 400). */
export class FlavorMarkerNotFound extends Error {
  constructor(readonly marker: string) {
    super(`marker [${marker}] not found`);
    this.name = 'FlavorMarkerNotFound';
  }
}

/** A row of `flavors`: the record as stored (booleans as 0/1 in SQLite, extra specs as JSON text). */
type FlavorRow = Omit<FlavorRecord, 'is_public' | 'disabled' | 'extra_specs'> & {
  rowid: number;
  is_public: number | boolean;
  disabled: number | boolean;
  extra_specs: string;
};

type Row = FlavorRecord & { rowid: number };

function parseSpecs(text: string): Record<string, string> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

function fromRow(r: FlavorRow): Row {
  return {
    rowid: Number(r.rowid),
    id: r.id,
    name: r.name,
    ram: r.ram,
    vcpus: r.vcpus,
    disk: r.disk,
    ephemeral: r.ephemeral,
    swap: r.swap,
    rxtx_factor: Number(r.rxtx_factor),
    is_public: Boolean(r.is_public),
    disabled: Boolean(r.disabled),
    description: r.description ?? null,
    extra_specs: parseSpecs(r.extra_specs),
    created_at: r.created_at,
  };
}

function strip(r: Row): FlavorRecord {
  const { rowid: _rowid, ...rest } = r;
  return rest;
}

/** Compares by the sort column then by creation order, like Nova's paginate_query. */
function comparator(column: string, dir: 'asc' | 'desc'): (a: Row, b: Row) => number {
  const sign = dir === 'desc' ? -1 : 1;
  return (a, b) => {
    const va = (a as unknown as Record<string, unknown>)[column];
    const vb = (b as unknown as Record<string, unknown>)[column];
    let c = 0;
    if (va !== vb) {
      // NULLs sort first in ascending order (SQLite's and MySQL's rule).
      if (va === null || va === undefined) c = -1;
      else if (vb === null || vb === undefined) c = 1;
      else if (typeof va === 'number' && typeof vb === 'number') c = va - vb;
      else if (typeof va === 'boolean' && typeof vb === 'boolean') c = Number(va) - Number(vb);
      else c = String(va) < String(vb) ? -1 : String(va) > String(vb) ? 1 : 0;
    }
    if (c === 0) c = a.rowid - b.rowid;
    return sign * c;
  };
}

/** Repository over the `flavors` table. Throws DomainError-kinded errors for name/id clashes. */
export class FlavorRepository {
  constructor(private readonly db: Db) {}

  private q(trx?: Knex.Transaction) {
    return (trx ?? this.db)<FlavorRow>('flavors');
  }

  /**
   * Creates or updates the configured flavors. Idempotent across restarts: a seeded id that
   * exists is brought into line with the config (sizes, name, visibility); extra specs and the
   * description are only touched when the config gives them, so an admin's additions survive.
   * A configured name that another flavor id already uses fails start-up with a message that
   * names both (renaming or deleting someone's flavor silently would lose data).
   */
  async seed(flavors: SeedFlavor[]): Promise<void> {
    await this.db.transaction(async (trx) => {
      for (const f of flavors) {
        const byName = await this.q(trx).where({ name: f.name }).first();
        if (byName && byName.id !== f.id) {
          throw new Error(`seed flavor '${f.id}': the name '${f.name}' is already used by flavor '${byName.id}'`);
        }
        const values: Record<string, unknown> = {
          name: f.name,
          ram: f.ram,
          vcpus: f.vcpus,
          disk: f.disk,
          ephemeral: f.ephemeral ?? 0,
          swap: f.swap ?? 0,
          is_public: f.is_public ?? true,
        };
        if (f.description !== undefined) values.description = f.description;
        if (f.extra_specs !== undefined) values.extra_specs = JSON.stringify(f.extra_specs);
        const existing = await this.q(trx).where({ id: f.id }).first();
        if (existing) {
          await this.q(trx).where({ id: f.id }).update(values);
        } else {
          await this.q(trx).insert({
            id: f.id,
            rxtx_factor: 1.0,
            disabled: false,
            description: null,
            extra_specs: '{}',
            created_at: now(),
            ...values,
          });
        }
      }
    });
  }

  /** The row; `lock` (in a transaction) holds it until the transaction ends (PostgreSQL). */
  private async row(id: string, trx?: Knex.Transaction, lock = false): Promise<Row | undefined> {
    const q = this.q(trx).select('rowid', '*').where({ id });
    const r = await (lock ? q.forUpdate() : q).first();
    return r ? fromRow(r as FlavorRow) : undefined;
  }

  /** The flavor with this id, whatever its visibility; undefined when there is none. */
  async get(id: string): Promise<FlavorRecord | undefined> {
    const r = await this.row(id);
    return r ? strip(r) : undefined;
  }

  /** Nova's integer ids of flavors (their rowids), as migrations record old and new flavors, in one read; unknown ids are absent. */
  async internalIds(ids: string[]): Promise<Map<string, number>> {
    const rows: { id: string; rowid: unknown }[] = await this.q().select('id', 'rowid').whereIn('id', [...new Set(ids)]);
    return new Map(rows.map((r) => [r.id, Number(r.rowid)]));
  }

  async getByName(name: string): Promise<FlavorRecord | undefined> {
    const r = await this.q().select('rowid', '*').where({ name }).first();
    return r ? strip(fromRow(r as FlavorRow)) : undefined;
  }

  /**
   * Flavors matching the filters, sorted and paged like Nova's FlavorList.get_all.
   * The set is small (tens of rows), so the page is cut in memory after one filtered query;
   * that keeps the marker semantics exact for every sort key (rows after the marker's position,
   * even if the marker itself is filtered out).
   * Throws FlavorMarkerNotFound for an unknown marker, and a 400 for an unknown sort key or direction.
   */
  async list(query: FlavorQuery = {}): Promise<FlavorRecord[]> {
    const sortKey = query.sortKey ?? 'flavorid';
    const column = FLAVOR_SORT_KEYS[sortKey];
    if (!column) throw badRequest(`Invalid sort_key ${sortKey}. Valid sort keys are: ${Object.keys(FLAVOR_SORT_KEYS).sort().join(', ')}.`);
    const dir = query.sortDir ?? 'asc';
    if (dir !== 'asc' && dir !== 'desc') throw badRequest("Unknown sort direction, must be 'desc' or 'asc'");

    let sql = this.q().select('rowid', '*');
    const isPublic = query.isPublic === undefined ? true : query.isPublic;
    if (isPublic !== null) sql = sql.where(this.visible(isPublic, query.projectId));
    if (query.includeDisabled === false) sql = sql.where('disabled', false);
    if (query.minRam !== undefined) sql = sql.where('ram', '>=', query.minRam);
    if (query.minDisk !== undefined) sql = sql.where('disk', '>=', query.minDisk);
    const rows = ((await sql) as FlavorRow[]).map(fromRow);
    const cmp = comparator(column, dir);
    rows.sort(cmp);

    let start = 0;
    if (query.marker !== undefined) {
      // The marker must be a flavor the caller could list (same visibility rules), as in Nova.
      let m = this.q().select('rowid', '*').where({ id: query.marker });
      if (isPublic !== null) m = m.where(this.visible(isPublic, query.projectId));
      if (query.includeDisabled === false) m = m.where('disabled', false);
      const markerRow = await m.first();
      if (!markerRow) throw new FlavorMarkerNotFound(query.marker);
      const marker = fromRow(markerRow as FlavorRow);
      start = rows.findIndex((r) => cmp(r, marker) > 0);
      if (start < 0) start = rows.length;
    }
    const page = query.limit === undefined ? rows.slice(start) : rows.slice(start, start + query.limit);
    return page.map(strip);
  }

  /**
   * Creates a flavor. 409 (Nova's FlavorIdExists / FlavorExists) when the id or the name is taken;
   * the check and the insert are one transaction, and the table's unique keys back it up.
   */
  async create(f: NewFlavor): Promise<FlavorRecord> {
    const id = f.id ?? crypto.randomUUID();
    const record = {
      id,
      name: f.name,
      ram: f.ram,
      vcpus: f.vcpus,
      disk: f.disk,
      ephemeral: f.ephemeral ?? 0,
      swap: f.swap ?? 0,
      rxtx_factor: f.rxtx_factor ?? 1.0,
      is_public: f.is_public ?? true,
      disabled: false,
      description: f.description ?? null,
      extra_specs: JSON.stringify(f.extra_specs ?? {}),
      created_at: now(),
    };
    try {
      await this.db.transaction(async (trx) => {
        if (await this.q(trx).where({ id }).first()) throw conflict(`Flavor with ID ${id} already exists.`);
        if (await this.q(trx).where({ name: f.name }).first()) throw conflict(`Flavor with name ${f.name} already exists.`);
        await this.q(trx).insert(record);
      });
    } catch (e) {
      if (isConstraintViolation(e)) throw conflict(`Flavor with ID ${id} or name ${f.name} already exists.`);
      throw e;
    }
    return (await this.get(id))!;
  }

  /** Deletes the flavor and its access grants; false when there was none. Servers keep their embedded copy. */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction(async (trx) => {
      await trx('flavor_projects').where({ flavor_id: id }).delete();
      return (await this.q(trx).where({ id }).delete()) > 0;
    });
  }

  /**
   * Nova's is_public filter: public (or private) flavors, and with a project and `true` also the
   * private flavors given to it (db api _flavor_get_all_from_db).
   */
  private visible(isPublic: boolean, projectId: string | undefined) {
    return (w: Knex.QueryBuilder) => {
      w.where('is_public', isPublic);
      if (isPublic && projectId !== undefined) w.orWhereIn('id', this.db('flavor_projects').where({ project_id: projectId }).select('flavor_id'));
    };
  }

  /** Whether the project was given the flavor. */
  async hasAccess(flavorId: string, projectId: string): Promise<boolean> {
    return Boolean(await this.db('flavor_projects').where({ flavor_id: flavorId, project_id: projectId }).first());
  }

  /** The projects given a flavor, in project order. */
  async accessList(flavorId: string): Promise<string[]> {
    return (await this.db('flavor_projects').where({ flavor_id: flavorId }).orderBy('project_id').select('project_id')).map((r: { project_id: string }) => r.project_id);
  }

  /** Grants a project the flavor; false when it already had it (the primary key decides, not a read). */
  async addAccess(flavorId: string, projectId: string): Promise<boolean> {
    const inserted = await this.db('flavor_projects').insert({ flavor_id: flavorId, project_id: projectId }).onConflict(['flavor_id', 'project_id']).ignore().returning('flavor_id');
    return inserted.length > 0;
  }

  /** Withdraws a grant; false when there was none. */
  async removeAccess(flavorId: string, projectId: string): Promise<boolean> {
    return (await this.db('flavor_projects').where({ flavor_id: flavorId, project_id: projectId }).delete()) > 0;
  }

  /** Sets the description (2.55); undefined when there is no such flavor. */
  async updateDescription(id: string, description: string | null): Promise<FlavorRecord | undefined> {
    const n = await this.q().where({ id }).update({ description });
    return n > 0 ? this.get(id) : undefined;
  }

  /** Merges keys into the flavor's extra specs; returns the whole new set. 404 when there is no flavor. */
  async setExtraSpecs(id: string, specs: Record<string, string>): Promise<Record<string, string>> {
    return this.db.transaction(async (trx) => {
      const r = await this.row(id, trx, true);
      if (!r) throw notFound(msg.flavorNotFound(id));
      const merged = { ...r.extra_specs, ...specs };
      await this.q(trx).where({ id }).update({ extra_specs: JSON.stringify(merged) });
      return merged;
    });
  }

  /** Removes one extra spec. 404 when the flavor or the key does not exist (Nova's messages). */
  async deleteExtraSpec(id: string, key: string): Promise<void> {
    await this.db.transaction(async (trx) => {
      const r = await this.row(id, trx, true);
      if (!r) throw notFound(msg.flavorNotFound(id));
      if (!Object.prototype.hasOwnProperty.call(r.extra_specs, key)) {
        throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
      }
      const next = { ...r.extra_specs };
      delete next[key];
      await this.q(trx).where({ id }).update({ extra_specs: JSON.stringify(next) });
    });
  }
}
