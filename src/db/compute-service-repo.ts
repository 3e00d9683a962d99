/**
 * What an admin set on each host's nova-compute service (migration 20261205010000_host_services):
 * disabled, its reason, forced_down. A host without a row has never been changed: enabled, not
 * forced down. Each update writes the fields it names in one upsert, so two admins changing
 * different fields of one host never undo each other.
 */
import type { Db } from './knex';
import { now } from '../clock';

export interface ComputeServiceRecord {
  host: string;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  createdAt: string;
  /** When an admin last changed the service (ISO), null when never. */
  updatedAt: string | null;
}

/** The fields an update sets; those left out keep their value. */
export interface ComputeServiceChanges {
  disabled?: boolean;
  disabledReason?: string | null;
  forcedDown?: boolean;
}

interface Row {
  host: string;
  disabled: boolean | number;
  disabled_reason: string | null;
  forced_down: boolean | number;
  created_at: string;
  updated_at: string | null;
}

const fromRow = (r: Row): ComputeServiceRecord => ({
  host: r.host,
  // SQLite stores booleans as 0/1.
  disabled: Boolean(r.disabled),
  disabledReason: r.disabled_reason,
  forcedDown: Boolean(r.forced_down),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class ComputeServiceRepository {
  constructor(private readonly db: Db) {}

  /** Every row (hosts an admin changed), by host. */
  async all(): Promise<ComputeServiceRecord[]> {
    return ((await this.db<Row>('compute_services').select('*').orderBy('host')) as Row[]).map(fromRow);
  }

  async get(host: string): Promise<ComputeServiceRecord | undefined> {
    const r = (await this.db<Row>('compute_services').where({ host }).first()) as Row | undefined;
    return r ? fromRow(r) : undefined;
  }

  /** Sets the given fields of a host's service (creating its row), and returns the result. */
  async update(host: string, changes: ComputeServiceChanges): Promise<ComputeServiceRecord> {
    const at = now();
    const set: Partial<Row> = { updated_at: at };
    if (changes.disabled !== undefined) set.disabled = changes.disabled;
    if (changes.disabledReason !== undefined) set.disabled_reason = changes.disabledReason;
    if (changes.forcedDown !== undefined) set.forced_down = changes.forcedDown;
    await this.db('compute_services')
      .insert({ host, disabled: false, disabled_reason: null, forced_down: false, created_at: at, ...set })
      .onConflict('host')
      .merge(Object.keys(set));
    return (await this.get(host))!;
  }
}
