/**
 * Request schemas for server groups, after nova/api/openstack/compute/schemas/server_groups.py:
 * 2.1 `policies: [one of affinity, anti-affinity]`, 2.15 adds the soft-* policies, 2.64 replaces
 * the list with one `policy` and `rules` (`max_server_per_host`). The list's query parameters are
 * free until 2.75, which refuses unknown ones.
 */
import { badRequest } from '../../errors';
import type { GroupPolicy } from '../scheduler/types';
import { name } from './parameter-types';

const HARD: GroupPolicy[] = ['anti-affinity', 'affinity'];
const ALL: GroupPolicy[] = [...HARD, 'soft-anti-affinity', 'soft-affinity'];

/** A list of exactly one policy (< 2.64). */
const policies = (allowed: GroupPolicy[]) => ({
  type: 'array',
  items: [{ type: 'string', enum: allowed }],
  uniqueItems: true,
  minItems: 1,
  maxItems: 1,
  additionalItems: false,
});

function wrap(properties: Record<string, unknown>, required: string[]) {
  return {
    type: 'object',
    properties: {
      server_group: { type: 'object', properties, required, additionalProperties: false },
    },
    required: ['server_group'],
    additionalProperties: false,
  };
}

export const createServerGroup = wrap({ name, policies: policies(HARD) }, ['name', 'policies']);
export const createServerGroupV215 = wrap({ name, policies: policies(ALL) }, ['name', 'policies']);
export const createServerGroupV264 = wrap({
  name,
  policy: { type: 'string', enum: ALL },
  rules: {
    type: 'object',
    // parameter_types.positive_integer; its minimum, which Nova also applies to strings, is checked by ruleValue.
    properties: { max_server_per_host: { type: ['integer', 'string'], pattern: '^[0-9]*$', minLength: 1 } },
    additionalProperties: false,
  },
}, ['name', 'policy']);

/** The create schema of a request's microversion. */
export function createServerGroupSchema(mv: (version: string) => boolean): object {
  return mv('2.64') ? createServerGroupV264 : mv('2.15') ? createServerGroupV215 : createServerGroup;
}

/** The body of a valid create request, whatever its microversion. */
export interface CreateServerGroupBody {
  server_group: { name: string; policies?: GroupPolicy[]; policy?: GroupPolicy; rules?: { max_server_per_host?: number | string } };
}

/**
 * `max_server_per_host` as a number: Nova's validator applies `minimum: 1` to strings of digits
 * too, and says so in jsonschema's words.
 */
export function ruleValue(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (n < 1) throw badRequest(`Invalid input for field/attribute server_group/rules/max_server_per_host. Value: ${n}. ${n} is less than the minimum of 1`);
  return n;
}

/** Query parameters of the list (index_query; unknown ones refused from 2.75). */
export const LIST_QUERY_PARAMETERS = new Set(['all_projects', 'limit', 'offset']);
