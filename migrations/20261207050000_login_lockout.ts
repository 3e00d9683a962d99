/**
 * Keystone's lockout state (issue 18): a user's failed password attempts since the last success
 * and when the last one was made (Keystone's local_user.failed_auth_count / failed_auth_at, here
 * in ms since the epoch). In the database, so that every process sharing it counts the same.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.integer('failed_auth_count').notNullable().defaultTo(0);
    t.bigInteger('failed_auth_at_ms');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('users', (t) => {
    t.dropColumn('failed_auth_at_ms');
    t.dropColumn('failed_auth_count');
  });
}
