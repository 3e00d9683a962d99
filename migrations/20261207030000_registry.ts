/**
 * The embedded registry (issue 14): pushed blobs, manifests and tags of repositories named
 * `<project>/<name>`. Blob bytes live on disk under <dataDir>/registry (one file per digest);
 * these tables say which repository may see which blob (links), what each manifest references
 * (refs, which keep blobs alive), the tags, and the uploads in progress (bound to the project and
 * user that started them). Manifest bodies are kept byte-exact as base64 (their digest is of the
 * bytes). Times are ms since the epoch.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('registry_blobs', (t) => {
    t.string('digest', 100).primary();
    t.bigInteger('size').notNullable();
    t.bigInteger('created_ms').notNullable();
  });
  await knex.schema.createTable('registry_blob_links', (t) => {
    t.string('repository', 255).notNullable();
    t.string('digest', 100).notNullable().index();
    t.bigInteger('created_ms').notNullable();
    t.primary(['repository', 'digest']);
  });
  await knex.schema.createTable('registry_manifests', (t) => {
    t.string('repository', 255).notNullable();
    t.string('digest', 100).notNullable();
    t.string('media_type', 255).notNullable();
    t.text('body_b64').notNullable();
    t.bigInteger('created_ms').notNullable();
    t.primary(['repository', 'digest']);
  });
  await knex.schema.createTable('registry_manifest_refs', (t) => {
    t.string('repository', 255).notNullable();
    t.string('manifest_digest', 100).notNullable();
    t.string('ref_digest', 100).notNullable().index();
    t.primary(['repository', 'manifest_digest', 'ref_digest']);
  });
  await knex.schema.createTable('registry_tags', (t) => {
    t.string('repository', 255).notNullable();
    t.string('tag', 128).notNullable();
    t.string('digest', 100).notNullable();
    /** The Glance image this tag is (null until made). */
    t.string('image_id', 36).nullable().index();
    t.bigInteger('updated_ms').notNullable();
    t.primary(['repository', 'tag']);
  });
  await knex.schema.createTable('registry_uploads', (t) => {
    t.string('id', 64).primary();
    t.string('repository', 255).notNullable();
    t.string('project_id', 64).notNullable();
    t.string('user_id', 64).notNullable();
    t.bigInteger('offset').notNullable();
    t.bigInteger('updated_ms').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['registry_uploads', 'registry_tags', 'registry_manifest_refs', 'registry_manifests', 'registry_blob_links', 'registry_blobs']) {
    await knex.schema.dropTable(t);
  }
}
