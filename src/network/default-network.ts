/**
 * Each project's default network (issue 17): today's per-project Docker network, now with a real
 * id and name in the Networking API. Named `private`, owned by the project, one IPv4 subnet: the
 * project's range from ProjectSubnets (the same on every host), gateway at the range's first
 * address (the engine's bridge), addresses handed out from the second on. Made on first use — the
 * first network list or boot of the project — by an insert that the unique `default_for` key
 * decides, so concurrent first uses in any process make one network.
 */
import { hostAddress, offsetOf, sizeOf } from '../virt/docker/addresses';
import type { NetworkRepository, NetworkRow, SubnetRow } from '../db/network-repo';
import type { ProjectSubnets } from '../compute/services/project-subnets';

/** The default network's name, as servers show their address under it (`addresses.private`). */
export const DEFAULT_NETWORK_NAME = 'private';

/** Gateway and allocation pool of a subnet the way Neutron defaults them: gateway first, pool the rest. */
export function subnetDefaults(cidr: string): Pick<SubnetRow, 'gateway_ip' | 'allocation_pools'> {
  const size = sizeOf(cidr);
  return { gateway_ip: hostAddress(cidr, 1), allocation_pools: [{ start: hostAddress(cidr, 2), end: hostAddress(cidr, size - 2) }] };
}

export class DefaultNetworks {
  constructor(private readonly repo: NetworkRepository, private readonly subnets: ProjectSubnets) {}

  /** The project moved to another range (an engine refused the old one): its subnet row follows, compare-and-set on the old range. */
  async moved(projectId: string, from: string, to: string): Promise<void> {
    const network = await this.repo.defaultOf(projectId);
    if (!network) return;
    for (const s of await this.repo.subnetsOf(network.id)) {
      if (s.cidr === from) await this.repo.moveSubnet(s.id, from, { cidr: to, ...subnetDefaults(to) }, (ip) => hostAddress(to, offsetOf(from, ip) ?? 0));
    }
  }

  /** The project's default network, made (with its subnet) on first use. */
  async ensure(projectId: string): Promise<NetworkRow> {
    const found = await this.repo.defaultOf(projectId);
    if (found) return found;
    const cidr = await this.subnets.subnetOf(projectId);
    return this.repo.ensureDefault(
      { project_id: projectId, name: DEFAULT_NETWORK_NAME, default_for: projectId },
      { project_id: projectId, name: `${DEFAULT_NETWORK_NAME}-subnet`, description: '', ip_version: 4, cidr, ...subnetDefaults(cidr), dns_nameservers: [], host_routes: [], enable_dhcp: true },
    );
  }
}
