/**
 * Server groups (Nova's API-database `instance_groups`, `instance_group_policy` and
 * `instance_group_member`, folded into two tables):
 *  - `server_groups`: one row per group; `id` is the integer key the members point at, `uuid` the
 *    id the API shows; one policy per group (Nova has had exactly one since 2.64) and its rules
 *    (`{"max_server_per_host": n}`, anti-affinity only) as JSON text. Deleting a group removes
 *    the row (Nova's API database keeps no soft-deleted groups).
 *  - `server_group_members`: which servers belong to which group. A server is in at most one group
 *    (boot names one `group` hint), so the server id is the key. Members go with their group
 *    (ON DELETE CASCADE); servers are soft-deleted, so their member rows are dropped by the delete
 *    itself and every read joins on servers that are not deleted.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('server_groups', (t) => {
    t.increments('id');
    t.string('uuid', 36).notNullable().unique();
    t.string('name', 255).notNullable();
    t.string('project_id', 64).notNullable().index();
    t.string('user_id', 64).notNullable();
    /** affinity | anti-affinity | soft-affinity | soft-anti-affinity */
    t.string('policy', 32).notNullable();
    /** {"max_server_per_host": n} or {} (JSON). */
    t.text('rules').notNullable().defaultTo('{}');
    t.string('created_at', 32).notNullable();
  });
  await knex.schema.createTable('server_group_members', (t) => {
    t.string('server_id', 36).primary().references('servers.id').onDelete('CASCADE');
    t.integer('group_id').notNullable().references('server_groups.id').onDelete('CASCADE');
    // The pair, group first: also the index of "the members of a group".
    t.unique(['group_id', 'server_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('server_group_members');
  await knex.schema.dropTableIfExists('server_groups');
}
