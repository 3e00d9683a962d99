/**
 * The engine's image id is named for what it is, not after one engine product: images
 * `docker_image_id` → `engine_image_id`. The API keeps showing it as the `docker_image_id`
 * property (what users match against `docker images`). SQLite ≥ 3.25 renames in place.
 */
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE images RENAME COLUMN docker_image_id TO engine_image_id');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE images RENAME COLUMN engine_image_id TO docker_image_id');
}
