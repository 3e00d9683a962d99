/**
 * Moves of servers between compute hosts (issue 13): Nova's `migrations` table, one row per cold
 * migration, resize, evacuation (and live migration, which the Docker driver refuses), kept after
 * the move ends for `os-migrations`. `old_instance_type_id` / `new_instance_type_id` are the
 * flavors' integer ids (a flavor's rowid), as Nova's instance_types ids.
 *
 * `old_vm_state` is what Nova keeps in the instance's system_metadata: the vm_state before the
 * move (active or stopped), so that finishing, confirming or reverting restores the power the
 * user left the server in.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('migrations', (t) => {
    t.increments('id').primary();
    t.string('uuid', 36).notNullable().unique();
    t.string('instance_uuid', 36).notNullable().index();
    t.string('source_compute', 255);
    t.string('dest_compute', 255);
    t.string('source_node', 255);
    t.string('dest_node', 255);
    t.string('dest_host', 255);
    t.integer('old_instance_type_id');
    t.integer('new_instance_type_id');
    t.string('status', 255).notNullable();
    t.string('migration_type', 32).notNullable();
    t.string('project_id', 255);
    t.string('user_id', 255);
    t.boolean('hidden').notNullable().defaultTo(false);
    t.string('old_vm_state', 32);
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32);
    t.index(['source_compute', 'status']);
    t.index(['dest_compute', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('migrations');
}
