/**
 * RouterEngine: the port through which a router joins project networks that span hosts (issue 17).
 *
 * On a host whose networks are bridges the host itself routes between them (NatSync's `routed`:
 * each bridge's own address is its subnet's gateway and every container's default route). A
 * network spanning hosts is a swarm overlay: its gateway address lives inside the overlay, no
 * host routes to it, and a container's default route leads to its own host's `docker_gwbridge`.
 * There a router is what Neutron's L3 agent makes of it, a network namespace with a leg on each
 * of its subnets that forwards between them: a container of novadock's own on one host (its home),
 * attached to each subnet's overlay, with forwarding on; and each server on one of those subnets
 * is given a route to the router's other subnets through the router's address on its own.
 *
 *   server (A, host 1) ─ route B via R_A ─▶ overlay A ─▶ router (home host) ─▶ overlay B ─▶ server (B, host 2)
 *
 * Addresses are kept from end to end (no NAT), so security groups, enforced in each server's own
 * namespace, judge the caller by its own address.
 *
 * A router with an external gateway is also its subnets' way out, as in Neutron (its SNAT is
 * centralised on one host, where its gateway address is held): each server on one of its subnets
 * (without a floating IP of its own) sends what is not for one of its networks to the router's
 * address on its subnet; the router's container passes it out of its own leg on its host's
 * gateway bridge (docker_gwbridge, the `exit`), and that host SNATs the subnet to the router's
 * gateway address on the external network (NatSync) and routes the replies back to the exit.
 * Replies of the server's own address on its host's gateway bridge (where its floating IP, if it
 * gets one later, is forwarded) still leave by its own host.
 *
 *   server (host 2) ─ 0/1, 128/1 via R_A ─▶ overlay A ─▶ router (home) ─ exit ─▶ home host: SNAT → gateway IP ─▶ external
 *
 * Contract:
 * - `ensure` leaves the router's container on `host` attached to exactly those of `legs` whose
 *   network exists there (an overlay is made on first boot on it), starting or making it as needed,
 *   and answers its address on each of them by network id; idempotent;
 * - `prune` removes the router containers this compute host name holds whose router is not in `keep`;
 * - `setRoutes` replaces, in the server's running container, the routes this port gave it before
 *   with exactly `routes`, and with the way out through `exitVia` when given (else none): ('notRunning',
 *   changing nothing, when it has no running container there: its next start applies them again);
 * - `exitAddress` answers the router's address on its host's gateway bridge (undefined: it has no
 *   container there, or no such leg);
 * - none of them touches a container or route not made through this port.
 */

/** One subnet a router joins: its network, and whose default network it is (the project's own overlay). */
export interface RouterLeg {
  networkId: string;
  /** The project whose default network (`private`) this is; undefined for any other network. */
  defaultFor?: string;
}

export interface RouterIdentity {
  id: string;
  projectId: string;
}

/** A route in a server's namespace: `cidr` through the router's address `via` on the server's own subnet. */
export interface ServerRoute {
  cidr: string;
  via: string;
}

export interface RouterEngine {
  /** Whether `host`'s project networks span hosts (its engine is in a swarm), so routers need a container. */
  spansHosts(host: string): Promise<boolean>;
  /** The router's container on `host` on exactly the existing `legs`: network id → the router's address there. */
  ensure(host: string, router: RouterIdentity, legs: RouterLeg[]): Promise<Record<string, string>>;
  /** Removes this host's router containers except those of the routers in `keep`. */
  prune(host: string, keep: ReadonlySet<string>): Promise<void>;
  setRoutes(host: string, serverId: string, routes: ServerRoute[], exitVia?: string): Promise<'applied' | 'notRunning'>;
  exitAddress(host: string, routerId: string): Promise<string | undefined>;
}

/**
 * The router engine of unit tests and of single-host setups: records what it was asked, and plays a
 * swarm when `spanning` names the host. Each leg's address is the router's index on its network.
 */
export class RecordingRouterEngine implements RouterEngine {
  readonly spanning = new Set<string>();
  /** host → router id → network id → address */
  readonly routers = new Map<string, Map<string, Record<string, string>>>();
  readonly routes = new Map<string, { host: string; routes: ServerRoute[]; exitVia?: string }>();
  /** Servers without a running container (setRoutes answers notRunning). */
  readonly stopped = new Set<string>();
  /** Networks that do not exist on the engines yet (their legs are left out). */
  readonly missing = new Set<string>();
  private next = 10;

  async spansHosts(host: string): Promise<boolean> {
    return this.spanning.has(host);
  }

  async ensure(host: string, router: RouterIdentity, legs: RouterLeg[]): Promise<Record<string, string>> {
    const here = this.routers.get(host) ?? new Map<string, Record<string, string>>();
    this.routers.set(host, here);
    const before = here.get(router.id) ?? {};
    const now: Record<string, string> = {};
    for (const l of legs) if (!this.missing.has(l.networkId)) now[l.networkId] = before[l.networkId] ?? `192.0.2.${this.next++}`;
    if (Object.keys(now).length === 0) here.delete(router.id);
    else here.set(router.id, now);
    return now;
  }

  async prune(host: string, keep: ReadonlySet<string>): Promise<void> {
    const here = this.routers.get(host);
    for (const id of [...(here?.keys() ?? [])]) if (!keep.has(id)) here!.delete(id);
  }

  async setRoutes(host: string, serverId: string, routes: ServerRoute[], exitVia?: string): Promise<'applied' | 'notRunning'> {
    if (this.stopped.has(serverId)) return 'notRunning';
    this.routes.set(serverId, { host, routes: [...routes], ...(exitVia && { exitVia }) });
    return 'applied';
  }

  /** 198.51.100.<n>, by the router's place among those `host` holds (undefined when it holds none of it). */
  async exitAddress(host: string, routerId: string): Promise<string | undefined> {
    const ids = [...(this.routers.get(host)?.keys() ?? [])];
    const i = ids.indexOf(routerId);
    return i < 0 ? undefined : `198.51.100.${i + 1}`;
  }
}
