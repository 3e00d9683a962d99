/**
 * Request bodies of the Networking API checked the way Neutron checks them
 * (neutron/api/v2/base.py prepare_request_body, neutron_lib/api/attributes.py): the resource's
 * key, unknown attributes, what POST and PUT may carry, required ones, then each value's
 * validator; every refusal a 400 in Neutron's words. A resource's attributes are one table, as
 * neutron-lib's api definitions are.
 */
import ipaddr from 'ipaddr.js';
import { badRequest } from '../errors';
import { UUID_RE } from '../http/validation';

/** One value check: undefined when valid, else Neutron's reason. */
export type Validator = (value: unknown) => string | undefined;

export interface AttributeSpec {
  allowPost: boolean;
  allowPut: boolean;
  /** POST needs it. */
  required?: boolean;
  validate?: Validator;
}

export type AttributeMap = Record<string, AttributeSpec>;

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

export const validators = {
  uuid: ((v) => (typeof v === 'string' && UUID_RE.test(v) ? undefined : `'${show(v)}' is not a valid UUID`)) as Validator,
  uuidOrNone: ((v) => (v === null ? undefined : validators.uuid(v))) as Validator,
  ip: ((v) => (typeof v === 'string' && ipaddr.isValid(v) && (v.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(v)) ? undefined : `'${show(v)}' is not a valid IP address`)) as Validator,
  ipOrNone: ((v) => (v === null ? undefined : validators.ip(v))) as Validator,
  string: (max: number): Validator => (v) => {
    if (typeof v !== 'string') return `'${show(v)}' is not a valid string`;
    return v.length > max ? `'${v}' exceeds maximum length of ${max}` : undefined;
  },
  stringOrNone: (max: number): Validator => (v) => (v === null ? undefined : validators.string(max)(v)),
  boolean: ((v) => (typeof v === 'boolean' || (typeof v === 'string' && /^(true|false)$/i.test(v)) ? undefined : `'${show(v)}' is not a valid boolean value`)) as Validator,
  dict: ((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : `'${show(v)}' is not a dictionary`)) as Validator,
  dictOrNone: ((v) => (v === null || v === undefined ? undefined : validators.dict(v))) as Validator,
};

/** Attributes every resource has: its project (admins may name another). */
export const PROJECT_ATTRIBUTES: AttributeMap = {
  project_id: { allowPost: true, allowPut: false, validate: validators.string(255) },
  tenant_id: { allowPost: true, allowPut: false, validate: validators.string(255) },
};

/**
 * The resource's attributes from `body` (`{<resource>: {...}}`), checked: throws a 400 in
 * Neutron's words for the first thing wrong.
 */
export function parseBody<T>(resource: string, body: unknown, attrs: AttributeMap, isCreate: boolean): T {
  const res = (body as Record<string, unknown>)[resource];
  if (res === undefined || res === null) throw badRequest(`Unable to find '${resource}' in request body`);
  if (typeof res !== 'object' || Array.isArray(res)) throw badRequest(`Object '${resource}' contains invalid data`);
  const dict = res as Record<string, unknown>;
  const unknown = Object.keys(dict).filter((k) => !(k in attrs));
  if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  if (dict.project_id !== undefined && dict.tenant_id !== undefined && dict.project_id !== dict.tenant_id) {
    throw badRequest("'project_id' and 'tenant_id' do not match");
  }
  for (const [name, spec] of Object.entries(attrs)) {
    if (isCreate) {
      if (spec.allowPost && spec.required && !(name in dict)) throw badRequest(`Failed to parse request. Required attribute '${name}' not specified`);
      if (!spec.allowPost && name in dict) throw badRequest(`Attribute '${name}' not allowed in POST`);
    } else if (!spec.allowPut && name in dict) {
      throw badRequest(`Cannot update read-only attribute ${name}`);
    }
  }
  for (const [name, spec] of Object.entries(attrs)) {
    if (!(name in dict) || !spec.validate) continue;
    const reason = spec.validate(dict[name]);
    if (reason) throw badRequest(`Invalid input for ${name}. Reason: ${reason}.`);
  }
  return dict as T;
}

/**
 * A list's answer per Neutron's query: filters on the item's attributes (`?status=ACTIVE`,
 * repeated for any of several values) and `fields` (only those keys). Unknown filter keys are
 * ignored, as Neutron does for attributes it does not know.
 */
export function listQuery<T extends Record<string, unknown>>(items: T[], query: Record<string, unknown>, attributes: readonly string[]): Partial<T>[] {
  const values = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
  let out = items;
  for (const key of attributes) {
    const wanted = values(query[key]);
    if (wanted.length === 0) continue;
    out = out.filter((item) => wanted.includes(item[key] === null ? '' : String(item[key])));
  }
  return out.map((item) => pickFields(item, query.fields));
}

/** The item with only the asked-for `fields` (all when none are asked). */
export function pickFields<T extends Record<string, unknown>>(item: T, fields: unknown): Partial<T> {
  const wanted = Array.isArray(fields) ? fields.map(String) : typeof fields === 'string' ? fields.split(',') : [];
  if (wanted.length === 0) return item;
  return Object.fromEntries(Object.entries(item).filter(([k]) => wanted.includes(k))) as Partial<T>;
}
