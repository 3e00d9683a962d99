/**
 * The whole schema of the first release: identity, images, flavors, servers, keypairs, actions.
 * Timestamps are ISO-8601 strings in UTC (`2026-01-01T10:00:00.000Z`); views format them.
 * JSON columns hold text; the repositories parse them.
 *
 * flavors and keypairs use SQLite's implicit rowid as their integer id (creation order).
 * PostgreSQL has none, so there they get an explicit `rowid` serial column that reads the same.
 */
import type { Knex } from 'knex';

/** PostgreSQL's stand-in for SQLite's implicit rowid: an integer in insertion order, not the key. */
function rowid(knex: Knex, t: Knex.CreateTableBuilder): void {
  if ((knex.client as { dialect?: unknown }).dialect === 'postgresql') t.increments('rowid', { primaryKey: false });
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('projects', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('domain_id', 64).notNullable();
    t.string('description', 1024).notNullable().defaultTo('');
    t.boolean('enabled').notNullable().defaultTo(true);
    t.unique(['domain_id', 'name']);
  });
  await knex.schema.createTable('users', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('domain_id', 64).notNullable();
    /** scrypt$<salt hex>$<hash hex> */
    t.string('password_hash', 512).notNullable();
    t.string('default_project_id', 64);
    t.boolean('enabled').notNullable().defaultTo(true);
    t.unique(['domain_id', 'name']);
  });
  await knex.schema.createTable('roles', (t) => {
    t.string('id', 64).primary();
    t.string('name', 255).notNullable().unique();
  });
  await knex.schema.createTable('role_assignments', (t) => {
    t.string('user_id', 64).notNullable().references('users.id').onDelete('CASCADE');
    t.string('project_id', 64).notNullable().references('projects.id').onDelete('CASCADE');
    t.string('role_id', 64).notNullable().references('roles.id').onDelete('CASCADE');
    t.primary(['user_id', 'project_id', 'role_id']);
  });
  await knex.schema.createTable('revoked_tokens', (t) => {
    t.string('audit_id', 64).primary();
    t.string('expires_at', 32).notNullable().index();
  });

  await knex.schema.createTable('images', (t) => {
    t.string('id', 36).primary();
    t.string('name', 255);
    t.string('status', 32).notNullable().index();
    t.string('visibility', 16).notNullable();
    t.boolean('protected').notNullable().defaultTo(false);
    t.boolean('os_hidden').notNullable().defaultTo(false);
    t.string('checksum', 32);
    t.string('os_hash_algo', 64);
    t.string('os_hash_value', 128);
    t.string('owner', 255).index();
    t.bigInteger('size');
    t.bigInteger('virtual_size');
    t.string('container_format', 32);
    t.string('disk_format', 32);
    t.integer('min_ram').notNullable().defaultTo(0);
    t.integer('min_disk').notNullable().defaultTo(0);
    /** sha256:… of the image in the Docker engines; set by a docker-format upload. */
    t.string('docker_image_id', 80);
    /** Custom string properties, a JSON object. */
    t.text('properties').notNullable().defaultTo('{}');
    t.string('created_at', 32).notNullable();
    t.string('updated_at', 32).notNullable();
  });
  await knex.schema.createTable('image_tags', (t) => {
    t.string('image_id', 36).notNullable().references('images.id').onDelete('CASCADE');
    t.string('tag', 255).notNullable();
    t.primary(['image_id', 'tag']);
    t.index(['tag']);
  });

  await knex.schema.createTable('flavors', (t) => {
    rowid(knex, t);
    t.string('id', 255).primary();
    t.string('name', 255).notNullable().unique();
    t.integer('ram').notNullable();
    t.integer('vcpus').notNullable();
    t.integer('disk').notNullable();
    t.integer('ephemeral').notNullable().defaultTo(0);
    t.integer('swap').notNullable().defaultTo(0);
    t.float('rxtx_factor').notNullable().defaultTo(1.0);
    t.boolean('is_public').notNullable().defaultTo(true);
    t.boolean('disabled').notNullable().defaultTo(false);
    t.string('description', 65535);
    t.text('extra_specs').notNullable().defaultTo('{}');
    t.string('created_at', 32).notNullable();
  });

  await knex.schema.createTable('servers', (t) => {
    t.string('id', 36).primary();
    t.string('name', 255).notNullable();
    t.string('project_id', 64).notNullable().index();
    t.string('user_id', 64).notNullable();
    t.string('image_id', 36);
    t.string('flavor_id', 255).notNullable();
    /** The flavor as it was at boot (Nova embeds it; views at >= 2.47 show it). JSON. */
    t.text('flavor').notNullable();
    t.string('vm_state', 32).notNullable();
    t.string('task_state', 32);
    t.integer('power_state').notNullable().defaultTo(0);
    /** Compute host (a configured Docker engine) the server lives on. */
    t.string('host', 255);
    t.string('availability_zone', 255).notNullable().defaultTo('nova');
    t.integer('sequence').notNullable().unique();
    t.string('reservation_id', 32).notNullable();
    t.integer('launch_index').notNullable().defaultTo(0);
    t.string('hostname', 255).notNullable();
    t.string('description', 255);
    t.text('metadata').notNullable().defaultTo('{}');
    /** {"<network label>": [{addr, version, mac}]} JSON. */
    t.text('addresses').notNullable().defaultTo('{}');
    /** What the user asked for: "auto", "none", or a JSON list of network ids. */
    t.text('requested_networks').notNullable().defaultTo('"auto"');
    t.string('access_ip_v4', 64).notNullable().defaultTo('');
    t.string('access_ip_v6', 64).notNullable().defaultTo('');
    t.string('key_name', 255);
    t.text('key_data');
    t.text('user_data');
    t.boolean('config_drive').notNullable().defaultTo(false);
    t.text('security_groups').notNullable().defaultTo('["default"]');
    t.text('tags').notNullable().defaultTo('[]');
    t.boolean('locked').notNullable().defaultTo(false);
    t.string('locked_by', 16);
    t.string('locked_reason', 255);
    t.integer('progress').notNullable().defaultTo(0);
    /** {code, message, details, created} JSON when the server is in ERROR. */
    t.text('fault');
    t.string('launched_at', 32);
    t.string('terminated_at', 32);
    t.string('created_at', 32).notNullable().index();
    t.string('updated_at', 32).notNullable();
    t.string('deleted_at', 32);
    t.boolean('deleted').notNullable().defaultTo(false).index();
  });

  await knex.schema.createTable('instance_actions', (t) => {
    t.increments('id');
    t.string('instance_uuid', 36).notNullable().index();
    t.string('action', 64).notNullable();
    t.string('request_id', 64).notNullable();
    t.string('user_id', 64).notNullable();
    t.string('project_id', 64).notNullable();
    t.string('start_time', 32).notNullable();
    t.string('finish_time', 32);
    t.string('message', 255);
    t.string('result', 16);
    t.text('traceback');
    t.string('updated_at', 32);
  });

  await knex.schema.createTable('keypairs', (t) => {
    rowid(knex, t);
    t.string('user_id', 64).notNullable();
    t.string('name', 255).notNullable();
    t.string('type', 16).notNullable().defaultTo('ssh');
    t.text('public_key').notNullable();
    t.string('fingerprint', 128).notNullable();
    t.string('created_at', 32).notNullable();
    t.primary(['user_id', 'name']);
  });

  await knex.schema.createTable('sequences', (t) => {
    t.string('name', 64).primary();
    t.integer('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['sequences', 'keypairs', 'instance_actions', 'servers', 'flavors', 'image_tags', 'images',
    'revoked_tokens', 'role_assignments', 'roles', 'users', 'projects']) {
    await knex.schema.dropTableIfExists(table);
  }
}
