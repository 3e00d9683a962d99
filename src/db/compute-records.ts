/**
 * Compute writes that land together or not at all: one transaction over the server, its
 * migration and its instance action (a resize's claim with its action and migration rows, and
 * its placement on its own host; its VERIFY_RESIZE with the migration finished and the action's
 * outcome). One commit instead of three, and no reader ever sees a server in VERIFY_RESIZE whose
 * migration is not yet finished.
 *
 * Inside `fn` use only the repositories it is given: on SQLite the one connection is the
 * transaction's until it ends, so a query through any other repository would wait for it.
 */
import type { Db } from './knex';
import { ServerRepository } from './server-repo';
import { MigrationRepository } from './migration-repo';
import { ActionRepository } from './action-repo';
import { AllocationRepository, PlacementTx } from './allocation-repo';

export interface ComputeRecords {
  servers: ServerRepository;
  migrations: MigrationRepository;
  actions: ActionRepository;
  /** The placement's operations in this transaction, which from then on runs alone among placement decisions. */
  placement(): Promise<PlacementTx>;
}

/** Runs `fn` in one transaction; a throw rolls every write of it back. */
export type InTransaction = <T>(fn: (r: ComputeRecords) => Promise<T>) => Promise<T>;

/** `owner`: the process's worker id, as ServerRepository records it. */
export function computeTransaction(db: Db, owner: string | null): InTransaction {
  const allocations = new AllocationRepository(db);
  return (fn) => db.transaction((trx) => fn({
    servers: new ServerRepository(trx, owner), migrations: new MigrationRepository(trx), actions: new ActionRepository(trx), placement: () => allocations.within(trx),
  }));
}
