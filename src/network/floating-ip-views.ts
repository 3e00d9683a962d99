/**
 * Floating IPs on the wire, as Neutron shows them (neutron_lib/api/definitions/l3.py, with the
 * fip-port-details extension's port_details), and the attributes a request may carry.
 */
import type { FloatingIp } from './floating-ips';
import { AttributeMap, PROJECT_ATTRIBUTES, validators } from './attributes';

export const FLOATINGIP_ATTRIBUTES: AttributeMap = {
  id: { allowPost: false, allowPut: false },
  floating_ip_address: { allowPost: true, allowPut: false, validate: validators.ip },
  subnet_id: { allowPost: true, allowPut: false, validate: validators.uuidOrNone },
  floating_network_id: { allowPost: true, allowPut: false, required: true, validate: validators.uuid },
  router_id: { allowPost: false, allowPut: false },
  port_id: { allowPost: true, allowPut: true, validate: validators.uuidOrNone },
  fixed_ip_address: { allowPost: true, allowPut: true, validate: validators.ipOrNone },
  status: { allowPost: false, allowPut: false },
  description: { allowPost: true, allowPut: true, validate: validators.string(255) },
  port_details: { allowPost: false, allowPut: false },
  ...PROJECT_ATTRIBUTES,
};

/** What a list may filter on. */
export const FLOATINGIP_FILTERS = [
  'id', 'floating_ip_address', 'floating_network_id', 'router_id', 'port_id', 'fixed_ip_address', 'status', 'description', 'project_id', 'tenant_id',
] as const;

export function floatingIpView({ fip, port }: FloatingIp): Record<string, unknown> {
  return {
    id: fip.id,
    tenant_id: fip.project_id,
    project_id: fip.project_id,
    floating_ip_address: fip.floating_ip_address,
    floating_network_id: fip.floating_network_id,
    router_id: fip.router_id,
    port_id: fip.port_id,
    fixed_ip_address: fip.fixed_ip_address,
    status: fip.status,
    description: fip.description,
    port_details: port ? {
      name: port.name, network_id: port.network_id, mac_address: port.mac_address, admin_state_up: port.admin_state_up,
      status: port.status, device_id: port.device_id, device_owner: port.device_owner,
    } : null,
    tags: [],
    created_at: fip.created_at.replace(/\.\d+Z$/, 'Z'),
    updated_at: fip.updated_at.replace(/\.\d+Z$/, 'Z'),
    revision_number: fip.revision_number,
  };
}
