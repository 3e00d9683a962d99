/**
 * Query-string readers shared by the routers. Express' extended parser gives strings, arrays of
 * them (a repeated parameter) or objects (bracketed keys); OpenStack's services read the last value
 * of a repeated single-valued parameter (webob's MultiDict.get), and so do these.
 */
import type { Request } from 'express';
import { badRequest } from '../errors';
import { boolFromString } from './validation';

/**
 * One query parameter as a string: the last value when repeated, and a 400 for the bracketed
 * object forms Express' extended parser produces.
 */
export function queryParam(req: Pick<Request, 'query'>, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  if (typeof one !== 'string') throw badRequest(`Invalid input for query parameters ${name}. Value: ${JSON.stringify(v)}. It is not a string.`);
  return one;
}

/** A non-negative integer query parameter (Nova's parameter_types.non_negative_integer); 400 otherwise. */
export function nonNegativeParam(req: Pick<Request, 'query'>, name: string): number | undefined {
  const raw = queryParam(req, name);
  if (raw === undefined) return undefined;
  if (!/^[0-9]+$/.test(raw)) throw badRequest(`Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' does not match '^[0-9]*$'`);
  return Number(raw);
}

/** Pagination `limit`: a non-negative integer, capped at `max` (Nova's CONF.api.max_limit). */
export function limitParam(req: Pick<Request, 'query'>, max: number): number | undefined {
  const n = nonNegativeParam(req, 'limit');
  return n === undefined ? undefined : Math.min(n, max);
}

/** A boolean query parameter read strictly (oslo's bool_from_string, surrounding spaces ignored); 400 otherwise. */
export function boolParam(req: Pick<Request, 'query'>, name: string): boolean | undefined {
  const raw = queryParam(req, name);
  if (raw === undefined) return undefined;
  const b = boolFromString(raw.trim());
  if (b === undefined) throw badRequest(`Invalid input for query parameters ${name}. Value: ${raw}. '${raw}' is not a boolean.`);
  return b;
}

/** A raw query value's last string (undefined for anything else), without refusing objects. */
export function lastString(v: unknown): string | undefined {
  if (Array.isArray(v)) return lastString(v[v.length - 1]);
  return typeof v === 'string' ? v : undefined;
}

/** Every string of a raw query value (a repeated parameter gives several). */
export function allStrings(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}
