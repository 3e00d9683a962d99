/**
 * Allocations (placement's, issue 13): what each consumer holds on a compute host, so that a
 * host's usage is the sum of its rows and a scheduling decision can read it and claim in one
 * transaction. A consumer is a server, or a migration (its uuid) holding the source host's
 * share while a move is unconfirmed. One row per consumer and host.
 *
 * Backfill: every server that is not deleted and has a host holds its flavor there (the flavor
 * snapshot it was booted with), as it did implicitly before.
 */
import type { Knex } from 'knex';

interface ServerRow { id: string; host: string; flavor: string | null }

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('allocations', (t) => {
    t.string('consumer_id', 36).notNullable();
    t.string('host', 255).notNullable();
    t.integer('memory_mb').notNullable();
    t.integer('vcpus').notNullable();
    t.string('created_at', 32).notNullable();
    // The key's leading column serves lookups by consumer.
    t.primary(['consumer_id', 'host']);
    t.index(['host']);
  });
  const servers: ServerRow[] = await knex('servers').where({ deleted: 0 }).whereNotNull('host').select('id', 'host', 'flavor');
  const createdAt = new Date().toISOString();
  const rows = servers.map((s) => {
    let flavor: { ram?: unknown; vcpus?: unknown } = {};
    try {
      flavor = s.flavor ? JSON.parse(s.flavor) : {};
    } catch {
      // An unreadable snapshot holds nothing (it cannot have been written by novadock).
    }
    return { consumer_id: s.id, host: s.host, memory_mb: Number(flavor.ram) || 0, vcpus: Number(flavor.vcpus) || 0, created_at: createdAt };
  });
  for (let i = 0; i < rows.length; i += 200) await knex('allocations').insert(rows.slice(i, i + 200));
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('allocations');
}
