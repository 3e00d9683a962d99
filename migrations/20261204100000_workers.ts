/**
 * Several novadock processes over one database (issue 16):
 *  - `workers`: each running process, with a heartbeat; one whose heartbeat is older than the
 *    liveness timeout is dead, and its unfinished work is recovered by another;
 *  - `leases`: named, expiring claims (one process watches each compute host's events);
 *  - who is doing a server's current task (`servers.task_owner`) and an image's upload
 *    (`images.upload_owner`): the worker id that made the change, so a survivor recovers only
 *    what a dead process left, never what a live one is still doing.
 * Heartbeats and expiries are epoch milliseconds (bigint) so they compare as numbers on both
 * SQLite and PostgreSQL.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workers', (t) => {
    t.string('id', 64).primary();
    t.string('hostname', 255).notNullable();
    t.integer('pid').notNullable();
    t.string('started_at', 32).notNullable();
    t.bigInteger('heartbeat_ms').notNullable();
  });
  await knex.schema.createTable('leases', (t) => {
    t.string('name', 255).primary();
    t.string('holder', 64).notNullable();
    t.bigInteger('expires_ms').notNullable();
  });
  await knex.schema.alterTable('servers', (t) => {
    t.string('task_owner', 64);
  });
  await knex.schema.alterTable('images', (t) => {
    t.string('upload_owner', 64);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('images', (t) => t.dropColumn('upload_owner'));
  await knex.schema.alterTable('servers', (t) => t.dropColumn('task_owner'));
  await knex.schema.dropTable('leases');
  await knex.schema.dropTable('workers');
}
