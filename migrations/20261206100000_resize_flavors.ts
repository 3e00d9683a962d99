/**
 * Resize (issue 15): the flavors a resize goes from and to, whole, on its migration row (Nova
 * keeps them as the instance's old_flavor / new_flavor). The integer ids alone do not do: a
 * flavor deleted during VERIFY_RESIZE must still come back on revert (Tempest's
 * test_resize_server_revert_deleted_flavor). JSON text, as the servers' embedded flavor.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('migrations', (t) => {
    t.text('old_flavor').nullable();
    t.text('new_flavor').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('migrations', (t) => {
    t.dropColumn('old_flavor');
    t.dropColumn('new_flavor');
  });
}
