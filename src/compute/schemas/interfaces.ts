/** Request schema of POST /servers/{id}/os-interface (nova/api/openstack/compute/schemas/attach_interfaces.py). */
import { tag } from './servers';

export const attachInterface = {
  type: 'object',
  properties: {
    interfaceAttachment: {
      type: 'object',
      properties: {
        net_id: { type: 'string', format: 'uuid' },
        port_id: { type: 'string', format: 'uuid' },
        fixed_ips: {
          type: 'array', minItems: 1, maxItems: 1,
          items: { type: 'object', properties: { ip_address: { type: 'string', format: 'ipv4' } }, required: ['ip_address'], additionalProperties: false },
        },
        tag,
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};
