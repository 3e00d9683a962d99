/** Request schemas for /servers/{id}/tags (nova/api/openstack/compute/schemas/server_tags.py). */
import { ajv } from '../../http/validation';
import { MAX_TAG_COUNT } from '../services/server-tags';
import { tag } from './servers';

/** PUT /servers/{id}/tags */
export const updateAllTags = {
  type: 'object',
  properties: { tags: { type: 'array', items: tag, maxItems: MAX_TAG_COUNT } },
  required: ['tags'],
  additionalProperties: false,
};

const tagValidator = ajv.compile(tag);

/**
 * The 400 text of PUT /servers/{id}/tags/{tag} for a tag Nova's parameter_types.tag refuses (the
 * tag is in the path, so Nova checks it by hand and words jsonschema's complaint), or undefined.
 */
export function invalidTagMessage(value: string): string | undefined {
  const ok: boolean = tagValidator(value);
  if (ok) return undefined;
  const err = value.length > tag.maxLength ? `'${value}' is too long` : `'${value}' does not match '${tag.pattern}'`;
  return `Tag '${value}' is invalid. It must be a non empty string without characters '/' and ','. Validation error message: ${err}`;
}
