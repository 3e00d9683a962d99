/**
 * Request bodies of os-quota-sets and os-quota-class-sets (nova/api/openstack/compute/schemas/
 * quota_sets.py, quota_classes.py): integers (or their digits as a string) from -1 (unlimited)
 * to the database's largest integer; an unknown key is a 400. Keys leave with the resources
 * they name: network quotas at 2.36 (quota classes: 2.50), personality at 2.57.
 */
import { badRequest } from '../../errors';
import type { Mv } from '../views/common';
import { quotaClassResources, quotaSetResources } from '../views/limits';
import type { QuotaResource } from '../services/quotas';
import { booleanLike } from './parameter-types';

const quotaValue = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 0x7fffffff };

function bodySchema(key: string, resources: QuotaResource[], extra: Record<string, unknown>) {
  return {
    type: 'object',
    properties: {
      [key]: {
        type: 'object',
        properties: { ...Object.fromEntries(resources.map((r) => [r, quotaValue])), ...extra },
        additionalProperties: false,
      },
    },
    required: [key],
    additionalProperties: false,
  };
}

const cache = new Map<string, object>();
function cached(id: string, make: () => object): object {
  let s = cache.get(id);
  if (!s) cache.set(id, (s = make()));
  return s;
}

/** PUT /os-quota-sets/{project}: the resources of the microversion, and `force`. */
export function updateQuotaSetSchema(mv: Mv): object {
  const resources = quotaSetResources(mv);
  return cached(`set:${resources.join()}`, () => bodySchema('quota_set', resources, { force: booleanLike }));
}

/** PUT /os-quota-class-sets/{class}. */
export function updateQuotaClassSetSchema(mv: Mv): object {
  const resources = quotaClassResources(mv);
  return cached(`class:${resources.join()}`, () => bodySchema('quota_class_set', resources, {}));
}

/** The limits of a body that passed the schema, as numbers (a string of digits is one too). */
export function limitsOf(body: Record<string, unknown>): Partial<Record<QuotaResource, number>> {
  const out: Partial<Record<QuotaResource, number>> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === 'force') continue;
    const n = Number(v);
    // The schema's bounds hold for integers only; the same bounds for digits in a string.
    if (n < -1) throw badRequest(`Invalid input for field/attribute ${k}. Value: ${String(v)}. ${String(v)} is less than the minimum of -1`);
    if (n > 0x7fffffff) throw badRequest(`Invalid input for field/attribute ${k}. Value: ${String(v)}. ${String(v)} is greater than the maximum of 2147483647`);
    out[k as QuotaResource] = n;
  }
  return out;
}
