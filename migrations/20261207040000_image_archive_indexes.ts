/**
 * Registry archive indexes (issue 14): for a docker-format image whose data is a `docker save`
 * archive in the store, where its config and layers lie inside that file, their digests and the
 * registry manifest naming them (src/registry/archive-index.ts), so the registry serves the
 * image's blobs as byte ranges of the stored archive. One row per Glance image, gone with it;
 * looked up by the image's id, its engine image id, or its manifest digest. The index itself is
 * JSON text (see src/db/dialect.ts on JSON columns).
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('image_archive_indexes', (t) => {
    t.string('image_id', 36).primary().references('images.id').onDelete('CASCADE');
    t.string('engine_image_id', 80).notNullable().index();
    t.string('manifest_digest', 80).notNullable().index();
    t.text('index_json').notNullable();
    t.string('created_at', 32).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('image_archive_indexes');
}
