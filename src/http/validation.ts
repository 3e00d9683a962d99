/**
 * Strict JSON Schema validation (ajv), compiled once per schema. Failures become 400s whose
 * message names the field, in Nova's words (nova/api/validation/validators.py):
 * "Invalid input for field/attribute <path>. Value: <value>. <reason>".
 * Compute's shared fragments (name, boolean…) live in src/compute/schemas/parameter-types.ts.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { badRequest } from '../errors';

export const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });
addFormats(ajv);

/** Nova's "uuid" format: the usual shape of hex digits, dashes optional, any case. */
export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
ajv.addFormat('uuid', UUID_RE);

const cache = new WeakMap<object, ValidateFunction>();

function compiled(schema: object): ValidateFunction {
  let v = cache.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    cache.set(schema, v);
  }
  return v;
}

function fieldOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String((e.params as { additionalProperty: string }).additionalProperty));
  return parts.join('/');
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required':
      return `'${(e.params as { missingProperty: string }).missingProperty}' is a required property`;
    case 'additionalProperties':
      return `Additional properties are not allowed ('${(e.params as { additionalProperty: string }).additionalProperty}' was unexpected)`;
    case 'type':
      return `is not of type '${(e.params as { type: string }).type}'`;
    case 'enum':
      return `is not one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
    default:
      return e.message ?? 'is invalid';
  }
}

function show(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s === undefined ? 'None' : s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** Valid, or throws a 400 that names the field. Returns the value typed as T. */
export function validate<T>(schema: object, value: unknown): T {
  const v = compiled(schema);
  if (v(value)) return value as T;
  const e = v.errors![0];
  const field = fieldOf(e);
  let at: unknown = value;
  for (const p of e.instancePath.split('/').filter(Boolean)) at = (at as Record<string, unknown>)?.[p];
  if (!field) throw badRequest(`Invalid input: the request body ${describe(e)}.`);
  throw badRequest(`Invalid input for field/attribute ${field}. Value: ${show(at)}. ${describe(e)}`);
}

/** oslo strutils.bool_from_string(strict=True) spellings (compared lowercased). */
export const TRUE_STRINGS: readonly string[] = ['1', 't', 'true', 'on', 'y', 'yes'];
export const FALSE_STRINGS: readonly string[] = ['0', 'f', 'false', 'off', 'n', 'no'];

/** True or false for oslo's spellings (any case), undefined for anything else. Callers choose the 400. */
export function boolFromString(raw: string): boolean | undefined {
  const s = raw.toLowerCase();
  if (TRUE_STRINGS.includes(s)) return true;
  if (FALSE_STRINGS.includes(s)) return false;
  return undefined;
}

/** Boolean query values as the clients send them: True/False/true/1/yes… (case-insensitive). */
export function parseBool(raw: unknown, name: string): boolean {
  const b = boolFromString(String(raw));
  if (b === undefined) throw badRequest(`Invalid value '${String(raw)}' for '${name}': expected a boolean.`);
  return b;
}
