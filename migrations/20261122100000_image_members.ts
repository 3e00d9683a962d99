/**
 * Image members (Glance v2 image sharing): which projects a `shared` image is offered to, and
 * whether each has accepted it. Members go with their image (ON DELETE CASCADE); one row per
 * (image, project), as Glance's image_members table allows one live membership per pair.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('image_members', (t) => {
    t.string('image_id', 36).notNullable().references('images.id').onDelete('CASCADE');
    /** The consumer's project id (Glance's member_id, "tenantId"). */
    t.string('member_id', 255).notNullable();
    /** pending | accepted | rejected */
    t.string('status', 16).notNullable().defaultTo('pending');
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
    t.primary(['image_id', 'member_id']);
    // Listings ask "which images is this project a member of?".
    t.index(['member_id', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('image_members');
}
