/**
 * Without a network service the network is named here: one pseudo network "private" with a stable
 * id, so /os-networks (api/networks.ts) and `networks: [{"uuid": …}]` on boot agree without storing
 * anything. The compute driver gives each project its own Docker network behind it.
 */
import crypto from 'node:crypto';

/** The label under which servers show their address (`addresses.private`), as drivers report it. */
export const PROJECT_NETWORK_LABEL = 'private';

/** The one security group a project has; Docker has no security groups to offer beyond it. */
export const DEFAULT_SECURITY_GROUP = 'default';

/** A name-based UUID (RFC 4122 version 5 layout), stable across restarts without storing it. */
export function stableUuid(namespace: string, name: string): string {
  const h = crypto.createHash('sha1').update(`novadock:${namespace}:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The id of the "private" network as the API shows it. One id for every project, like
 * nova-network's shared private network: clients resolve the name with any credentials (Tempest
 * with an admin's) and boot with the id. Underneath, each project's servers still get a Docker
 * network of their own, so tenants stay isolated.
 */
export const PRIVATE_NETWORK_ID = stableUuid('network', PROJECT_NETWORK_LABEL);

/** The project's one security group, in Nova's os-security-groups shape. */
export function defaultSecurityGroup(projectId: string) {
  return {
    id: stableUuid('security-group', projectId),
    name: DEFAULT_SECURITY_GROUP,
    description: 'Default security group',
    rules: [] as unknown[],
    tenant_id: projectId,
  };
}
