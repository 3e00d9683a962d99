/**
 * Wire shapes of the os-networks proxy (nova/api/openstack/compute/networks.py with neutron):
 * the one pseudo network, every nova-network field null. Security groups render through
 * defaultSecurityGroup (src/compute/networks.ts), the same shape the servers' groups use.
 */
import { PRIVATE_NETWORK_ID, PROJECT_NETWORK_LABEL } from '../networks';

/** Nova's neutron-proxied network_dict: id and label, every nova-network field null (more of them for admins). */
export function networkView(isAdmin: boolean, id = PRIVATE_NETWORK_ID, label = PROJECT_NETWORK_LABEL): Record<string, unknown> {
  const v: Record<string, unknown> = { id };
  for (const f of ['cidr', 'netmask', 'gateway', 'broadcast', 'dns1', 'dns2', 'cidr_v6', 'gateway_v6']) v[f] = null;
  v.label = label;
  v.netmask_v6 = null;
  if (isAdmin) {
    for (const f of ['created_at', 'updated_at', 'deleted_at', 'deleted', 'injected', 'bridge', 'vlan', 'vpn_public_address',
      'vpn_public_port', 'vpn_private_address', 'dhcp_start', 'project_id', 'host', 'bridge_interface', 'multi_host',
      'priority', 'rxtx_base', 'mtu', 'dhcp_server', 'enable_dhcp', 'share_address']) v[f] = null;
  }
  return v;
}
