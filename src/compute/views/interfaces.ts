/** os-interface's interfaceAttachment (nova/api/openstack/compute/attach_interfaces.py _translate_interface_attachment_view). */
import type { PortWithIps } from '../services/server-ports';

export function interfaceAttachmentView(p: PortWithIps) {
  return {
    net_id: p.network.id,
    port_id: p.port.id,
    mac_addr: p.port.mac_address,
    port_state: p.port.status,
    fixed_ips: p.fixed_ips.map((f) => ({ subnet_id: f.subnet_id, ip_address: f.ip_address })),
  };
}
