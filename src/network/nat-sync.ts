/**
 * Keeps each compute host's NAT (src/virt/nat.ts) true to the database (issue 17): a host's whole
 * state — the floating IPs whose servers run there, the routers' SNAT and the routes between the
 * subnets one router joins — is computed from the rows
 * and handed to the NatTable, which replaces what the host held. Called after every association
 * change (for the hosts it touches), when a server's ports change host (PortEvents), and by a
 * periodic sweep of every host (re-applies after an engine restart, retries a host that could not
 * be reached). Calls for one host never overlap: a call that arrives while one runs makes one more
 * run after it, which reads the rows afresh.
 *
 * A floating IP's `host` and `status` record the outcome: ACTIVE where its forward is installed,
 * DOWN (host '') when it is not associated or its server runs nowhere.
 */
import type { Logger } from 'pino';
import type { FloatingIpRepository } from '../db/floating-ip-repo';
import { EMPTY_NAT, type HostNat, type NatTable, type SubnetSnat } from '../virt/nat';
import { Swept } from './sweep';

export interface NatHostSettings {
  /** The host's interface (or bridge) on the external network; unset: nothing can be forwarded there. */
  externalInterface?: string;
}

export interface NatSyncDeps {
  repo: FloatingIpRepository;
  nat: NatTable;
  /** The compute hosts, by name. */
  hosts: () => string[];
  settingsOf: (host: string) => NatHostSettings;
  /** Router SNAT of the project subnets (every host holds it); none without routers. */
  snat?: () => Promise<SubnetSnat[]>;
  /** The project subnets each router joins (every host holds them, external interface or not). */
  routed?: () => Promise<string[][]>;
  /**
   * For a host whose networks span hosts, the routers whose SNAT it holds (router id → where it
   * routes their subnets: the router container's exit); undefined for a host of bridges, which
   * holds every router's (CrossHostRouting.exitPlan).
   */
  exitPlan?: (host: string) => ReadonlyMap<string, string> | undefined;
  /**
   * fixed IP → where the host's namespace reaches it, for those of a server's fixed IPs it does not
   * reach as they are (on an overlay: the container's gateway endpoint; ComputeDriver.hostAddresses).
   */
  reach?: (host: string, serverId: string, fixedIps: string[]) => Promise<Record<string, string>>;
  log: Logger;
  /** Period of the sweep over every host (ms); 0 = no sweep. */
  sweepIntervalMs?: number;
}

export class NatSync extends Swept {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Map<string, Promise<void>>();
  /** Hosts without an external interface this process gave routes to: touched until they hold none. */
  private readonly routedHosts = new Set<string>();

  constructor(private readonly deps: NatSyncDeps) {
    super(deps.sweepIntervalMs ?? 0);
  }

  /** Resolves when no host sync is running or queued. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.again.size > 0) {
      await Promise.allSettled([...this.running.values(), ...this.again.values()]);
    }
  }

  /** Every host, each reported on failure without stopping the others. */
  async syncAll(): Promise<void> {
    await Promise.all(this.deps.hosts().map((h) => this.syncHost(h).catch(() => undefined)));
  }

  /** The hosts named ('' skipped), each at least once from rows read after this call. */
  async syncHosts(hosts: Iterable<string>): Promise<void> {
    await Promise.all([...new Set(hosts)].filter((h) => h !== '').map((h) => this.syncHost(h).catch(() => undefined)));
  }

  /**
   * A server's ports changed (started, stopped, moved, attached, detached, deleted: PortEvents):
   * the hosts its floating IPs were and now belong on, and those of floating IPs that lost their port.
   */
  async serverChanged(serverId: string): Promise<void> {
    await this.syncHosts(await this.deps.repo.hostsConcerning(serverId));
  }

  /** One host, brought to the state the rows read now describe. Rejects if the host could not be reached. */
  syncHost(host: string): Promise<void> {
    const queued = this.again.get(host);
    if (queued) return queued;
    const current = this.running.get(host);
    if (!current) return this.begin(host);
    const next = current.catch(() => undefined).then(() => {
      this.again.delete(host);
      return this.begin(host);
    });
    this.again.set(host, next);
    return next;
  }

  private begin(host: string): Promise<void> {
    const p = this.apply(host).finally(() => {
      if (this.running.get(host) === p) this.running.delete(host);
    });
    this.running.set(host, p);
    return p;
  }

  private async apply(host: string): Promise<void> {
    const { repo } = this.deps;
    const iface = this.deps.settingsOf(host).externalInterface;
    const routed = ((await this.deps.routed?.()) ?? []).filter((g) => g.length > 1);
    // A host without an external interface is touched only for routes between subnets (and until
    // the ones this process gave it are gone): nothing could be forwarded there.
    if (!iface) {
      if (routed.length === 0 && !this.routedHosts.has(host)) return;
      await this.applyState(host, { ...EMPTY_NAT, routed });
      if (routed.length > 0) this.routedHosts.add(host);
      else this.routedHosts.delete(host);
      return;
    }
    const [forwards, ranges, allSnat, stray] = await Promise.all([repo.forwards(), repo.externalRanges(), this.deps.snat?.() ?? [], repo.strayInstalled()]);
    const here = forwards.filter((f) => f.target_host === host);
    const via = await this.reachable(host, here);
    // Across hosts a router's SNAT and gateway address are on its home alone (one address answers outside).
    const plan = this.deps.exitPlan?.(host);
    const snat = plan ? allSnat.flatMap((s) => (s.routerId && plan.has(s.routerId) ? [{ ...s, via: plan.get(s.routerId) }] : [])) : allSnat;
    const state: HostNat = {
      externalInterface: iface, ownedRanges: ranges, snat, routed,
      forwards: here.map((f) => ({ floatingIp: f.floating_ip_address, fixedIp: via.get(f.fixed_ip_address) ?? f.fixed_ip_address })),
    };
    await this.applyState(host, state);
    for (const f of here) await repo.setInstalled(f.id, host, 'ACTIVE');
    // Forwards that were here and are not any more (moved, disassociated, server gone).
    for (const f of forwards) if (f.host === host && f.target_host !== host) await repo.uninstall(f.id, host);
    for (const f of stray) if (f.host === host) await repo.uninstall(f.id, host);
  }

  /**
   * Where the host reaches each forwarded fixed IP, asked per server; a server the engine could
   * not be asked about keeps its fixed IP (the sync goes on for the others; the sweep asks again).
   */
  private async reachable(host: string, here: { device_id: string | null; fixed_ip_address: string }[]): Promise<Map<string, string>> {
    const via = new Map<string, string>();
    const reach = this.deps.reach;
    if (!reach) return via;
    const byServer = new Map<string, string[]>();
    for (const f of here) if (f.device_id) byServer.set(f.device_id, [...(byServer.get(f.device_id) ?? []), f.fixed_ip_address]);
    await Promise.all([...byServer].map(async ([serverId, ips]) => {
      try {
        for (const [ip, at] of Object.entries(await reach(host, serverId, ips))) via.set(ip, at);
      } catch (e) {
        this.deps.log.warn({ err: e, host, server: serverId }, 'floating IPs: where the host reaches the server could not be asked (forwarded to its fixed IP)');
      }
    }));
    return via;
  }

  private async applyState(host: string, state: HostNat): Promise<void> {
    const { nat, log } = this.deps;
    try {
      await nat.apply(host, state);
    } catch (e) {
      log.warn({ err: e, host }, 'floating IPs: the host\'s NAT could not be applied (the next sweep tries again)');
      throw e;
    }
  }
}
