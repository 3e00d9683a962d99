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
  // security groups (src/network/api/security-groups.ts)
  // floating IPs, external networks and routers (src/network/api/floating-ips-router.ts, routers-router.ts)
  ext('external-net', 'Neutron external network', 'Adds external network attribute to network resource.'),
  ext('fip-port-details', 'Floating IP Port Details Extension', 'Add port_details attribute to Floating IP resource'),
];

export { ext };
