/**
 * Request schemas for key pairs, after nova/api/openstack/compute/schemas/keypairs.py:
 * 2.1 (name, public_key), 2.2 (+type), 2.10 (+user_id, admin), 2.92 (public_key required,
 * names may also hold '@' and '.').
 */

// NOTE(openstack): Nova checks key pair names against a set of "safe" characters
// (validators.py keypair_name_20 / keypair_name_292), not against its general name rule.
const name20 = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9_\\- ]+$' };
const name292 = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9@._\\- ]+$' };
const type = { type: 'string', enum: ['ssh', 'x509'] };

function wrap(properties: Record<string, unknown>, required: string[]) {
  return {
    type: 'object',
    properties: {
      keypair: { type: 'object', properties, required, additionalProperties: false },
    },
    required: ['keypair'],
    additionalProperties: false,
  };
}

export const createKeypair = wrap({ name: name20, public_key: { type: 'string' } }, ['name']);
export const createKeypairV22 = wrap({ name: name20, type, public_key: { type: 'string' } }, ['name']);
export const createKeypairV210 = wrap({ name: name20, type, public_key: { type: 'string' }, user_id: { type: 'string' } }, ['name']);
export const createKeypairV292 = wrap({ name: name292, type, public_key: { type: 'string' }, user_id: { type: 'string' } }, ['name', 'public_key']);

/** The create schema of a request's microversion. */
export function createKeypairSchema(mv: (version: string) => boolean): object {
  return mv('2.92') ? createKeypairV292 : mv('2.10') ? createKeypairV210 : mv('2.2') ? createKeypairV22 : createKeypair;
}
