/**
 * Writable quotas (issue 15, Nova's quotas and quota_classes tables): a limit per project (and
 * per user within a project, Nova's project_user_quotas: user_id '' is the project's own), and
 * the limits of a quota class ('default' is the one every project starts from). A resource
 * without a row takes the next level: user → project → class 'default' → the config's quotas.
 * The unique keys make a set an upsert that concurrent processes cannot duplicate.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('quotas', (t) => {
    t.string('project_id', 64).notNullable();
    /** '' for the project's own limit, else the user's within the project. */
    t.string('user_id', 64).notNullable().defaultTo('');
    t.string('resource', 64).notNullable();
    t.integer('hard_limit').notNullable();
    t.string('updated_at', 32).notNullable();
    t.primary(['project_id', 'user_id', 'resource']);
  });
  await knex.schema.createTable('quota_classes', (t) => {
    t.string('class_name', 255).notNullable();
    t.string('resource', 64).notNullable();
    t.integer('hard_limit').notNullable();
    t.string('updated_at', 32).notNullable();
    t.primary(['class_name', 'resource']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('quota_classes');
  await knex.schema.dropTable('quotas');
}
