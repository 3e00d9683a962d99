/**
 * Request schemas for flavors, flavor management and flavor extra specs, after
 * nova/api/openstack/compute/schemas/{flavor_manage,flavors_extraspecs}.py.
 * Strict: unknown keys are a 400 naming the key.
 */
import { booleanLike, name } from './parameter-types';

/** Nova's flavor description (2.55): printable characters, up to a TEXT column. */
export const description = { type: ['string', 'null'], minLength: 0, maxLength: 65535, pattern: '^[^\\p{C}\\p{Zl}\\p{Zp}]*$' };

/** MAX_INT of Nova's database layer (db/constants.py). */
export const MAX_INT = 0x7fffffff;

// NOTE(openstack): Nova accepts digit strings for the sizes ("ram": "512"), as older clients send them.
const positive = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, maximum: MAX_INT };
const nonNegative = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 0, maximum: MAX_INT };

const flavorProperties = {
  name,
  // Forbid leading/trailing spaces; a number is taken as its decimal string.
  id: { type: ['string', 'number', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
  ram: positive,
  vcpus: positive,
  disk: nonNegative,
  'OS-FLV-EXT-DATA:ephemeral': nonNegative,
  swap: nonNegative,
  rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', exclusiveMinimum: 0, maximum: 3.40282e38 },
  'os-flavor-access:is_public': booleanLike,
};

/** POST /flavors at 2.1–2.54. */
export const createFlavor = {
  type: 'object',
  properties: {
    flavor: {
      type: 'object',
      properties: flavorProperties,
      required: ['name', 'ram', 'vcpus', 'disk'],
      additionalProperties: false,
    },
  },
  required: ['flavor'],
  additionalProperties: false,
};

/** POST /flavors at 2.55+: a description may be given. */
export const createFlavorV255 = {
  ...createFlavor,
  properties: {
    flavor: {
      ...createFlavor.properties.flavor,
      properties: { ...flavorProperties, description },
    },
  },
};

/** PUT /flavors/{id} (2.55+): only the description can change, so it is required. */
export const updateFlavor = {
  type: 'object',
  properties: {
    flavor: {
      type: 'object',
      properties: { description },
      required: ['description'],
      additionalProperties: false,
    },
  },
  required: ['flavor'],
  additionalProperties: false,
};

/** Extra spec keys and values; values may be numbers in requests (always strings in responses). */
const SPEC_KEY = '^[a-zA-Z0-9\\-_:. ]{1,255}$';
const specs = {
  type: 'object',
  patternProperties: { [SPEC_KEY]: { type: ['string', 'number'], maxLength: 255 } },
  additionalProperties: false,
};

/** POST /flavors/{id}/os-extra_specs */
export const createExtraSpecs = {
  type: 'object',
  properties: { extra_specs: specs },
  required: ['extra_specs'],
  additionalProperties: false,
};

/** PUT /flavors/{id}/os-extra_specs/{key}: exactly one key, which must be the one in the URL. */
export const updateExtraSpec = { ...specs, minProperties: 1, maxProperties: 1 };

/** POST /flavors/{id}/action {addTenantAccess|removeTenantAccess: {tenant}} (Nova's schemas/flavor_access.py). */
const tenantAccess = (action: string) => ({
  type: 'object',
  properties: {
    [action]: {
      type: 'object',
      properties: { tenant: { type: 'string', minLength: 1, maxLength: 255 } },
      required: ['tenant'],
      additionalProperties: false,
    },
  },
  required: [action],
  additionalProperties: false,
});
export const addTenantAccess = tenantAccess('addTenantAccess');
export const removeTenantAccess = tenantAccess('removeTenantAccess');
