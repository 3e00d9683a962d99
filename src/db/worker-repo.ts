/**
 * The processes sharing this database and their leases (migration 20261204100000_workers).
 * Times are epoch milliseconds of the caller's clock: the processes of one cloud keep their
 * clocks in step (NTP), as Nova's service heartbeats assume.
 */
import type { Db } from './knex';

export interface WorkerRow { id: string; hostname: string; pid: number; started_at: string; heartbeat_ms: number }

export class WorkerRepository {
  constructor(private readonly db: Db) {}

  async register(w: WorkerRow): Promise<void> {
    await this.db('workers').insert(w).onConflict('id').merge();
  }

  /** Records a heartbeat; false when the row is gone (another process declared this one dead). */
  async heartbeat(id: string, nowMs: number): Promise<boolean> {
    return (await this.db('workers').where({ id }).update({ heartbeat_ms: nowMs })) === 1;
  }

  async all(): Promise<WorkerRow[]> {
    const rows: WorkerRow[] = await this.db('workers').select('*').orderBy('started_at');
    return rows.map((r) => ({ ...r, pid: Number(r.pid), heartbeat_ms: Number(r.heartbeat_ms) }));
  }

  /** Removes a worker whose heartbeat is older than `cutoffMs`; true for the one caller that did. */
  async reap(id: string, cutoffMs: number): Promise<boolean> {
    return (await this.db('workers').where({ id }).andWhere('heartbeat_ms', '<', cutoffMs).delete()) === 1;
  }

  async unregister(id: string): Promise<void> {
    await this.db('workers').where({ id }).delete();
    await this.db('leases').where({ holder: id }).delete();
  }

  /**
   * Takes or renews the lease `name` for `holder` until `nowMs + ttlMs`: it is free, expired or
   * already `holder`'s. One compare-and-set; true when `holder` holds it now.
   */
  async acquire(name: string, holder: string, nowMs: number, ttlMs: number): Promise<boolean> {
    const expires = nowMs + ttlMs;
    await this.db('leases').insert({ name, holder, expires_ms: expires }).onConflict('name').ignore();
    const n = await this.db('leases')
      .where({ name })
      .andWhere((w) => w.where({ holder }).orWhere('expires_ms', '<', nowMs))
      .update({ holder, expires_ms: expires });
    return n === 1;
  }
}
