/**
 * OS-DCF:diskConfig (issue 15): Nova's `instances.auto_disk_config`, set from the request on
 * create, rebuild and update (AUTO = true, MANUAL = false), else from the image's
 * `auto_disk_config` property; shown as "AUTO" or "MANUAL". Existing servers are MANUAL, what
 * they were always shown as.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    t.boolean('auto_disk_config').notNullable().defaultTo(false);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('servers', (t) => {
    t.dropColumn('auto_disk_config');
  });
}
