/**
 * Request schemas of os-services and os-aggregates, after
 * nova/api/openstack/compute/schemas/services.py and aggregates.py.
 */
import { booleanLike, name } from './parameter-types';

/** parameter_types.fqdn: a service or compute host name (underscores allowed, as Nova allows them). */
const fqdn = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9-._]*$' };
const reason = { type: 'string', minLength: 1, maxLength: 255 };

/** parameter_types.az_name: printable, no ':', no leading or trailing space. */
const azName = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?!\\p{Zs})[^\\p{C}\\p{Zl}\\p{Zp}:]*(?<!\\p{Zs})$' };
/** parameter_types.name_with_leading_trailing_spaces: printable, at least one character that is not a space. */
const nameWithSpaces = { type: 'string', minLength: 1, maxLength: 255, pattern: '^(?=.*[^\\p{Zs}])[^\\p{C}\\p{Zl}\\p{Zp}]*$' };
const zoneOrNull = { oneOf: [azName, { type: 'null' }] };

// ------------------------------------------------------------------ os-services

/** PUT /os-services/{action} below 2.11. */
export const serviceAction = {
  type: 'object',
  properties: { host: fqdn, binary: { type: 'string', minLength: 1, maxLength: 255 }, disabled_reason: reason },
  required: ['host', 'binary'],
  additionalProperties: false,
};

/** PUT /os-services/{action} from 2.11 (force-down). */
export const serviceActionV211 = {
  ...serviceAction,
  properties: { ...serviceAction.properties, forced_down: booleanLike },
};

/** PUT /os-services/{uuid} from 2.53: nothing is required (the code answers an empty update). */
export const serviceUpdateV253 = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['enabled', 'disabled'] }, disabled_reason: reason, forced_down: booleanLike },
  additionalProperties: false,
};

// ------------------------------------------------------------------ os-aggregates

export const createAggregate = {
  type: 'object',
  properties: {
    aggregate: {
      type: 'object',
      properties: { name, availability_zone: zoneOrNull },
      required: ['name'],
      additionalProperties: false,
    },
  },
  required: ['aggregate'],
  additionalProperties: false,
};

export const updateAggregate = {
  type: 'object',
  properties: {
    aggregate: {
      type: 'object',
      properties: { name: nameWithSpaces, availability_zone: zoneOrNull },
      additionalProperties: false,
      anyOf: [{ required: ['name'] }, { required: ['availability_zone'] }],
    },
  },
  required: ['aggregate'],
  additionalProperties: false,
};

const hostAction = (key: string) => ({
  type: 'object',
  properties: { [key]: { type: 'object', properties: { host: fqdn }, required: ['host'], additionalProperties: false } },
  required: [key],
  additionalProperties: false,
});

export const addHost = hostAction('add_host');
export const removeHost = hostAction('remove_host');

/** parameter_types.metadata_with_null. */
export const setMetadata = {
  type: 'object',
  properties: {
    set_metadata: {
      type: 'object',
      properties: {
        metadata: {
          type: 'object',
          patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: ['string', 'null'], maxLength: 255 } },
          additionalProperties: false,
        },
      },
      required: ['metadata'],
      additionalProperties: false,
    },
  },
  required: ['set_metadata'],
  additionalProperties: false,
};
