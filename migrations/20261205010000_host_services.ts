/**
 * Hosts' settings (issue 13), after Nova's `services` table and its API database's aggregates:
 *  - `compute_services`: what an admin set on a host's nova-compute service (os-services):
 *    disabled (with a reason) and forced_down. A configured host with no row is enabled and not
 *    forced down; the row is created by the first update.
 *  - `aggregates`, `aggregate_hosts`, `aggregate_metadata` (os-aggregates). As in Nova, an
 *    aggregate's availability zone is its `availability_zone` metadata key (one source for both
 *    `availability_zone` on create/update and `set_metadata`), and a deleted aggregate is gone
 *    (Nova's API database deletes the row; `deleted` is always false on the wire).
 * Timestamps are ISO 8601 strings, as elsewhere.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('compute_services', (t) => {
    t.string('host', 255).primary();
    t.boolean('disabled').notNullable().defaultTo(false);
    t.string('disabled_reason', 255);
    t.boolean('forced_down').notNullable().defaultTo(false);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32);
  });
  await knex.schema.createTable('aggregates', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.string('name', 255).notNullable().unique();
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32);
  });
  await knex.schema.createTable('aggregate_hosts', (t) => {
    t.increments('id').primary();
    t.integer('aggregate_id').unsigned().notNullable().references('id').inTable('aggregates').onDelete('CASCADE');
    t.string('host', 255).notNullable();
    t.unique(['aggregate_id', 'host']);
    t.index(['host']);
  });
  await knex.schema.createTable('aggregate_metadata', (t) => {
    t.integer('aggregate_id').unsigned().notNullable().references('id').inTable('aggregates').onDelete('CASCADE');
    t.string('key', 255).notNullable();
    t.string('value', 255).notNullable();
    t.unique(['aggregate_id', 'key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('aggregate_metadata');
  await knex.schema.dropTable('aggregate_hosts');
  await knex.schema.dropTable('aggregates');
  await knex.schema.dropTable('compute_services');
}
