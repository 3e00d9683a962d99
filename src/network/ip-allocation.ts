/**
 * Handing out fixed IPs (Neutron's IPAM, reduced). An address is taken by inserting it into
 * ip_allocations: the primary key (subnet, address) decides between concurrent askers in any
 * process; the loser moves on to the next free address. Addresses come from the subnet's
 * allocation pools highest first, never the gateway: on a network that spans hosts the swarm
 * gives each host's load balancer an address of its own from the bottom of the range (the lowest
 * free when the host first joins the network), and an address handed out here from the bottom
 * would be one of those, refused when the server attaches; an address asked for by name may be anywhere
 * in the subnet but its network, broadcast and gateway addresses.
 */
import type { SubnetRow } from '../db/network-repo';
import type { FixedIp, PortRepository } from '../db/port-repo';
import { neutron, neutronCore } from './errors';
import { fromInt, inCidr, isIpv4, spanOf, toInt } from './ip';

/** One entry of a port's `fixed_ips` as asked for. */
export interface IpRequest { subnet_id?: string; ip_address?: string }

export class IpAllocator {
  constructor(private readonly ports: PortRepository) {}

  /**
   * Addresses for `portId` on `networkId`: as `requests` ask, or (undefined) one from the first
   * IPv4 subnet with room. On failure, what this call allocated is freed again.
   */
  async allocate(portId: string, networkId: string, subnets: SubnetRow[], requests: IpRequest[] | undefined): Promise<FixedIp[]> {
    const done: FixedIp[] = [];
    try {
      if (requests === undefined) {
        if (subnets.length === 0) return [];
        for (const s of subnets) {
          const ip = await this.nextFree(portId, s);
          if (ip) {
            done.push({ subnet_id: s.id, ip_address: ip });
            return done;
          }
        }
        throw neutron.ipAddressGenerationFailure(networkId);
      }
      for (const r of requests) done.push(await this.one(portId, networkId, subnets, r));
      return done;
    } catch (e) {
      await this.ports.freeIps(portId, done);
      throw e;
    }
  }

  /** Checks `requests` against the network's subnets without allocating (the port's own addresses are kept). */
  resolve(networkId: string, subnets: SubnetRow[], r: IpRequest): { subnet: SubnetRow; ip?: string } {
    if (r.ip_address !== undefined && !isIpv4(r.ip_address)) throw neutronCore.badAttribute('fixed_ips', `'${r.ip_address}' is not a valid IP address`);
    let subnet: SubnetRow | undefined;
    if (r.subnet_id !== undefined) {
      subnet = subnets.find((s) => s.id === r.subnet_id);
      if (!subnet) throw neutron.invalidInput(`Failed to create port on network ${networkId}, because fixed_ips included invalid subnet ${r.subnet_id}`);
    } else if (r.ip_address !== undefined) {
      subnet = subnets.find((s) => inCidr(s.cidr, r.ip_address!));
      if (!subnet) throw neutronCore.invalidIpForNetwork(r.ip_address);
    } else {
      throw neutronCore.badAttribute('fixed_ips', 'Exactly one of subnet_id and ip_address, or both, must be given');
    }
    if (r.ip_address !== undefined) {
      const [a, b] = spanOf(subnet.cidr);
      const n = inCidr(subnet.cidr, r.ip_address) ? toInt(r.ip_address) : -1;
      if (n <= a || n >= b) throw neutronCore.invalidIpForSubnet(r.ip_address);
      if (r.ip_address === subnet.gateway_ip) throw neutron.ipAddressInUse(r.ip_address, subnet.id);
    }
    return { subnet, ip: r.ip_address };
  }

  async one(portId: string, networkId: string, subnets: SubnetRow[], r: IpRequest): Promise<FixedIp> {
    const { subnet, ip } = this.resolve(networkId, subnets, r);
    if (ip !== undefined) {
      if (!(await this.ports.allocate(portId, networkId, subnet.id, ip))) throw neutron.ipAddressInUse(ip, subnet.id);
      return { subnet_id: subnet.id, ip_address: ip };
    }
    const picked = await this.nextFree(portId, subnet);
    if (!picked) throw neutron.ipAddressGenerationFailure(networkId);
    return { subnet_id: subnet.id, ip_address: picked };
  }

  /** The highest free pool address of the subnet, allocated to the port; undefined when the pools are full. */
  private async nextFree(portId: string, s: SubnetRow): Promise<string | undefined> {
    const taken = await this.ports.allocatedIn(s.id);
    if (s.gateway_ip) taken.add(s.gateway_ip);
    for (const pool of [...s.allocation_pools].reverse()) {
      for (let n = toInt(pool.end); n >= toInt(pool.start); n--) {
        const ip = fromInt(n);
        if (taken.has(ip)) continue;
        if (await this.ports.allocate(portId, s.network_id, s.id, ip)) return ip;
        taken.add(ip); // someone else took it meanwhile: the next one
      }
    }
    return undefined;
  }
}
