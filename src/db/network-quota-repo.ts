/**
 * What the network service's quotas read and write (src/network/quotas.ts): limits in the
 * `quotas` table beside compute's, usage counted from each resource's table, and the transaction
 * a counted create runs in (serialized per project and resource: see dialect.ts `serialize`).
 */
import type { Knex } from 'knex';
import { serialize } from './dialect';
import type { Db } from './knex';

export class NetworkQuotaRepository {
  constructor(private readonly db: Db) {}

  /** Runs `fn` in a transaction that holds the turn for `key` (others with the same key wait). */
  async serialized<T>(key: string, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await serialize(trx, key);
      return fn(trx);
    });
  }

  /** The project's own limits of `resources` that have been set. */
  async limits(projectId: string, resources: readonly string[], db: Knex | Knex.Transaction = this.db): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of await db('quotas').where({ project_id: projectId, user_id: '' }).whereIn('resource', resources).select('resource', 'hard_limit')) out[r.resource] = Number(r.hard_limit);
    return out;
  }

  async count(table: string, projectId: string, db: Knex | Knex.Transaction = this.db): Promise<number> {
    const [{ n }] = await db(table).where({ project_id: projectId }).count({ n: '*' });
    return Number(n);
  }

  /** Forgets the project's limits of `resources` (others' stay). */
  async reset(projectId: string, resources: readonly string[]): Promise<void> {
    await this.db('quotas').where({ project_id: projectId, user_id: '' }).whereIn('resource', resources).delete();
  }
}
