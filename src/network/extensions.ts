/**
 * The Networking API extensions served, as `GET /v2.0/extensions` lists them. Clients decide what
 * to send by this list (openstacksdk, Horizon, Tempest's `is_extension_enabled`), so it names
 * exactly what is served: each part of the network service lists its own aliases, in its block.
 */
export interface ExtensionDescriptor {
  alias: string;
  name: string;
  description: string;
}

const ext = (alias: string, name: string, description: string): ExtensionDescriptor => ({ alias, name, description });

export const EXTENSIONS: ExtensionDescriptor[] = [
  // core: networks, subnets, ports, quotas (src/network/api/networks*.ts, subnets*.ts, ports*.ts)
  // security groups (src/network/api/security-groups-router.ts)
  ext('security-group', 'security-group', 'The security groups extension.'),
  ext('stateful-security-group', 'Stateful security group', 'Indicates if the security group is stateful or not'),
  ext('security-groups-normalized-cidr', 'Security Group Rule normalized CIDR field', 'Add new field with normalized remote_ip_prefix cidr in SG rule'),
  ext('project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.'),
  ext('standard-attr-description', 'standard-attr-description', 'Extension to add descriptions to standard attributes'),
  ext('standard-attr-timestamp', 'Resource timestamps', 'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.'),
  ext('standard-attr-revisions', 'Resource revision numbers', 'This extension will display the revision number of neutron resources.'),
  ext('pagination', 'Pagination support', 'Extension that indicates that pagination is enabled.'),
  ext('sorting', 'Sorting support', 'Extension that indicates that sorting is enabled.'),
  ext('quotas', 'Quota management support', 'Expose functions for quotas management per project'),
  ext('quota_details', 'Quota details management support', 'Expose functions for quotas usage statistics per project'),
  ext('external-net', 'Neutron external network', 'Adds external network attribute to network resource.'),
  ext('net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.'),
  ext('net-mtu-writable', 'Network MTU (writable)', 'Provides a writable MTU attribute for a network resource.'),
  ext('binding', 'Port Binding', 'Expose port bindings of a virtual port to external application'),
  ext('port-security', 'Port Security', 'Provides port security'),
  ext('l2_adjacency', 'L2 Adjacency', 'Display L2 Adjacency for Neutron Networks.'),
  // security groups (src/network/api/security-groups.ts)
  // floating IPs, external networks and routers (src/network/api/floating-ips-router.ts, routers-router.ts;
  // external-net is listed once, above)
  ext('router', 'Neutron L3 Router', 'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.'),
  ext('ext-gw-mode', 'Neutron L3 Configurable external gateway mode', 'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway'),
  ext('fip-port-details', 'Floating IP Port Details Extension', 'Add port_details attribute to Floating IP resource'),
];

export { ext };
