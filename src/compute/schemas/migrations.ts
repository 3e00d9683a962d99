/**
 * Request schemas of the moves, after nova/api/openstack/compute/schemas/{migrate_server,
 * evacuate,migrations}.py: the value under each action's key, per microversion band.
 */
import { booleanLike } from './parameter-types';
import type { Mv } from '../views/common';

/** parameter_types.fqdn: a compute host name (underscores allowed, as real systems have them). */
const fqdn = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const fqdnOrNull = { ...fqdn, type: ['string', 'null'] };
const adminPass = { type: 'string' };

/** migrate at 2.56: null, or {"host": …}. Below 2.56 Nova validates nothing. */
export const migrate256 = { type: ['object', 'null'], properties: { host: fqdnOrNull }, additionalProperties: false };

/** The force_complete action of a server's migration (2.22): exactly `{"force_complete": null}`. */
export const forceComplete = { type: 'object', properties: { force_complete: { type: 'null' } }, required: ['force_complete'], additionalProperties: false };

/** confirmResize / revertResize: any value (clients send null). */
export const anyValue = {};

const evacuateBase = { type: 'object', properties: { host: fqdn, adminPass } as Record<string, object>, additionalProperties: false };
const evacuate20 = { ...evacuateBase, properties: { ...evacuateBase.properties, onSharedStorage: booleanLike }, required: ['onSharedStorage'] };
const evacuate229 = { ...evacuateBase, properties: { ...evacuateBase.properties, force: booleanLike } };

export function evacuateSchema(mv: Mv): object {
  if (!mv('2.14')) return evacuate20;
  if (mv('2.29') && !mv('2.68')) return evacuate229;
  return evacuateBase;
}

const live20 = {
  type: 'object',
  properties: { block_migration: booleanLike, disk_over_commit: booleanLike, host: fqdnOrNull },
  required: ['block_migration', 'disk_over_commit', 'host'],
  additionalProperties: false,
};
const blockMigration225 = { ...booleanLike, enum: [...booleanLike.enum, 'auto'] };
const live225 = { type: 'object', properties: { block_migration: blockMigration225, host: fqdnOrNull }, required: ['block_migration', 'host'], additionalProperties: false };
const live230 = { ...live225, properties: { ...live225.properties, force: booleanLike } };

export function migrateLiveSchema(mv: Mv): object {
  if (!mv('2.25')) return live20;
  if (mv('2.30') && !mv('2.68')) return live230;
  return live225;
}

/** os-migrations query parameters Nova's schema names, per band (from 2.59 nothing else is allowed). */
export function migrationsQueryKeys(mv: Mv): Set<string> {
  const keys = ['hidden', 'host', 'instance_uuid', 'source_compute', 'status', 'migration_type'];
  if (mv('2.59')) keys.push('limit', 'marker', 'changes-since');
  if (mv('2.66')) keys.push('changes-before');
  if (mv('2.80')) keys.push('user_id', 'project_id');
  return new Set(keys);
}
