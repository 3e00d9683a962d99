/**
 * Quota limits set through the API (migration 20261206500000_quotas): per project, per user
 * within a project, and per quota class. Every set is an upsert on the table's key, so
 * concurrent processes (SQLite or PostgreSQL) never hold two limits for one resource. Nothing is
 * cached: every quota check reads the current rows, so a limit set through one process holds in
 * all of them at once.
 */
import { stamp } from '../clock';
import type { Db } from './knex';

/** Resource name → limit, for the resources that have a row. */
export type LimitRows = Record<string, number>;

export class QuotaRepository {
  constructor(private readonly db: Db) {}

  private static rows(rows: { resource: string; hard_limit: number }[]): LimitRows {
    const out: LimitRows = {};
    for (const r of rows) out[r.resource] = Number(r.hard_limit);
    return out;
  }

  /** The class's limits that have been set. */
  async classLimits(className: string): Promise<LimitRows> {
    return QuotaRepository.rows(await this.db('quota_classes').where({ class_name: className }).select('resource', 'hard_limit'));
  }

  /** The project's own limits (userId undefined) or the user's within the project, that have been set. */
  async limits(projectId: string, userId?: string): Promise<LimitRows> {
    return QuotaRepository.rows(await this.db('quotas').where({ project_id: projectId, user_id: userId ?? '' }).select('resource', 'hard_limit'));
  }

  /** Sets the class's limits (one transaction: all of them or none). */
  async setClassLimits(className: string, values: LimitRows): Promise<void> {
    const updated_at = stamp();
    const rows = Object.entries(values).map(([resource, hard_limit]) => ({ class_name: className, resource, hard_limit, updated_at }));
    if (rows.length) await this.db('quota_classes').insert(rows).onConflict(['class_name', 'resource']).merge(['hard_limit', 'updated_at']);
  }

  /** Sets the project's (or the user's within it) limits (one statement: all of them or none). */
  async setLimits(projectId: string, userId: string | undefined, values: LimitRows): Promise<void> {
    const updated_at = stamp();
    const rows = Object.entries(values).map(([resource, hard_limit]) => ({ project_id: projectId, user_id: userId ?? '', resource, hard_limit, updated_at }));
    if (rows.length) await this.db('quotas').insert(rows).onConflict(['project_id', 'user_id', 'resource']).merge(['hard_limit', 'updated_at']);
  }

  /** Forgets the user's limits, or the project's and all its users' (Nova's destroy_all_by_project). */
  async deleteLimits(projectId: string, userId?: string): Promise<void> {
    const q = this.db('quotas').where({ project_id: projectId });
    if (userId !== undefined) q.andWhere({ user_id: userId });
    await q.delete();
  }

  /** Sum of the limits set for the project's users, per resource (the room a project limit leaves them). */
  async userLimitSums(projectId: string): Promise<LimitRows> {
    const rows: { resource: string; total: number }[] = await this.db('quotas').where({ project_id: projectId }).andWhere('user_id', '<>', '')
      .groupBy('resource').select('resource').sum({ total: 'hard_limit' });
    const out: LimitRows = {};
    for (const r of rows) out[r.resource] = Number(r.total);
    return out;
  }
}
