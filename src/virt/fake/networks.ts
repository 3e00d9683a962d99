/**
 * The fake engine's project networks: addresses from the project's subnet (as the compute service
 * hands it down), hosts .2, .3, … in order of spawn, skipping those the spec says other servers
 * hold; kept per server across destroy so that a rebuild (destroy + spawn of the same server id)
 * gets its old address back, as the Docker driver does.
 */
import ipaddr from 'ipaddr.js';
import type { FixedAddress, InstanceNic, ProjectNetworkSpec } from '../driver';

const toInt = (a: ipaddr.IPv4) => a.octets.reduce((acc, o) => acc * 256 + o, 0);
const fromInt = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256);

/** An interface's address as getInfo reports it; the MAC is the port's, else the engine's for the IP. */
export function nicAddress(nic: InstanceNic): FixedAddress {
  const mac = nic.mac ?? ['02', '42', ...nic.ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
  return { network: nic.label, addr: nic.ip, version: 4, mac };
}

/** The engine network an interface is on: the project's for the default network. */
export const fakeNetworkOf = (nic: Pick<InstanceNic, 'networkId' | 'projectDefault'>, projectId: string): string => (nic.projectDefault ? `project:${projectId}` : nic.networkId);

export class FakeNetworks {
  /** Network ids removeNetwork was called for, in order (for assertions). */
  readonly removed: string[] = [];

  /** Next host number per subnet. */
  private readonly nextHost = new Map<string, number>();
  /** Addresses by server id, kept after destroy. */
  private readonly addresses = new Map<string, FixedAddress>();

  /** The server's address, if it has one. */
  addressOf(serverId: string): FixedAddress | undefined {
    return this.addresses.get(serverId);
  }

  /** A deterministic address in the network's subnet; the MAC is derived from the IP the way Docker does. */
  allocate(serverId: string, network: ProjectNetworkSpec): void {
    const subnet = ipaddr.IPv4.parseCIDR(network.subnet);
    const kept = this.addresses.get(serverId);
    if (kept && ipaddr.IPv4.parse(kept.addr).match(subnet)) return;
    const base = toInt(subnet[0]);
    const taken = new Set(network.addressesInUse);
    let n = this.nextHost.get(network.subnet) ?? 2;
    while (taken.has(fromInt(base + n).join('.'))) n++;
    if (n >= 2 ** (32 - subnet[1]) - 1) throw new Error(`no free address left in ${network.subnet}`);
    this.nextHost.set(network.subnet, n + 1);
    const ip = fromInt(base + n);
    const mac = ['02', '42', ...ip.map((o) => o.toString(16).padStart(2, '0'))].join(':');
    this.addresses.set(serverId, { network: 'private', addr: ip.join('.'), version: 4, mac });
  }
}
