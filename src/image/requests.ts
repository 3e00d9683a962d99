/**
 * Create bodies and JSON-patch documents → validated changes, with Glance's exact semantics
 * (glance/api/v2/images.py `RequestDeserializer.create/update`, `ImagesController._do_add/
 * _do_replace/_do_remove`) and its default policy (glance/policies/image.py):
 *
 * - `publicize_image` is `role:admin`: only admins may make an image public (403 otherwise);
 *   `communitize_image` is project member or admin, so members may make images community.
 * - Only admins may give an image to another project (`owner`), on create and on PATCH.
 *
 * Pure functions: no I/O, so the rules are unit-tested directly.
 */
import { badRequest, conflict, forbidden, tooLarge } from '../errors';
import { validate } from '../http/validation';
import type { ImageEdit } from '../db/image-repo';
import type { ImageRecord, MemberStatus, Visibility } from './image-record';
import { MEMBER_STATUSES } from './image-record';
import {
  CORE_ATTRIBUTES, IMAGE_REQUEST_SCHEMA, isReserved, isWritableCore, MAX_PROPERTIES, MAX_TAGS, READ_ONLY_ATTRIBUTES, WritableCore,
} from './schemas';

/** Who is asking, as far as these rules care. */
export interface Requester {
  projectId: string;
  isAdmin: boolean;
}

const tooMany = tooLarge;

function checkWritable(key: string): void {
  if (key === 'locations') throw forbidden("It's not allowed to add locations if locations are invisible.");
  if (READ_ONLY_ATTRIBUTES.has(key)) throw forbidden(`Attribute '${key}' is read-only.`);
  if (isReserved(key)) throw forbidden(`Attribute '${key}' is reserved.`);
}

function checkPublicize(visibility: Visibility | undefined, who: Requester): void {
  if (visibility === 'public' && !who.isAdmin) throw forbidden('You are not authorized to complete publicize_image action.');
}

function checkProperties(props: Record<string, string>): void {
  if (Object.keys(props).length > MAX_PROPERTIES) throw tooMany(`Attempted to add more than ${MAX_PROPERTIES} properties to the image.`);
}

function checkTags(tags: string[]): void {
  if (new Set(tags).size > MAX_TAGS) throw tooMany(`Attempted to add more than ${MAX_TAGS} tags to the image.`);
}

/** The attributes of a new image, from a POST /v2/images body. */
export interface NewImage {
  id?: string;
  name: string | null;
  visibility: Visibility;
  protected: boolean;
  os_hidden: boolean;
  owner: string;
  container_format: string | null;
  disk_format: string | null;
  min_ram: number;
  min_disk: number;
  tags: string[];
  properties: Record<string, string>;
}

/** Validates a create body (400/403/413) and splits it into core attributes and custom properties. */
export function parseCreate(body: unknown, who: Requester): NewImage {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('Request body must be a JSON object.');
  const b = { ...(body as Record<string, unknown>) };
  for (const key of Object.keys(b)) checkWritable(key);
  // NOTE(openstack): Glance's schema declares kernel_id/ramdisk_id nullable; null means "not set".
  for (const k of ['kernel_id', 'ramdisk_id']) if (b[k] === null) delete b[k];
  validate(IMAGE_REQUEST_SCHEMA, b);

  const visibility = (b.visibility as Visibility | undefined) ?? 'shared';
  checkPublicize(visibility, who);
  const owner = (b.owner as string | null | undefined) ?? who.projectId;
  if (owner !== who.projectId && !who.isAdmin) throw forbidden(`You are not permitted to create images owned by '${owner}'.`);

  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(b)) {
    if (k === 'id' || isWritableCore(k)) continue;
    properties[k] = v as string;
  }
  const tags = [...new Set((b.tags as string[] | undefined) ?? [])];
  checkTags(tags);
  checkProperties(properties);
  return {
    id: b.id as string | undefined,
    name: (b.name as string | null | undefined) ?? null,
    visibility,
    protected: (b.protected as boolean | undefined) ?? false,
    os_hidden: (b.os_hidden as boolean | undefined) ?? false,
    owner,
    container_format: (b.container_format as string | null | undefined) ?? null,
    disk_format: (b.disk_format as string | null | undefined) ?? null,
    min_ram: (b.min_ram as number | undefined) ?? 0,
    min_disk: (b.min_disk as number | undefined) ?? 0,
    tags,
    properties,
  };
}

// ---------------------------------------------------------------- PATCH

/** The two media types Glance accepts, and the JSON-schema draft each speaks. */
export const PATCH_MEDIA_TYPES: Record<string, 4 | 10> = {
  'application/openstack-images-v2.0-json-patch': 4,
  'application/openstack-images-v2.1-json-patch': 10,
};

export type PatchOp = 'add' | 'replace' | 'remove';

export interface Change {
  op: PatchOp;
  /** The attribute (the single path segment, JSON-pointer unescaped). */
  attr: string;
  value?: unknown;
}

/** Glance's limited JSON pointer: one level, no empty or adjacent segments, valid ~ escapes. */
function parsePointer(pointer: unknown): string {
  if (typeof pointer !== 'string') throw badRequest('Pointer must be a string.');
  if (!pointer.startsWith('/')) throw badRequest(`Pointer \`${pointer}\` does not start with "/".`);
  if (/\/\s*?\//.test(pointer.slice(1))) throw badRequest(`Pointer \`${pointer}\` contains adjacent "/".`);
  if (pointer.length > 1 && pointer.endsWith('/')) throw badRequest(`Pointer \`${pointer}\` end with "/".`);
  if (pointer.slice(1).trim() === '') throw badRequest(`Pointer \`${pointer}\` does not contains valid token.`);
  if (/~[^01]/.test(pointer) || pointer.endsWith('~')) throw badRequest(`Pointer \`${pointer}\` contains "~" not part of a recognized escape sequence.`);
  const parts = pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~').trim());
  if (parts.length > 1) {
    if (parts[0] === 'locations') throw forbidden("It's not allowed to update locations if locations are invisible.");
    throw badRequest(`Invalid JSON pointer for this resource: '${pointer}'`);
  }
  return parts[0];
}

/**
 * Reads a patch document. Both spellings are understood under both media types:
 * RFC 6902 `{"op": "add", "path": "/x", "value": …}` and Glance's older
 * `{"add": "/x", "value": …}` (tempest sends the latter as v2.0-json-patch).
 */
export function parsePatch(body: unknown): Change[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw): Change => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('Operations must be JSON objects.');
    const r = raw as Record<string, unknown>;
    let op: string;
    let pointer: unknown;
    if ('op' in r) {
      op = String(r.op);
      if (!['add', 'replace', 'remove'].includes(op)) throw badRequest(`Invalid operation: \`${op}\`. Supported operations are add, remove and replace.`);
      if (!('path' in r)) throw badRequest("Unable to find 'path' in JSON Schema change");
      pointer = r.path;
    } else {
      const ops = (['add', 'replace', 'remove'] as const).filter((k) => k in r);
      if (ops.length !== 1) throw badRequest('Operation objects must contain exactly one member named "add", "remove", or "replace".');
      op = ops[0];
      pointer = r[op];
    }
    const attr = parsePointer(pointer);
    if (op !== 'remove' && !('value' in r)) throw badRequest(`Operation "${op}" requires a member named "value".`);
    if (attr === 'id') throw forbidden("Attribute 'id' is read-only.");
    checkWritable(attr);
    if (op !== 'remove') {
      const partial: Record<string, unknown> = { [attr]: r.value };
      // kernel_id/ramdisk_id may be null per the schema; no other custom property may.
      validate(IMAGE_REQUEST_SCHEMA, partial);
    }
    return op === 'remove' ? { op: 'remove', attr } : { op: op as PatchOp, attr, value: r.value };
  });
}

/**
 * Applies changes to an image, all or nothing, and returns only what changed.
 * `draft` 4 (v2.0 media type) refuses `add` of a present attribute; 10 (v2.1) treats it as set.
 */
export function applyPatch(current: ImageRecord, changes: Change[], draft: 4 | 10, who: Requester): ImageEdit {
  const next: Record<WritableCore, unknown> = {
    name: current.name,
    visibility: current.visibility,
    protected: current.protected,
    os_hidden: current.os_hidden,
    owner: current.owner,
    container_format: current.container_format,
    disk_format: current.disk_format,
    min_ram: current.min_ram,
    min_disk: current.min_disk,
    tags: [...current.tags],
  };
  const props: Record<string, string> = { ...current.properties };
  let propsChanged = false;

  const setCore = (attr: WritableCore, value: unknown) => {
    if ((attr === 'container_format' || attr === 'disk_format') && !['queued', 'importing'].includes(current.status)) {
      throw forbidden(`Attribute ${attr} can be only replaced for a queued image.`);
    }
    if (attr === 'visibility') checkPublicize(value as Visibility, who);
    if (attr === 'owner' && value !== current.owner && !who.isAdmin) throw forbidden('Owner can only be changed by an admin.');
    if (attr === 'tags') value = [...new Set(value as string[])];
    next[attr] = value;
  };
  const isPresent = (attr: string) => CORE_ATTRIBUTES.has(attr) || Object.prototype.hasOwnProperty.call(props, attr);

  for (const c of changes) {
    switch (c.op) {
      case 'add':
        if (draft === 4 && isPresent(c.attr)) throw conflict(`Property ${c.attr} already present.`);
        if (isWritableCore(c.attr)) setCore(c.attr, c.value);
        else {
          props[c.attr] = c.value as string;
          propsChanged = true;
        }
        break;
      case 'replace':
        if (isWritableCore(c.attr)) setCore(c.attr, c.value);
        else if (Object.prototype.hasOwnProperty.call(props, c.attr)) {
          props[c.attr] = c.value as string;
          propsChanged = true;
        } else throw conflict(`Property ${c.attr} does not exist.`);
        break;
      case 'remove':
        if (CORE_ATTRIBUTES.has(c.attr)) throw forbidden(`Property ${c.attr} may not be removed.`);
        if (!Object.prototype.hasOwnProperty.call(props, c.attr)) throw conflict(`Property ${c.attr} does not exist.`);
        delete props[c.attr];
        propsChanged = true;
        break;
    }
  }
  // kernel_id/ramdisk_id set to null mean "unset" (the schema allows null; properties are strings).
  for (const [k, v] of Object.entries(props)) if (v === null) delete props[k];

  const edit: ImageEdit = {};
  for (const attr of Object.keys(next) as WritableCore[]) {
    const before = attr === 'tags' ? JSON.stringify([...current.tags].sort()) : current[attr];
    const after = attr === 'tags' ? JSON.stringify([...(next.tags as string[])].sort()) : next[attr];
    if (before !== after) (edit as Record<string, unknown>)[attr] = next[attr];
  }
  if (edit.tags) checkTags(edit.tags);
  if (propsChanged) {
    checkProperties(props);
    edit.properties = props;
  }
  return edit;
}

/**
 * POST …/members `{"member": "<project id>"}` → the member id
 * (glance/api/v2/image_members.py `RequestDeserializer.create`).
 */
export function parseMemberCreate(body: unknown): string {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Expected a member in the form: {"member": "image_id"}');
  if (!('member' in body)) throw badRequest('Member to be added not specified');
  const member = (body as { member: unknown }).member;
  if (typeof member !== 'string') throw badRequest('Expected a member in the form: {"member": "image_id"}');
  if (member.trim() === '') throw badRequest("Member can't be empty");
  if (member.length > 255) throw badRequest('Member id is longer than 255 characters.');
  return member;
}

/** PUT …/members/{member_id} `{"status": "accepted"}` → the new status. */
export function parseMemberStatus(body: unknown): MemberStatus {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Expected a status in the form: {"status": "status"}');
  if (!('status' in body)) throw badRequest('Status not specified');
  const status = (body as { status: unknown }).status;
  if (typeof status !== 'string' || !(MEMBER_STATUSES as readonly string[]).includes(status)) {
    throw badRequest(`Invalid status: ${typeof status === 'string' ? status : JSON.stringify(status)}. It must be one of ${MEMBER_STATUSES.join(', ')}.`);
  }
  return status as MemberStatus;
}
