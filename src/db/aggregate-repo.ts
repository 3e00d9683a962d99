/**
 * Host aggregates (Nova's API-database `aggregates`, `aggregate_hosts`, `aggregate_metadata`;
 * migration 20261205010000_host_services). An aggregate's availability zone is its
 * `availability_zone` metadata value.
 *
 * Changes go through `change(fn)`: `fn` reads and writes through an AggregateWriter inside one
 * transaction that runs alone among aggregate changes (SQLite: one connection; PostgreSQL: an
 * advisory lock), so a rule decided on what it read ("no host in two zones") still holds when
 * its writes commit.
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from './knex';
import { serialize } from './dialect';
import { now } from '../clock';
import { conflict } from '../errors';

export interface AggregateRecord {
  id: number;
  uuid: string;
  name: string;
  /** Hosts in the order they were added. */
  hosts: string[];
  metadata: Record<string, string>;
  createdAt: string;
  updatedAt: string | null;
}

/** Reads and writes of one aggregate change (see AggregateRepository.change). */
export interface AggregateWriter {
  all(): Promise<AggregateRecord[]>;
  get(id: number): Promise<AggregateRecord | undefined>;
  /** A new aggregate; 409 (Nova's AggregateNameExists) when the name is taken. */
  insert(name: string, metadata: Record<string, string>): Promise<number>;
  /** Renames; 409 when the name is taken by another aggregate. */
  rename(id: number, name: string): Promise<void>;
  /** Sets keys to values and removes the keys whose value is null. */
  updateMetadata(id: number, changes: Record<string, string | null>): Promise<void>;
  addHost(id: number, host: string): Promise<void>;
  /** False when the host was not in the aggregate. */
  removeHost(id: number, host: string): Promise<boolean>;
  /** Marks the aggregate updated now. */
  touch(id: number): Promise<void>;
  delete(id: number): Promise<void>;
}

interface AggregateRow { id: number; uuid: string; name: string; created_at: string; updated_at: string | null }

const nameExists = (name: string) => conflict(`Aggregate ${name} already exists.`);

/** Loads aggregates with their hosts and metadata (all of them, or those with the given ids). */
async function load(k: Knex | Knex.Transaction, ids?: number[]): Promise<AggregateRecord[]> {
  const scope = <Q extends Knex.QueryBuilder>(q: Q, col: string): Q => (ids ? q.whereIn(col, ids) as Q : q);
  const rows = (await scope(k('aggregates').select('*').orderBy('id'), 'id')) as AggregateRow[];
  // No aggregates (most clouds, and on every placement decision): their hosts and metadata could
  // only belong to aggregates this read did not see, which the result leaves out anyway.
  if (rows.length === 0) return [];
  const hosts = (await scope(k('aggregate_hosts').select('aggregate_id', 'host').orderBy('id'), 'aggregate_id')) as { aggregate_id: number; host: string }[];
  const meta = (await scope(k('aggregate_metadata').select('aggregate_id', 'key', 'value').orderBy('key'), 'aggregate_id')) as { aggregate_id: number; key: string; value: string }[];
  const byId = new Map<number, AggregateRecord>();
  for (const r of rows) {
    byId.set(Number(r.id), { id: Number(r.id), uuid: r.uuid, name: r.name, hosts: [], metadata: {}, createdAt: r.created_at, updatedAt: r.updated_at });
  }
  for (const h of hosts) byId.get(Number(h.aggregate_id))?.hosts.push(h.host);
  for (const m of meta) {
    const a = byId.get(Number(m.aggregate_id));
    if (a) a.metadata[m.key] = m.value;
  }
  return [...byId.values()];
}

function writer(trx: Knex.Transaction): AggregateWriter {
  return {
    all: () => load(trx),
    get: async (id) => (await load(trx, [id]))[0],
    insert: async (name, metadata) => {
      if (await trx('aggregates').where({ name }).first()) throw nameExists(name);
      const at = now();
      const [row] = await trx('aggregates').insert({ uuid: crypto.randomUUID(), name, created_at: at, updated_at: null }).returning('id');
      const id = Number(typeof row === 'object' ? (row as { id: number }).id : row);
      const entries = Object.entries(metadata).map(([key, value]) => ({ aggregate_id: id, key, value }));
      if (entries.length) await trx('aggregate_metadata').insert(entries);
      return id;
    },
    rename: async (id, name) => {
      if (await trx('aggregates').where({ name }).whereNot({ id }).first()) throw nameExists(name);
      await trx('aggregates').where({ id }).update({ name });
    },
    updateMetadata: async (id, changes) => {
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) {
          await trx('aggregate_metadata').where({ aggregate_id: id, key }).delete();
        } else {
          await trx('aggregate_metadata').insert({ aggregate_id: id, key, value }).onConflict(['aggregate_id', 'key']).merge(['value']);
        }
      }
    },
    addHost: async (id, host) => {
      await trx('aggregate_hosts').insert({ aggregate_id: id, host });
    },
    removeHost: async (id, host) => (await trx('aggregate_hosts').where({ aggregate_id: id, host }).delete()) > 0,
    touch: async (id) => {
      await trx('aggregates').where({ id }).update({ updated_at: now() });
    },
    delete: async (id) => {
      await trx('aggregate_metadata').where({ aggregate_id: id }).delete();
      await trx('aggregate_hosts').where({ aggregate_id: id }).delete();
      await trx('aggregates').where({ id }).delete();
    },
  };
}

export class AggregateRepository {
  constructor(private readonly db: Db) {}

  /** Every aggregate, by id. */
  all(): Promise<AggregateRecord[]> {
    return load(this.db);
  }

  async get(id: number): Promise<AggregateRecord | undefined> {
    return (await load(this.db, [id]))[0];
  }

  /** Runs `fn` in one transaction, alone among aggregate changes; its writes commit together or not at all. */
  change<T>(fn: (w: AggregateWriter) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await serialize(trx, 'novadock.aggregates');
      return fn(writer(trx));
    });
  }
}
