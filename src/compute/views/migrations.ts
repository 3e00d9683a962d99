/**
 * Migration wire shapes (nova/api/openstack/compute/migrations.py _output, server_migrations.py
 * output): os-migrations items per microversion — 2.23 migration_type (links only for a live
 * migration in progress, which never exists here), 2.59 uuid and paging links, 2.80 the user and
 * project that asked.
 */
import { isoMicros } from '../../http/wire-time';
import type { MigrationRecord } from '../../db/migration-repo';
import type { Link, Mv } from './common';

type Json = Record<string, unknown>;

export function migrationView(m: MigrationRecord, mv: Mv): Json {
  const v: Json = {
    created_at: isoMicros(m.created_at),
    dest_compute: m.dest_compute,
    dest_host: m.dest_host,
    dest_node: m.dest_node,
    id: m.id,
    instance_uuid: m.instance_uuid,
    new_instance_type_id: m.new_instance_type_id,
    old_instance_type_id: m.old_instance_type_id,
    source_compute: m.source_compute,
    source_node: m.source_node,
    status: m.status,
    updated_at: isoMicros(m.updated_at),
  };
  if (mv('2.23')) v.migration_type = m.migration_type;
  if (mv('2.59')) v.uuid = m.uuid;
  if (mv('2.80')) {
    v.user_id = m.user_id;
    v.project_id = m.project_id;
  }
  return v;
}

export function migrationsListView(items: MigrationRecord[], mv: Mv, links: Link[]): Json {
  const body: Json = { migrations: items.map((m) => migrationView(m, mv)) };
  if (links.length) body.migrations_links = links;
  return body;
}
