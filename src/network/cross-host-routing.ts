/**
 * Routers on networks that span hosts (issue 17; the engine side is src/virt/routers.ts): keeps
 * each router's container on the overlays of its subnets, on one home host, and every server with
 * an address on one of those subnets routed to the router's other subnets through it.
 *
 *   a router changed (RouterService, before its answer) ─┐
 *   the sweep (after an engine restart, a lost home) ────┴─ syncAll: every router, then every server
 *   PortEvents(server): started, moved, attached… ──────── serverChanged: its routers, then its routes
 *
 * The home is the first configured host whose engine is in a swarm and takes them; when it fails,
 * the next (the routers move, and every server's routes follow). Hosts whose networks are bridges
 * need none of this: the host routes between its bridges (NatSync). Operations run one at a time,
 * each from rows read when it starts; a failure is logged and the next sweep tries again.
 *
 * A router with an external gateway (SNAT on) is also its subnets' way out: its container is made
 * even for one subnet, each server on its subnets without a floating IP is given the way out
 * through it, and the home host alone holds its SNAT and gateway address (NatSync asks exitPlan),
 * so one address answers on the external network. A change of home or exit re-applies the hosts' NAT.
 */
import type { Logger } from 'pino';
import { upRouterLegs, type RouterLegRow, type RouterRepository } from '../db/router-repo';
import type { RouterEngine, RouterIdentity, RouterLeg, ServerRoute } from '../virt/routers';
import { Swept } from './sweep';

export interface CrossHostRoutingDeps {
  repo: Pick<RouterRepository, 'legs' | 'serverSubnets' | 'serversWithFloatingIps'>;
  engine: RouterEngine;
  /** The compute hosts, in configured order. */
  hosts: () => string[];
  log: Logger;
  /** Period of the sweep (ms); 0 = none. */
  sweepIntervalMs?: number;
  /** The home or a router's exit changed: the hosts' NAT must follow (NatSync.syncAll). */
  exitsChanged?: () => Promise<void>;
}

interface Router extends RouterIdentity {
  legs: RouterLegRow[];
  /** Its gateway address when it SNATs its subnets to the external network. */
  exitIp?: string;
}

const legsOf = (r: Router): RouterLeg[] => r.legs.map((l) => ({ networkId: l.network_id, ...(l.default_for && { defaultFor: l.default_for }) }));

/**
 * The routes of a server on `subnets`: for each router on one of them, the router's other subnets
 * through its address on the server's own (one route per range; none to a subnet the server is on).
 */
export function routesFor(subnets: string[], routers: Router[], addresses: ReadonlyMap<string, Record<string, string>>): ServerRoute[] {
  const own = new Set(subnets);
  const ownRanges = new Set(routers.flatMap((r) => r.legs).filter((l) => own.has(l.subnet_id)).map((l) => l.cidr));
  const out = new Map<string, ServerRoute>();
  for (const r of routers) {
    for (const leg of r.legs.filter((l) => own.has(l.subnet_id))) {
      const via = addresses.get(r.id)?.[leg.network_id];
      if (!via) continue;
      for (const far of r.legs) if (!own.has(far.subnet_id) && !ownRanges.has(far.cidr) && !out.has(far.cidr)) out.set(far.cidr, { cidr: far.cidr, via });
    }
  }
  return [...out.values()];
}

/** The way out of a server on `subnets`: the first router with an exit joining one of them, through its address on it. */
export function exitFor(subnets: string[], routers: Router[], addresses: ReadonlyMap<string, Record<string, string>>): string | undefined {
  for (const r of routers) {
    if (!r.exitIp) continue;
    for (const leg of r.legs) {
      const via = subnets.includes(leg.subnet_id) ? addresses.get(r.id)?.[leg.network_id] : undefined;
      if (via) return via;
    }
  }
  return undefined;
}

export class CrossHostRouting extends Swept {
  private queue: Promise<void> = Promise.resolve();
  /** Router id → network id → the router's address there, as last made. */
  private addresses = new Map<string, Record<string, string>>();
  private home: string | undefined;
  /** The hosts whose networks spanned hosts at the last whole sync (undefined before one). */
  private spanned: ReadonlySet<string> | undefined;
  /** Router id → its exit (its address on the home's gateway bridge), for routers with an external gateway. */
  private exits = new Map<string, string>();
  /** Servers given routes by this process: set again (emptied) when they no longer need them. */
  private readonly routedServers = new Set<string>();
  /** Until one whole sync is done, every server is set (routes a previous process left may be stale). */
  private synced = false;

  constructor(private readonly deps: CrossHostRoutingDeps) {
    super(deps.sweepIntervalMs ?? 0);
  }

  /** Resolves when nothing queued is left. */
  async idle(): Promise<void> {
    for (let q = this.queue; ; q = this.queue) {
      await q;
      if (q === this.queue) return;
    }
  }

  /** Every router, then every server's routes. Never rejects (failures are logged). */
  syncAll(): Promise<void> {
    return this.enqueue(() => this.syncAllNow());
  }

  /** One server's ports changed: its routers get a leg on its networks, and it gets its routes. Never rejects. */
  serverChanged(serverId: string): Promise<void> {
    return this.enqueue(() => this.serverNow(serverId));
  }

  private enqueue(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn).catch((err) => this.deps.log.warn({ err }, 'routers across hosts: a sync failed (the next sweep tries again)'));
    this.queue = run;
    return run;
  }

  /**
   * For NatSync: undefined when `host`'s networks are bridges (or not known yet), so it holds every
   * router's SNAT as before; else the routers whose SNAT it holds (router id → exit): those whose home it is.
   */
  exitPlan(host: string): ReadonlyMap<string, string> | undefined {
    if (!this.spanned?.has(host)) return undefined;
    return host === this.home ? this.exits : new Map();
  }

  /** Administratively up routers joining two subnets or more, or one with a way out. */
  private async routers(): Promise<Router[]> {
    const up = [...upRouterLegs(await this.deps.repo.legs())].map(([id, legs]) => ({ id, projectId: legs[0].project_id, legs, exitIp: legs[0].external_ip ?? undefined }));
    return up.filter((r) => new Set(r.legs.map((l) => l.subnet_id)).size > (r.exitIp ? 0 : 1));
  }

  /** The hosts whose networks span hosts, in configured order. */
  private async spanning(): Promise<string[]> {
    const out: string[] = [];
    for (const host of this.deps.hosts()) {
      try {
        if (await this.deps.engine.spansHosts(host)) out.push(host);
      } catch (err) {
        this.deps.log.warn({ err, host }, 'routers across hosts: the engine could not be asked whether it is in a swarm');
      }
    }
    return out;
  }

  private async syncAllNow(): Promise<void> {
    const hosts = await this.spanning();
    if (hosts.length === 0) {
      await this.placed(new Set(), undefined, new Map());
      return;
    }
    const routers = await this.routers();
    const keep = new Set(routers.map((r) => r.id));
    let home: string | undefined;
    const addresses = new Map<string, Record<string, string>>();
    for (const host of hosts) {
      try {
        for (const r of routers) addresses.set(r.id, await this.deps.engine.ensure(host, r, legsOf(r)));
        await this.deps.engine.prune(host, keep);
        home = host;
        break;
      } catch (err) {
        addresses.clear();
        this.deps.log.warn({ err, host }, 'routers across hosts: this host could not hold the routers (the next one is tried)');
      }
    }
    for (const host of hosts) {
      if (host === home) continue;
      await this.deps.engine.prune(host, new Set()).catch((err) => this.deps.log.warn({ err, host }, 'routers across hosts: a router container could not be removed'));
    }
    this.addresses = addresses;
    await this.placed(new Set(hosts), home, home ? await this.exitsAt(home, routers) : new Map());
    const floating = await this.deps.repo.serversWithFloatingIps();
    const byServer = new Map<string, { host: string; subnets: string[] }>();
    for (const row of await this.deps.repo.serverSubnets()) {
      const s = byServer.get(row.server_id) ?? { host: row.host, subnets: [] };
      s.subnets.push(row.subnet_id);
      byServer.set(row.server_id, s);
    }
    for (const id of [...this.routedServers]) if (!byServer.has(id)) this.routedServers.delete(id);
    for (const [serverId, s] of byServer) {
      // A server on a host whose networks are bridges is routed by its host: it gets none of these.
      const spans = hosts.includes(s.host);
      const routes = spans ? routesFor(s.subnets, routers, addresses) : [];
      const exitVia = spans && !floating.has(serverId) ? exitFor(s.subnets, routers, addresses) : undefined;
      if (routes.length > 0 || exitVia || (spans && !this.synced) || this.routedServers.has(serverId)) await this.apply(serverId, s.host, routes, exitVia);
    }
    this.synced = true;
  }

  private async serverNow(serverId: string): Promise<void> {
    const rows = await this.deps.repo.serverSubnets(serverId);
    if (rows.length === 0) {
      this.routedServers.delete(serverId);
      return;
    }
    const subnets = rows.map((r) => r.subnet_id);
    const routers = (await this.routers()).filter((r) => r.legs.some((l) => subnets.includes(l.subnet_id)));
    if (routers.length === 0 && !this.routedServers.has(serverId)) return;
    const hosts = await this.spanning();
    const host = rows[0].host;
    if (!hosts.includes(host)) {
      // On a host whose networks are bridges (its host routes it): none of these routes.
      if (this.routedServers.has(serverId)) await this.apply(serverId, host, []);
      return;
    }
    // No home yet, or it is gone: everything is placed anew (this server with the rest).
    const home = this.home;
    if (home === undefined || !hosts.includes(home)) return this.syncAllNow();
    // Its network's overlay may be new (made by this very boot): the router joins it.
    for (const r of routers) this.addresses.set(r.id, await this.deps.engine.ensure(home, r, legsOf(r)));
    const unplaced = routers.filter((r) => r.exitIp && !this.exits.has(r.id));
    if (unplaced.length > 0) await this.placed(this.spanned ?? new Set(hosts), home, new Map([...this.exits, ...await this.exitsAt(home, unplaced)]));
    const floating = (await this.deps.repo.serversWithFloatingIps()).has(serverId);
    await this.apply(serverId, host, routesFor(subnets, routers, this.addresses), floating ? undefined : exitFor(subnets, routers, this.addresses));
  }

  /** The exits of the routers with a way out, on `home`. */
  private async exitsAt(home: string, routers: Router[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const r of routers) {
      if (!r.exitIp) continue;
      const at = await this.deps.engine.exitAddress(home, r.id).catch((err) => {
        this.deps.log.warn({ err, host: home, router: r.id }, 'routers across hosts: the router\'s exit could not be read');
        return undefined;
      });
      if (at) out.set(r.id, at);
    }
    return out;
  }

  /** Records where the routers are; when their home or exits changed, the hosts' NAT follows. */
  private async placed(spanned: ReadonlySet<string>, home: string | undefined, exits: Map<string, string>): Promise<void> {
    const same = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
    // Before the first sync every host is taken for one of bridges (exitPlan: undefined), as after one that finds no swarm.
    const before = this.spanned ?? new Set<string>();
    const sameHosts = before.size === spanned.size && [...spanned].every((h) => before.has(h));
    const changed = !sameHosts || home !== this.home || !same(exits, this.exits);
    this.spanned = spanned;
    this.home = home;
    this.exits = exits;
    if (changed) await this.deps.exitsChanged?.().catch((err) => this.deps.log.warn({ err }, 'routers across hosts: the hosts\' NAT could not follow the routers'));
  }

  private async apply(serverId: string, host: string, routes: ServerRoute[], exitVia?: string): Promise<void> {
    try {
      const done = await this.deps.engine.setRoutes(host, serverId, routes, exitVia);
      if (routes.length > 0 || exitVia) this.routedServers.add(serverId);
      else if (done === 'applied') this.routedServers.delete(serverId);
    } catch (err) {
      this.deps.log.warn({ err, serverId, host }, 'routers across hosts: the server\'s routes could not be set');
    }
  }
}
