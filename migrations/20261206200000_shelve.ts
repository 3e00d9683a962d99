/**
 * Shelve (issue 15): what Nova keeps in a shelved instance's system_metadata — when it was
 * shelved, the image holding its filesystem, and the host it was shelved on. Set by shelve,
 * cleared by unshelve; a delete removes the image it names.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    t.string('shelved_at', 32).nullable();
    t.string('shelved_image_id', 36).nullable();
    t.string('shelved_host', 255).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    t.dropColumn('shelved_at');
    t.dropColumn('shelved_image_id');
    t.dropColumn('shelved_host');
  });
}
