/**
 * Request schemas for /servers, its actions and metadata, after
 * nova/api/openstack/compute/schemas/{servers,server_metadata,lock_server,reset_server_state,
 * console_output,create_image?}.py and nova/api/validation/parameter_types.py.
 * Strict: unknown keys are a 400 naming the key. Schemas that differ by microversion are built
 * once per band and cached.
 */
import { booleanLike, name } from './parameter-types';

/** parameter_types.description (2.19): printable, up to 255 characters, or null. */
export const description = { type: ['string', 'null'], minLength: 0, maxLength: 255, pattern: '^[^\\p{C}\\p{Zl}\\p{Zp}]*$' };

/** parameter_types.metadata: keys [a-zA-Z0-9-_:. ]{1,255}, string values up to 255. */
export const metadata = {
  type: 'object',
  patternProperties: { '^[a-zA-Z0-9-_:. ]{1,255}$': { type: 'string', maxLength: 255 } },
  additionalProperties: false,
};

/** parameter_types.positive_integer: an integer ≥ 1 or a string of digits. */
const positiveInteger = { type: ['integer', 'string'], pattern: '^[0-9]*$', minimum: 1, minLength: 1 };

const accessIPv4 = { type: 'string', format: 'ipv4' };
const accessIPv6 = { type: 'string', format: 'ipv6' };
const adminPass = { type: 'string' };
const diskConfig = { type: 'string', enum: ['AUTO', 'MANUAL'] };
/** Base64 is checked by the router (whitespace tolerated, as Python's b64decode does). */
const userData = { type: 'string' };
const personality = {
  type: 'array',
  items: { type: 'object', properties: { path: { type: 'string' }, contents: { type: 'string' } }, additionalProperties: false },
};
/** parameter_types.tag (2.52): no '/' or ',', 1–60 characters. */
export const tag = { type: 'string', minLength: 1, maxLength: 60, pattern: '^[^,/]*$' };
/** 2.90 hostname: a hostname label (RFC 952/1123). */
const hostname = { type: 'string', minLength: 2, maxLength: 63, pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' };
const uuid = { type: 'string', format: 'uuid' };
const trustedCerts = { type: ['array', 'null'], minItems: 1, maxItems: 50, uniqueItems: true, items: { type: 'string', minLength: 1 } };
/** Scheduler hints: Nova's schema checks `group` (a server group uuid, or a list of them); other hints pass. */
const schedulerHints = {
  type: 'object',
  properties: { group: { oneOf: [{ type: 'array', items: { type: 'string', format: 'uuid' } }, { type: 'string', format: 'uuid' }] } },
};

type Mv = (version: string) => boolean;

const cache = new Map<string, object>();
function cached(key: string, build: () => object): object {
  let s = cache.get(key);
  if (!s) {
    s = build();
    cache.set(key, s);
  }
  return s;
}

/** The version bands where the create schema changes. */
function band(mv: Mv, versions: string[]): string {
  return versions.filter((v) => mv(v)).pop() ?? '2.1';
}

/** POST /servers (schemas/servers.py base_create and its microversion updates). */
export function createServerSchema(mv: Mv): object {
  const key = band(mv, ['2.19', '2.32', '2.37', '2.52', '2.57', '2.63', '2.74', '2.90']);
  return cached(`create:${key}`, () => {
    const networkItem: Record<string, unknown> = {
      type: 'object',
      properties: {
        fixed_ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
        port: { type: ['string', 'null'], format: 'uuid' },
        uuid: { type: 'string' },
        ...(mv('2.32') ? { tag: { type: 'string', maxLength: 60, pattern: '^[^,/]*$' } } : {}),
      },
      additionalProperties: false,
    };
    const networkList = { type: 'array', items: networkItem };
    const props: Record<string, unknown> = {
      name,
      imageRef: { type: 'string' },
      flavorRef: { type: ['string', 'integer'], minLength: 1 },
      adminPass,
      metadata,
      networks: mv('2.37') ? { oneOf: [networkList, { type: 'string', enum: ['none', 'auto'] }] } : networkList,
      'OS-DCF:diskConfig': diskConfig,
      accessIPv4,
      accessIPv6,
      availability_zone: { type: 'string', minLength: 1, maxLength: 255 },
      block_device_mapping: { type: 'array' },
      block_device_mapping_v2: { type: 'array' },
      config_drive: booleanLike,
      key_name: { type: 'string', minLength: 1, maxLength: 255 },
      min_count: positiveInteger,
      max_count: positiveInteger,
      return_reservation_id: booleanLike,
      security_groups: {
        type: 'array',
        items: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 255 } }, required: ['name'], additionalProperties: false },
      },
      user_data: userData,
    };
    if (!mv('2.57')) props.personality = personality;
    if (mv('2.19')) props.description = description;
    if (mv('2.52')) props.tags = { type: 'array', items: tag, maxItems: 50 };
    if (mv('2.63')) props.trusted_image_certificates = trustedCerts;
    if (mv('2.74')) {
      props.host = { type: 'string', minLength: 1, maxLength: 255 };
      props.hypervisor_hostname = { type: 'string', minLength: 1, maxLength: 255 };
    }
    if (mv('2.90')) props.hostname = hostname;
    return {
      type: 'object',
      properties: {
        server: {
          type: 'object',
          properties: props,
          required: mv('2.37') ? ['name', 'flavorRef', 'networks'] : ['name', 'flavorRef'],
          additionalProperties: false,
        },
        'os:scheduler_hints': schedulerHints,
        'OS-SCH-HNT:scheduler_hints': schedulerHints,
      },
      required: ['server'],
      additionalProperties: false,
    };
  });
}

/** PUT /servers/{id}. */
export function updateServerSchema(mv: Mv): object {
  const key = band(mv, ['2.19', '2.90']);
  return cached(`update:${key}`, () => {
    const props: Record<string, unknown> = { name, accessIPv4, accessIPv6, 'OS-DCF:diskConfig': diskConfig };
    if (mv('2.19')) props.description = description;
    if (mv('2.90')) props.hostname = hostname;
    return {
      type: 'object',
      properties: { server: { type: 'object', properties: props, additionalProperties: false } },
      required: ['server'],
      additionalProperties: false,
    };
  });
}

/** The body of POST /servers/{id}/action {"rebuild": …}. */
export function rebuildSchema(mv: Mv): object {
  const key = band(mv, ['2.19', '2.54', '2.57', '2.63', '2.90']);
  return cached(`rebuild:${key}`, () => {
    const props: Record<string, unknown> = {
      name, imageRef: { type: 'string' }, adminPass, metadata, 'OS-DCF:diskConfig': diskConfig, accessIPv4, accessIPv6,
      preserve_ephemeral: { type: 'boolean' },
    };
    if (!mv('2.57')) props.personality = personality;
    if (mv('2.19')) props.description = description;
    if (mv('2.54')) props.key_name = { type: ['string', 'null'], minLength: 1, maxLength: 255 };
    if (mv('2.57')) props.user_data = { type: ['string', 'null'] };
    if (mv('2.63')) props.trusted_image_certificates = trustedCerts;
    if (mv('2.90')) props.hostname = hostname;
    return { type: 'object', properties: props, required: ['imageRef'], additionalProperties: false };
  });
}

/** Actions whose body is ignored: Nova documents null, clients send null or {}. */
export const noBody = {};

export const reboot = {
  type: 'object',
  properties: { type: { type: 'string', enum: ['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft'] } },
  required: ['type'],
  additionalProperties: false,
};

export const consoleOutput = {
  type: 'object',
  properties: {
    // -1 (or null) means the whole log; Nova takes numeric strings too.
    length: { type: ['integer', 'string', 'null'], pattern: '^-?[0-9]+$', minimum: -1 },
  },
  additionalProperties: false,
};

export const createImage = {
  type: 'object',
  // parameter_types.metadata, as Nova's create_image schema: keys [a-zA-Z0-9-_:. ]{1,255}.
  properties: { name, metadata },
  required: ['name'],
  additionalProperties: false,
};

/** nova/api/openstack/compute/schemas/create_backup.py */
export const createBackup = {
  type: 'object',
  properties: {
    name,
    backup_type: { type: 'string' },
    rotation: { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 0 },
    metadata,
  },
  required: ['name', 'backup_type', 'rotation'],
  additionalProperties: false,
};

/** addSecurityGroup / removeSecurityGroup: {"name": "<group>"} */
export const securityGroupAction = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  required: ['name'],
  additionalProperties: false,
};

export const resetState = {
  type: 'object',
  properties: { state: { type: 'string', enum: ['active', 'error'] } },
  required: ['state'],
  additionalProperties: false,
};

/** lock at 2.73: null, or {"locked_reason": "…"}. */
export const lock273 = {
  type: ['object', 'null'],
  properties: { locked_reason: { type: 'string', minLength: 1, maxLength: 255 } },
  additionalProperties: false,
};

export const metadataBody = {
  type: 'object',
  properties: { metadata },
  required: ['metadata'],
  additionalProperties: false,
};

export const metaItemBody = {
  type: 'object',
  properties: { meta: { ...metadata, minProperties: 1, maxProperties: 1 } },
  required: ['meta'],
  additionalProperties: false,
};

export { uuid };

/** resize (issue 15): nova/api/openstack/compute/schemas/servers.py resize. */
export const resizeSchema = {
  type: 'object',
  properties: { flavorRef: { type: ['string', 'integer'], minLength: 1 }, 'OS-DCF:diskConfig': diskConfig },
  required: ['flavorRef'],
  additionalProperties: false,
};
