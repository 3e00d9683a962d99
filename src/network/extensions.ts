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
  // floating IPs, external networks and routers (src/network/api/floating-ips.ts, routers.ts)
];

export { ext };
