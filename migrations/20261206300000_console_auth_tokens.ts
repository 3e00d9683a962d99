/**
 * Console tokens (issue 15, after Nova's console_auth_tokens table): the one-time tokens of the
 * serial console URLs. Only the token's SHA-256 is kept (a copy of the table opens no console);
 * each row says which server and project it is for and when it expires (ms since the epoch).
 * A token is used by deleting its row: the delete that removes the row is the one use, so two
 * processes (SQLite or PostgreSQL) racing with one token cannot both win.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('console_auth_tokens', (t) => {
    t.string('token_hash', 64).primary();
    t.string('console_type', 32).notNullable();
    t.string('instance_uuid', 36).notNullable().index();
    t.string('project_id', 64).notNullable();
    t.bigInteger('expires_ms').notNullable().index();
    t.string('created_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('console_auth_tokens');
}
