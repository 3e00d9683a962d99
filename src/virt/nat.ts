/**
 * The NAT port (issue 17, floating IPs and routers): what a compute host's network namespace must
 * hold so that floating IPs answer and project networks reach the external network. The service
 * computes the whole wanted state of one host from the database (HostNat); the port makes the
 * host hold exactly that, replacing what it held before, so a call after an engine restart, a move
 * or a crash of novadock itself converges with nothing left behind.
 *
 *   client ──▶ external interface ─ X (a /32 on it) ─ PREROUTING/OUTPUT: DNAT X → fixed IP ──▶ container
 *   container ──▶ POSTROUTING: -s fixed IP -o external interface: SNAT → X ──▶ external network
 *   project subnet ──▶ POSTROUTING: -s subnet -o external interface: SNAT → router's gateway IP
 *   (an overlay's subnet, through its router's container: and `ip route subnet via <its exit>`)
 *   subnet A ◀──▶ subnet B (one router): FORWARD: -s A -d B ACCEPT (before Docker's isolation
 *   drops traffic between bridges), POSTROUTING: -s A -d B ACCEPT (addresses kept: no SNAT)
 *
 * Everything lives in chains of novadock's own (NAT_CHAINS) reached by one jump each from the
 * built-in chains, and floating addresses are the /32s inside `ownedRanges` on the external
 * interface: a host's state is rebuilt whole, never patched rule by rule.
 */

/** One floating IP forwarded to a fixed IP on this host. */
export interface FloatingForward {
  floatingIp: string;
  fixedIp: string;
}

/** A project subnet that reaches the external network through a router's gateway address. */
export interface SubnetSnat {
  cidr: string;
  /** The router's address on the external network: the source the outside sees. */
  externalIp: string;
  routerId?: string;
  /**
   * Where the host routes the subnet (its replies, once un-NATed), when it is not one of the host's
   * own bridges: the router container's exit on a swarm host (src/virt/routers.ts).
   */
  via?: string;
}

/** The whole NAT state one host should hold. */
export interface HostNat {
  /** The host's interface (or bridge) on the external network; without one nothing is installed. */
  externalInterface?: string;
  /** The external subnets' ranges: every /32 inside them on the interface is a floating address of novadock's. */
  ownedRanges: string[];
  forwards: FloatingForward[];
  snat: SubnetSnat[];
  /**
   * Subnets routed to one another, one list per router: each subnet of a list reaches the others
   * through the host (the bridges' own addresses are the subnets' gateways). Needs no external interface.
   */
  routed: string[][];
}

export const EMPTY_NAT: HostNat = { ownedRanges: [], forwards: [], snat: [], routed: [] };

/** Chains of novadock's own, per table: built-in chain → ours. */
export interface NatChains {
  nat: { PREROUTING: string; OUTPUT: string; POSTROUTING: string };
  filter: { FORWARD: string };
}

/**
 * The chains, suffixed with `tag` when there is one (NOVADOCK_NAT_CHAIN_TAG): each novadock that
 * shares a network namespace with another (test servers side by side on one machine) replaces
 * only its own chains, instead of each one's state overwriting the other's.
 */
export function natChains(tag?: string): NatChains {
  if (tag !== undefined && !/^[A-Za-z0-9]{1,10}$/.test(tag)) throw new Error(`NAT chain tag ${JSON.stringify(tag)}: 1 to 10 letters or digits`);
  const t = tag ? `-${tag}` : '';
  return {
    nat: { PREROUTING: `NOVADOCK-FIP-PRE${t}`, OUTPUT: `NOVADOCK-FIP-OUT${t}`, POSTROUTING: `NOVADOCK-FIP-POST${t}` },
    filter: { FORWARD: `NOVADOCK-FIP-FWD${t}` },
  };
}

/** The untagged chains: one novadock per host namespace, as deployed. */
export const NAT_CHAINS: NatChains = natChains();

/**
 * A compute host's NAT, kept by replacing it whole. Implementations: iptables and ip run in the
 * host's network namespace (src/virt/nat-iptables.ts), and an in-memory record for unit tests
 * (src/virt/fake/nat.ts).
 */
export interface NatTable {
  /**
   * Makes `host` hold exactly `nat`: its chains' rules replaced in one iptables-restore per table
   * (atomic per table), floating addresses added and stale ones removed. Idempotent. Rejects when
   * the host's namespace cannot be reached or a command fails; the caller retries by calling again.
   */
  apply(host: string, nat: HostNat): Promise<void>;
  /** Removes everything novadock installed on `host` (chains, jumps, addresses in `ownedRanges`). */
  clear(host: string, externalInterface: string | undefined, ownedRanges: string[]): Promise<void>;
}

/**
 * The iptables-restore input (`--noflush`) for a host's wanted state: declaring a chain empties
 * it, so the input replaces our chains' rules and touches no one else's. Pure, for unit tests.
 */
export function compileNat(nat: HostNat, c: NatChains = NAT_CHAINS): { nat: string; filter: string } {
  const iface = nat.externalInterface;
  const natRules: string[] = [];
  const filterRules: string[] = [];
  for (const [from, to] of routedPairs(nat.routed)) {
    natRules.push(`-A ${c.nat.POSTROUTING} -s ${from} -d ${to} -j ACCEPT`);
    filterRules.push(`-A ${c.filter.FORWARD} -s ${from} -d ${to} -j ACCEPT`);
  }
  if (iface) {
    for (const f of sortForwards(nat.forwards)) {
      natRules.push(`-A ${c.nat.PREROUTING} -d ${f.floatingIp}/32 -j DNAT --to-destination ${f.fixedIp}`);
      natRules.push(`-A ${c.nat.OUTPUT} -d ${f.floatingIp}/32 -j DNAT --to-destination ${f.fixedIp}`);
      filterRules.push(`-A ${c.filter.FORWARD} -i ${iface} -d ${f.fixedIp}/32 -j ACCEPT`);
    }
    // A server's own floating IP is its source before its subnet's router address is.
    for (const f of sortForwards(nat.forwards)) {
      natRules.push(`-A ${c.nat.POSTROUTING} -s ${f.fixedIp}/32 -o ${iface} -j SNAT --to-source ${f.floatingIp}`);
    }
    for (const s of [...nat.snat].sort((a, b) => a.cidr.localeCompare(b.cidr))) {
      natRules.push(`-A ${c.nat.POSTROUTING} -s ${s.cidr} -o ${iface} -j SNAT --to-source ${s.externalIp}`);
      filterRules.push(`-A ${c.filter.FORWARD} -s ${s.cidr} -o ${iface} -j ACCEPT`);
      filterRules.push(`-A ${c.filter.FORWARD} -d ${s.cidr} -i ${iface} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
    }
  }
  const table = (name: string, chains: string[], rules: string[]) =>
    [`*${name}`, ...chains.map((ch) => `:${ch} - [0:0]`), ...rules, 'COMMIT', ''].join('\n');
  return {
    nat: table('nat', Object.values(c.nat), natRules),
    filter: table('filter', Object.values(c.filter), filterRules),
  };
}

/** The addresses the interface should carry: floating IPs, and routers' gateway addresses (replies to SNAT). */
export function floatingAddresses(nat: HostNat): string[] {
  return nat.externalInterface ? [...new Set([...nat.forwards.map((f) => f.floatingIp), ...nat.snat.map((s) => s.externalIp)])].sort() : [];
}

/** The `proto` of the routes novadock sets (servers' namespaces, and hosts' to subnets behind routers' exits). */
export const ROUTE_PROTO = 173;
const CIDR4 = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
/** A dotted IPv4 address (what may go into an `ip` command line). */
export const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** `ip -batch` lines adding `routes` (IPv4 only, checked) tagged ROUTE_PROTO. */
export function routeLines(routes: { cidr: string; via: string }[]): string[] {
  for (const r of routes) if (!CIDR4.test(r.cidr) || !IPV4.test(r.via)) throw new Error(`not an IPv4 route: ${JSON.stringify(r)}`);
  return routes.map((r) => `route replace ${r.cidr} via ${r.via} proto ${ROUTE_PROTO}`);
}

/** The lines of one `ip -batch` that leave exactly `routes` among a host's routes of novadock's. */
export function hostRouteBatch(routes: { cidr: string; via: string }[]): string {
  return [`route flush proto ${ROUTE_PROTO}`, ...routeLines([...routes].sort((a, b) => a.cidr.localeCompare(b.cidr)))].join('\n') + '\n';
}

/** Every ordered pair of distinct subnets sharing a router, once each, sorted. */
export function routedPairs(routed: string[][]): [string, string][] {
  const pairs = new Set<string>();
  for (const group of routed) {
    for (const a of group) for (const b of group) if (a !== b) pairs.add(`${a} ${b}`);
  }
  return [...pairs].sort().map((p) => p.split(' ') as [string, string]);
}

const sortForwards = (fs: FloatingForward[]) => [...fs].sort((a, b) => a.floatingIp.localeCompare(b.floatingIp));
