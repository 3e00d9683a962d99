/**
 * The Glance v2 JSON schemas: what GET /v2/schemas/* serves (contract §6.11) and what
 * create/PATCH values are validated against (Glance validates requests with the very schema it
 * serves, glance/api/v2/images.py `RequestDeserializer`; so do we, plus bounds the database needs).
 *
 * NOTE(openstack): glanceclient drops every CLI field not declared under `properties` and
 * validates every image it receives against this schema (glanceclient/v2/shell.py, v2/images.py),
 * so the declared types must accept exactly what views.ts returns, and os_hash_value needs
 * maxLength 128 (sha512 hex).
 */

export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export const STATUSES = ['queued', 'saving', 'active', 'killed', 'deleted', 'uploading', 'importing', 'pending_delete', 'deactivated'] as const;

const UUID_PATTERN = '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$';

/** GET /v2/schemas/image, exactly as contract §6.11. */
export const IMAGE_SCHEMA = {
  name: 'image',
  additionalProperties: { type: 'string' },
  links: [
    { rel: 'self', href: '{self}' },
    { rel: 'enclosure', href: '{file}' },
    { rel: 'describedby', href: '{schema}' },
  ],
  properties: {
    id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
    name: { type: ['null', 'string'], maxLength: 255, description: 'Descriptive name for the image' },
    status: { type: 'string', readOnly: true, enum: [...STATUSES], description: 'Status of the image' },
    visibility: { type: 'string', enum: ['community', 'public', 'private', 'shared'], description: 'Scope of image accessibility' },
    protected: { type: 'boolean', description: 'If true, image will not be deletable.' },
    os_hidden: { type: 'boolean', description: 'If true, image will not appear in default image list response.' },
    checksum: { type: ['null', 'string'], readOnly: true, maxLength: 32, description: 'md5 hash of image contents.' },
    os_hash_algo: { type: ['null', 'string'], readOnly: true, maxLength: 64, description: 'Algorithm to calculate the os_hash_value' },
    os_hash_value: { type: ['null', 'string'], readOnly: true, maxLength: 128, description: 'Hexdigest of the image contents using the algorithm specified by the os_hash_algo' },
    owner: { type: ['null', 'string'], maxLength: 255, description: 'Owner of the image' },
    size: { type: ['null', 'integer'], readOnly: true, description: 'Size of image file in bytes' },
    virtual_size: { type: ['null', 'integer'], readOnly: true, description: 'Virtual size of image in bytes' },
    container_format: { type: ['null', 'string'], enum: [null, ...CONTAINER_FORMATS], description: 'Format of the container' },
    disk_format: { type: ['null', 'string'], enum: [null, ...DISK_FORMATS], description: 'Format of the disk' },
    created_at: { type: 'string', readOnly: true, description: 'Date and time of image registration' },
    updated_at: { type: 'string', readOnly: true, description: 'Date and time of the last image modification' },
    tags: { type: 'array', items: { type: 'string', maxLength: 255 }, description: 'List of strings related to the image' },
    direct_url: { type: 'string', readOnly: true, description: 'URL to access the image file kept in external store' },
    min_ram: { type: 'integer', description: 'Amount of ram (in MB) required to boot image.' },
    min_disk: { type: 'integer', description: 'Amount of disk space (in GB) required to boot image.' },
    self: { type: 'string', readOnly: true, description: 'An image self url' },
    file: { type: 'string', readOnly: true, description: 'An image file url' },
    stores: { type: 'string', readOnly: true, description: 'Store in which image data resides.' },
    schema: { type: 'string', readOnly: true, description: 'An image schema url' },
    locations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['url', 'metadata'],
        properties: { url: { type: 'string', maxLength: 255 }, metadata: { type: 'object' } },
      },
      description: 'A set of URLs to access the image file kept in external store',
    },
    kernel_id: { type: ['null', 'string'], is_base: false, description: 'ID of image stored in Glance that should be used as the kernel when booting an AMI-style image.' },
    ramdisk_id: { type: ['null', 'string'], is_base: false, description: 'ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image.' },
    instance_uuid: { type: 'string', is_base: false, description: 'Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)' },
    architecture: { type: 'string', is_base: false, description: 'Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html' },
    os_distro: { type: 'string', is_base: false, description: 'Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html' },
    os_version: { type: 'string', is_base: false, description: 'Operating system version as specified by the distributor.' },
    description: { type: 'string', is_base: false, description: 'A human-readable string describing this image.' },
  },
} as const;

/** GET /v2/schemas/images. */
export const IMAGES_SCHEMA = {
  name: 'images',
  properties: {
    images: { type: 'array', items: IMAGE_SCHEMA },
    first: { type: 'string' },
    next: { type: 'string' },
    schema: { type: 'string' },
  },
  links: [
    { rel: 'first', href: '{first}' },
    { rel: 'next', href: '{next}' },
    { rel: 'describedby', href: '{schema}' },
  ],
} as const;

export const MEMBER_SCHEMA = {
  name: 'member',
  properties: {
    created_at: { type: 'string', description: 'Date and time of image member creation' },
    image_id: { type: 'string', pattern: UUID_PATTERN, description: 'An identifier for the image' },
    member_id: { type: 'string', description: 'An identifier for the image member (tenantId)' },
    schema: { type: 'string', readOnly: true },
    status: { type: 'string', enum: ['pending', 'accepted', 'rejected'], description: 'The status of this image member' },
    updated_at: { type: 'string', description: 'Date and time of last modification of image member' },
  },
} as const;

export const MEMBERS_SCHEMA = {
  name: 'members',
  properties: {
    members: { type: 'array', items: MEMBER_SCHEMA },
    schema: { type: 'string' },
  },
  links: [{ rel: 'describedby', href: '{schema}' }],
} as const;

// ---------------------------------------------------------------- request rules

/**
 * Server-managed attributes: 403 "Attribute 'x' is read-only." on create and PATCH
 * (glance/api/v2/images.py `_readonly_properties` + `_disallowed_properties`).
 * docker_image_id is novadock's (the engine image id recorded at upload): never user-set.
 */
export const READ_ONLY_ATTRIBUTES = new Set([
  'created_at', 'updated_at', 'status', 'checksum', 'os_hash_algo', 'os_hash_value', 'size', 'virtual_size',
  'direct_url', 'self', 'file', 'schema', 'stores', 'locations', 'docker_image_id',
]);

/** 403 "Attribute 'x' is reserved." (`_reserved_properties`, and the os_glance namespace). */
export const RESERVED_ATTRIBUTES = new Set(['location', 'deleted', 'deleted_at']);
export const RESERVED_PREFIX = 'os_glance';

export function isReserved(key: string): boolean {
  return RESERVED_ATTRIBUTES.has(key) || key.startsWith(RESERVED_PREFIX);
}

/** Core attributes a client may set; everything else not read-only/reserved is a custom property. */
export const WRITABLE_CORE = ['name', 'visibility', 'protected', 'os_hidden', 'owner', 'container_format', 'disk_format', 'min_ram', 'min_disk', 'tags'] as const;
export type WritableCore = (typeof WRITABLE_CORE)[number];

export function isWritableCore(key: string): key is WritableCore {
  return (WRITABLE_CORE as readonly string[]).includes(key);
}

/** Every core attribute (JSON-patch `remove` of one of these is 403 "may not be removed"). */
export const CORE_ATTRIBUTES = new Set<string>([...WRITABLE_CORE, 'id', ...READ_ONLY_ATTRIBUTES]);

/** Glance's default quotas (image_property_quota, image_tag_quota): 413 above. */
export const MAX_PROPERTIES = 128;
export const MAX_TAGS = 128;

/**
 * What create bodies and PATCH values are validated against: the served schema, plus the
 * bounds SQLite integers and sane requests need (min_ram/min_disk non-negative 32-bit,
 * custom property names ≤ 255 characters and values ≤ 64 KiB).
 */
export const IMAGE_REQUEST_SCHEMA = {
  type: 'object',
  properties: {
    ...IMAGE_SCHEMA.properties,
    min_ram: { type: 'integer', minimum: 0, maximum: 2147483647 },
    min_disk: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
  propertyNames: { maxLength: 255 },
  additionalProperties: { type: 'string', maxLength: 65535 },
} as const;
