/**
 * The fake engine's project networks: deterministic addresses, kept per server across
 * destroy so that a rebuild (destroy + spawn of the same server id) gets its old address
 * back, as the Docker driver does.
 */
import type { FixedAddress } from '../driver';

export class FakeNetworks {
  /** Project network index (the third octet of its fake subnet), in order of first use. */
  private readonly networks = new Map<string, number>();
  /** Next host number per project network. */
  private readonly nextHost = new Map<string, number>();
  /** Addresses by server id, kept after destroy. */
  private readonly addresses = new Map<string, FixedAddress>();

  /** The server's address, if it has one. */
  addressOf(serverId: string): FixedAddress | undefined {
    return this.addresses.get(serverId);
  }

  /**
   * A deterministic fake address: project networks get 10.<a>.<b>.0/24 in order of first use,
   * hosts .2, .3, … in order of spawn; the MAC is derived from the IP the way Docker does.
   */
  allocate(serverId: string, projectId: string): void {
    const kept = this.addresses.get(serverId);
    if (kept && this.networkOfAddress(kept) === this.networks.get(projectId)) return;
    if (!this.networks.has(projectId)) this.networks.set(projectId, this.networks.size + 1);
    const net = this.networks.get(projectId)!;
    const n = this.nextHost.get(projectId) ?? 2;
    this.nextHost.set(projectId, n + 1);
    const ip = [10, 100 + (net >> 8), net & 255, n];
    const mac = ['02', '42', ...ip.map((o) => o.toString(16).padStart(2, '0'))].join(':');
    this.addresses.set(serverId, { network: 'private', addr: ip.join('.'), version: 4, mac });
  }

  private networkOfAddress(a: FixedAddress): number {
    const [, x, y] = a.addr.split('.').map(Number);
    return ((x - 100) << 8) + y;
  }
}
