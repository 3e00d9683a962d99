/**
 * ServerFirewall: the port through which security groups are enforced on a compute host (issue 17).
 *
 * A Ruleset is what one server's container admits, already resolved to addresses (a remote group
 * becomes its members' current addresses): ingress rules say which packets may reach it, egress
 * rules which it may send. Everything else is dropped; with `stateful`, replies to admitted
 * connections pass both ways. 'open' is a server whose ports all have port security disabled.
 *
 * Contract of `apply`:
 * - replaces, atomically, whatever rules the server's container had with exactly `ruleset`;
 * - answers 'notRunning' (and changes nothing) when the server has no running container on `host`:
 *   the next start applies the rules again (a restarted container has a new network namespace);
 * - never touches another server's rules or the engine's own.
 */

export type IpFamily = 4 | 6;

export interface FirewallRule {
  direction: 'ingress' | 'egress';
  family: IpFamily;
  /** IP protocol number; undefined = any. */
  protocol?: number;
  /** Destination port range (tcp, udp, sctp, dccp, udplite). */
  ports?: { min: number; max: number };
  /** ICMP type and optional code (icmp, ipv6-icmp). */
  icmp?: { type: number; code?: number };
  /** The far end: CIDRs (the source for ingress, the destination for egress); undefined = anywhere. */
  remote?: string[];
}

export interface Ruleset {
  stateful: boolean;
  rules: FirewallRule[];
}

export type FirewallPolicy = Ruleset | 'open';

export interface ServerFirewall {
  apply(host: string, serverId: string, policy: FirewallPolicy): Promise<'applied' | 'notRunning'>;
}

/** The firewall of tests and of hosts without enforcement: remembers what each server was given. */
export class RecordingFirewall implements ServerFirewall {
  readonly applied = new Map<string, { host: string; policy: FirewallPolicy }>();
  /** Servers whose container is not running (apply answers notRunning for them). */
  readonly stopped = new Set<string>();

  async apply(host: string, serverId: string, policy: FirewallPolicy): Promise<'applied' | 'notRunning'> {
    if (this.stopped.has(serverId)) return 'notRunning';
    this.applied.set(serverId, { host, policy });
    return 'applied';
  }
}
