/**
 * Request bodies of the Networking API, checked as Neutron checks them (neutron-lib
 * api/attributes.py): the resource's key must be there, unknown attributes are refused, each
 * attribute passes its schema (ajv, compiled once) or the answer names it:
 * "Invalid input for <attr>. Reason: <why>."; attributes that are not writable on POST or PUT
 * are refused with Neutron's texts.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ajv } from '../http/validation';
import { neutronCore } from './errors';

export interface AttributeSpec {
  schema: object;
  post?: boolean;
  put?: boolean;
  /** Admin-only to set (policy rule `<verb>_<resource>:<attr>`). */
  adminOnly?: boolean;
}

export type ResourceSpec = Record<string, AttributeSpec>;

const compiled = new WeakMap<object, ValidateFunction>();
function check(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v));

function reason(value: unknown, e: ErrorObject): string {
  switch (e.keyword) {
    case 'type':
      return `${show(value)} is not a valid ${(e.params as { type: string }).type === 'boolean' ? 'boolean value' : (e.params as { type: string }).type}`;
    case 'enum':
      return `${show(value)} is not in ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
    case 'maxLength':
      return `${show(value)} exceeds maximum length of ${(e.params as { limit: number }).limit}`;
    case 'required':
      return `Validation of dictionary's keys failed. Expected keys: {'${(e.params as { missingProperty: string }).missingProperty}'}`;
    case 'additionalProperties':
      return `Unexpected keys supplied: ${(e.params as { additionalProperty: string }).additionalProperty}`;
    default:
      return `${show(value)} ${e.message ?? 'is invalid'}`;
  }
}

/** Neutron's boolean attribute: true/false, or the strings and integers convert_to_boolean takes. */
export function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) return true;
    if (['false', '0', 'f', 'no', 'n', 'off'].includes(s)) return false;
  }
  return undefined;
}

export const BOOL = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: ['true', 'false', 'True', 'False', '1', '0'] }, { type: 'integer', enum: [0, 1] }] };
export const NAME = { type: 'string', maxLength: 255 };
export const DESCRIPTION = { type: 'string', maxLength: 255 };

/** The body's resource object, checked against the spec for `verb`; its attributes as given. */
export function resourceBody(body: unknown, resource: string, spec: ResourceSpec, verb: 'post' | 'put', required: string[] = []): Record<string, unknown> {
  const b = body as Record<string, unknown>;
  const r = b?.[resource];
  if (r === undefined) throw neutronCore.badRequest(`Unable to find '${resource}' in request body`);
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw neutronCore.badRequest(`Body contains invalid data`);
  const attrs = r as Record<string, unknown>;
  const unknown = Object.keys(attrs).filter((k) => !(k in spec));
  if (unknown.length) throw neutronCore.badRequest(`Unrecognized attribute(s) '${unknown.join(', ')}'`);
  for (const [k, v] of Object.entries(attrs)) {
    const a = spec[k];
    if (verb === 'post' && !a.post) throw neutronCore.badRequest(`Attribute '${k}' not allowed in POST`);
    if (verb === 'put' && !a.put) throw neutronCore.badRequest(`Cannot update read-only attribute ${k}`);
    const ok = check(a.schema);
    if (!ok(v)) throw neutronCore.badAttribute(k, reason(v, ok.errors![0]));
  }
  if (verb === 'post') {
    for (const k of required) if (attrs[k] === undefined) throw neutronCore.badRequest(`Failed to parse request. Required attribute '${k}' not specified`);
  }
  return attrs;
}
