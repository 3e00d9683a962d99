/**
 * Allocations (placement's): what each consumer — a server, or a migration holding a move's
 * source — holds on a compute host. A host's usage is the sum of its rows.
 *
 * A placement decision reads usage and writes allocations in one transaction (`transaction`)
 * that runs alone among placement transactions: on SQLite every transaction does (one
 * connection), on PostgreSQL an advisory lock (`serialize(tx, 'placement')`) makes them take
 * turns. So two decisions never both see room that only one of them can have.
 */
import type { Knex } from 'knex';
import { now as nowIso, stamp } from '../clock';
import type { Db } from './knex';
import { serialize } from './dialect';

export interface Allocation {
  consumerId: string;
  host: string;
  memoryMb: number;
  vcpus: number;
}

/** What a host's allocations add up to. */
export interface HostAllocated {
  memoryMb: number;
  vcpus: number;
  /** Allocations held by servers that are not deleted (a migration's are not counted). */
  instances: number;
}

/** The operations of one placement transaction. */
export interface PlacementTx {
  /** Allocated totals by host (hosts without allocations are absent). */
  usage(): Promise<Map<string, HostAllocated>>;
  /** Records where a server (not deleted) was placed; false when there is no such server. */
  assignHost(serverId: string, host: string, zone: string): Promise<boolean>;
  /** Makes `a` the consumer's only allocation (placement's PUT /allocations/{consumer}). */
  allocate(a: Allocation): Promise<void>;
  /** Adds `a` for a consumer that holds nothing here (a move's server once transferred): allocate without its delete. */
  add(a: Allocation): Promise<void>;
  /** Hands every allocation of `from` to `to` (a move's source to its migration, and back); how many moved. */
  transfer(from: string, to: string): Promise<number>;
  /** Drops every allocation of a consumer; how many went. */
  release(consumerId: string): Promise<number>;
}

async function usageIn(k: Knex | Knex.Transaction): Promise<Map<string, HostAllocated>> {
  const rows: { host: string; memory_mb: unknown; vcpus: unknown; instances: unknown }[] = await k('allocations as a')
    .leftJoin('servers as s', function join() {
      this.on('s.id', '=', 'a.consumer_id').andOn('s.deleted', '=', k.raw('?', [0]));
    })
    .groupBy('a.host')
    .select('a.host', k.raw('sum(a.memory_mb) as memory_mb'), k.raw('sum(a.vcpus) as vcpus'), k.raw('count(s.id) as instances'));
  // PostgreSQL answers sums and counts as strings.
  return new Map(rows.map((r) => [r.host, { memoryMb: Number(r.memory_mb), vcpus: Number(r.vcpus), instances: Number(r.instances) }]));
}

export class AllocationRepository {
  constructor(private readonly db: Db) {}

  /** Runs `fn` as one placement transaction (see the file's comment); its writes commit together or not at all. */
  async transaction<T>(fn: (tx: PlacementTx) => Promise<T>): Promise<T> {
    return this.db.transaction(async (trx) => {
      await serialize(trx, 'placement');
      return fn(this.operations(trx));
    });
  }

  /**
   * The operations of a placement decision inside a transaction the caller owns (a resize's task
   * claim): it runs alone among placement transactions from here until `trx` ends, as
   * `transaction` does. Call it before the transaction's other writes, so the lock is taken first.
   */
  async within(trx: Knex.Transaction): Promise<PlacementTx> {
    await serialize(trx, 'placement');
    return this.operations(trx);
  }

  /** Allocated totals by host, outside any decision (os-hypervisors). */
  usage(): Promise<Map<string, HostAllocated>> {
    return usageIn(this.db);
  }

  /** The allocations of a consumer. */
  async of(consumerId: string): Promise<Allocation[]> {
    const rows = await this.db('allocations').where({ consumer_id: consumerId }).orderBy('host');
    return rows.map((r) => ({ consumerId: r.consumer_id, host: r.host, memoryMb: Number(r.memory_mb), vcpus: Number(r.vcpus) }));
  }

  /** Drops every allocation of a consumer (no decision depends on a release: no lock needed). */
  async release(consumerId: string): Promise<number> {
    return this.db('allocations').where({ consumer_id: consumerId }).delete();
  }

  private operations(trx: Knex.Transaction): PlacementTx {
    const add = async (a: Allocation) => {
      await trx('allocations').insert({ consumer_id: a.consumerId, host: a.host, memory_mb: a.memoryMb, vcpus: a.vcpus, created_at: nowIso() });
    };
    return {
      usage: () => usageIn(trx),
      assignHost: async (serverId, host, zone) => (await trx('servers').where({ id: serverId, deleted: 0 }).update({ host, availability_zone: zone, updated_at: stamp() })) > 0,
      allocate: async (a) => {
        await trx('allocations').where({ consumer_id: a.consumerId }).delete();
        await add(a);
      },
      add,
      transfer: (from, to) => trx('allocations').where({ consumer_id: from }).update({ consumer_id: to }),
      release: (consumerId) => trx('allocations').where({ consumer_id: consumerId }).delete(),
    };
  }
}
