/**
 * Per-project networks, so one tenant's containers cannot reach another's while a project's own
 * containers talk freely. The subnet is the compute service's (the same on every host); the kind
 * depends on the engine:
 *
 *   engine in no swarm (the default)   a bridge `novadock-net-<project>` on this host, made on
 *                                       first use and removed once no container is attached to
 *                                       it any more (running or stopped)
 *   engine in a swarm with a manager   an attachable overlay `novadock-ovl-<project>`, made
 *   among the configured hosts          through that manager: one network on every host of the
 *                                       swarm, so a project's servers on different hosts reach
 *                                       each other. The swarm takes each host's share of it down
 *                                       when the host's last container leaves; the network itself
 *                                       stays, because a stopped container anywhere (perhaps on a
 *                                       host that is down) still names it by id and could not
 *                                       start again if it were made anew
 *
 * A network of the project's name that exists already (made by an older version, with a subnet the
 * engine chose) is used as it is: its servers keep it. Projects stay apart because the engine
 * isolates bridges from each other and overlays are separate VXLAN segments; containers on
 * overlays also join the host's `docker_gwbridge` for traffic leaving the host (as a bridge's
 * containers go out through the bridge), and the engine makes that bridge with inter-container
 * traffic off, so it joins no two containers.
 *
 * Networks of the network service (issue 17) are made the same way, named after the network's id
 * (`novadock-n-<id>` bridges, `novadock-no-<id>` overlays) with the subnet and gateway of its
 * subnet, and labelled with its name (the key of the addresses on it). The project's default
 * network (`private`) stays the project network above, so servers made before keep working.
 *
 * Leftover `novadock-probe-*` networks of older versions (which chose subnets by probing the
 * engine's pools) are removed on first use.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { ProjectNetworkSpec, SubnetUnavailable } from '../driver';
import { engineMessage, statusOf, translate } from './client';
import { LABEL_NETWORK_NAME, LABEL_PROJECT } from './labels';
import { AddressRange, hostAddress, offsetOf, sizeOf } from './addresses';
import { inSwarm, SwarmManagers, swarmInfo } from './swarm';
import { isNeutronNetworkName, LABEL_NETWORK, NETWORK_PREFIX, NEUTRON_PREFIX, NetworkTarget, networkName, nicNetworkNames, projectTarget } from './network-targets';

export * from './network-targets';

/** How often (every 100 ms) to look for the subnet of a swarm network just made. */
const SUBNET_LOOKS = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A probe network older than this was left behind by an older version's process that died mid-probe. */
const PROBE_STALE_MS = 60_000;


export interface ProjectNetwork extends AddressRange {
  name: string;
  /** A swarm overlay: one network, and one address space, on every host of the swarm. */
  spansHosts: boolean;
}

export interface ProjectNetworksOptions {
  /** Managers among the configured hosts, for engines that are swarm workers. */
  swarm?: SwarmManagers;
  /** Overlays encrypt their traffic between hosts (IPsec; the hosts' kernels must have ESP). */
  encrypted?: boolean;
  /** Deadline of the swarm-state question. Default 2000 ms. */
  infoTimeoutMs?: number;
  /** Age past which a probe network counts as left behind (tests shorten it). */
  probeStaleMs?: number;
}

export class ProjectNetworks {
  /** One creation in flight per project in this process; the engine's name check covers other processes. */
  private readonly inflight = new Map<string, Promise<ProjectNetwork>>();
  /** Networks known to exist (saves a lookup per spawn); `forget` drops one the engine lost. */
  private readonly known = new Map<string, ProjectNetwork>();
  /** Spawns in flight per project; a removal waits for none, and spawns wait for a removal. */
  private readonly users = new Map<string, number>();
  private readonly removing = new Map<string, Promise<void>>();
  /** Names of network-service networks by engine network name (their label; labelsOf). */
  private readonly netLabels = new Map<string, string>();
  private probesSwept = false;
  private warnedNoManager = false;

  constructor(private readonly docker: Docker, private readonly host: string, private readonly log: Logger, private readonly opts: ProjectNetworksOptions = {}) {}

  /**
   * Runs `fn` (a spawn) with the project's network kept: a removal in flight is waited for first,
   * and none starts until `fn` is done. Spawns of one project do not wait for each other.
   */
  async use<T>(projectId: string, fn: () => Promise<T>): Promise<T> {
    return this.useAll([networkName(projectId)], fn);
  }

  /** `use` for several networks at once (by NetworkTarget key): an instance with several interfaces. */
  async useAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    for (const key of keys) for (let r = this.removing.get(key); r; r = this.removing.get(key)) await r;
    for (const key of keys) this.users.set(key, (this.users.get(key) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      for (const key of keys) {
        const n = (this.users.get(key) ?? 1) - 1;
        if (n > 0) this.users.set(key, n);
        else this.users.delete(key);
      }
    }
  }

  /** The project's network on this host, created if missing. Concurrent callers share one creation. */
  ensure(spec: ProjectNetworkSpec): Promise<ProjectNetwork> {
    return this.ensureTarget(projectTarget(spec));
  }

  /** Any engine network (a project's or the network service's), created if missing. */
  ensureTarget(target: NetworkTarget): Promise<ProjectNetwork> {
    const known = this.known.get(target.key);
    if (known) return Promise.resolve(known);
    const existing = this.inflight.get(target.key);
    if (existing) return existing;
    const p = this.ensureUncached(target)
      .then((net) => {
        this.known.set(target.key, net);
        return net;
      })
      .finally(() => this.inflight.delete(target.key));
    this.inflight.set(target.key, p);
    return p;
  }

  /** Drops a cached network (removed behind our back); the next ensure looks again. */
  forget(projectId: string): void {
    this.forgetKey(networkName(projectId));
  }

  forgetKey(key: string): void {
    this.known.delete(key);
  }

  /**
   * The names of network-service networks among `names` (engine network names), by their labels:
   * looked up on the engine only for names not seen yet.
   */
  async labelsOf(names: string[]): Promise<Map<string, string>> {
    const missing = names.filter((n) => isNeutronNetworkName(n) && !this.netLabels.has(n));
    if (missing.length > 0) {
      try {
        const list = await this.docker.listNetworks({ filters: { label: [`${LABEL_NETWORK}=neutron`] } });
        for (const n of list) if (n.Labels?.[LABEL_NETWORK_NAME] !== undefined) this.netLabels.set(n.Name, n.Labels[LABEL_NETWORK_NAME]);
      } catch (e) {
        throw translate(this.host, e);
      }
    }
    return this.netLabels;
  }

  /**
   * The network service deleted a network: its engine networks (bridge, and overlay when this host
   * manages the swarm) go when nothing is attached any more. Best effort, as releaseIfUnused.
   */
  async removeNeutron(networkId: string): Promise<void> {
    const target = nicNetworkNames({ networkId }, '');
    this.forgetKey(target.key);
    await this.removeUnused(target.key, target.bridge, true);
    await this.removeUnused(target.key, target.overlay, true);
  }

  /**
   * After an instance of `projectId` was removed: each of `names` (its networks) that is a
   * host-local project network with no container attached any more (running or stopped, ours or
   * not) is removed, unless a spawn of the project is in flight here. Best effort: a failure is
   * logged, never thrown (the instance is gone either way).
   */
  async releaseIfUnused(names: string[]): Promise<void> {
    // Bridges only: a bridge's key is its name. Overlays stay (see the module comment).
    const bridges = names.filter((n) => n.startsWith(NETWORK_PREFIX) || n.startsWith(NEUTRON_PREFIX));
    await Promise.all(bridges.map((key) => this.releaseOne(key)));
  }

  private releaseOne(key: string): Promise<void> {
    if ((this.users.get(key) ?? 0) > 0) return Promise.resolve();
    const inFlight = this.removing.get(key);
    if (inFlight) return inFlight;
    const p = this.removeUnused(key, key).finally(() => this.removing.delete(key));
    this.removing.set(key, p);
    return p;
  }

  private async removeUnused(key: string, name: string, evenSpanning = false): Promise<void> {
    try {
      const attached = await this.docker.listContainers({ all: true, filters: { network: [name] } });
      if (attached.length > 0) return;
      const net = await this.find(this.docker, name);
      if (!net || (net.spansHosts && !evenSpanning)) return;
      this.forgetKey(key);
      await this.docker.getNetwork(net.id).remove();
      this.log.info({ network: name }, 'removed a project network no instance uses any more');
    } catch (e) {
      // 404: gone already; otherwise (a container attached meanwhile, the engine down) it stays.
      if (statusOf(e) !== 404) this.log.warn({ network: name, err: engineMessage(e) }, 'could not remove an unused project network');
    }
  }

  private async ensureUncached(target: NetworkTarget): Promise<ProjectNetwork> {
    await this.sweepProbes();
    const manager = await this.swarmManager();
    const net = manager
      ? ((await this.find(manager, target.overlay).catch(unlessUnallocated)) ?? (await this.createOverlay(manager, target)))
      : ((await this.find(this.docker, target.bridge)) ?? (await this.createBridge(target)));
    if (target.labels[LABEL_NETWORK_NAME] !== undefined) this.netLabels.set(net.name, target.labels[LABEL_NETWORK_NAME]);
    return net;
  }

  /**
   * The engine to create overlays through, when this engine is in a swarm: itself when it is a
   * manager, else one of its managers among the configured hosts; undefined → bridges (no swarm,
   * or none of the configured hosts manages it). Throws when a manager might be among those that
   * did not answer: a bridge now would cut the server off from its project on other hosts.
   */
  private async swarmManager(): Promise<Docker | undefined> {
    let s;
    try {
      s = await swarmInfo(this.docker, this.opts.infoTimeoutMs ?? 2000);
    } catch (e) {
      throw translate(this.host, e);
    }
    if (!inSwarm(s)) return undefined;
    if (s.ControlAvailable) return this.docker;
    const manager = await this.opts.swarm?.managerOf((s.RemoteManagers ?? []).map((m) => m.NodeID));
    if (!manager && !this.warnedNoManager) {
      this.warnedNoManager = true;
      this.log.warn('the engine is a swarm worker, but no configured compute host is a manager of its swarm: project networks stay on this host (bridges)');
    }
    return manager;
  }

  private async createBridge(spec: NetworkTarget): Promise<ProjectNetwork> {
    const name = spec.bridge;
    return this.create(this.docker, name, spec.subnet, {
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Internal: false,
      Attachable: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway }] },
      Labels: spec.labels,
    });
  }

  /**
   * The overlay's first quarter is the engine's own allocation range (IPRange): the swarm gives
   * each host that joins the network an address of its own from there, and requested addresses
   * are picked above it (addresses.ts), so the two never meet.
   */
  private async createOverlay(manager: Docker, spec: NetworkTarget): Promise<ProjectNetwork> {
    const name = spec.overlay;
    const prefix = Number(spec.subnet.split('/')[1]);
    return this.create(manager, name, spec.subnet, {
      Name: name,
      Driver: 'overlay',
      CheckDuplicate: true,
      Internal: false,
      Attachable: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: spec.gateway, IPRange: `${hostAddress(spec.subnet, 0)}/${prefix + 2}` }] },
      Options: this.opts.encrypted ? { encrypted: '' } : {},
      Labels: spec.labels,
    });
  }

  private async create(engine: Docker, name: string, subnet: string, options: Docker.NetworkCreateOptions): Promise<ProjectNetwork> {
    try {
      await engine.createNetwork(options);
      this.log.info({ network: name, subnet }, 'created project network');
    } catch (e) {
      const msg = engineMessage(e);
      // Another process (or host) created it first: use theirs.
      if (statusOf(e) === 409 || /already exists/i.test(msg)) {
        const theirs = await this.find(engine, name);
        if (theirs) return theirs;
      }
      if (/overlap/i.test(msg)) throw new SubnetUnavailable(subnet, this.host, msg, await this.subnetsOf(engine));
      throw translate(this.host, e);
    }
    let net: ProjectNetwork | undefined;
    try {
      net = await this.find(engine, name);
    } catch (e) {
      // The swarm's allocator refuses a subnet that overlaps another swarm network after the create
      // has answered (its log: "Pool overlaps with other one"); find has removed the dud.
      if (e instanceof UnallocatedNetwork) throw new SubnetUnavailable(subnet, this.host, 'the swarm did not allocate the subnet (it overlaps another of its networks)', await this.subnetsOf(engine));
      throw e;
    }
    if (!net) throw new Error(`Compute host ${this.host}: network ${name} vanished after creation`);
    return net;
  }

  /** IPv4 subnets of the engine's networks (what a refused subnet overlapped). */
  private async subnetsOf(engine: Docker): Promise<string[]> {
    try {
      const list = await engine.listNetworks();
      return list.flatMap((n) => (n.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => s.includes('.')));
    } catch {
      return [];
    }
  }

  /**
   * The network with exactly this name on `engine`. CheckDuplicate is best effort for bridges,
   * so two processes racing can still make two; then every process picks the oldest and the
   * loser is removed (it has no containers yet: spawns use the picked one).
   */
  async find(engine: Docker, name: string): Promise<ProjectNetwork | undefined> {
    for (let look = 1; ; look++) {
      let list: Docker.NetworkInspectInfo[];
      try {
        list = await engine.listNetworks({ filters: { name: [name] } });
      } catch (e) {
        throw translate(this.host, e);
      }
      const exact = list.filter((n) => n.Name === name).sort((a, b) => (a.Created < b.Created ? -1 : a.Created > b.Created ? 1 : a.Id.localeCompare(b.Id)));
      if (exact.length === 0) return undefined;
      for (const extra of exact.slice(1)) {
        await engine.getNetwork(extra.Id).remove().catch(() => undefined);
      }
      const net = projectNetworkOf(exact[0]);
      // A swarm network just made shows its subnet only once the manager's allocator has run.
      if (net.subnet) return net;
      if (look >= SUBNET_LOOKS) {
        // Never allocated (its subnet overlaps another swarm network): it can never carry a
        // container, so it goes, and the caller creates one anew or moves the project elsewhere.
        await engine.getNetwork(exact[0].Id).remove().catch(() => undefined);
        throw new UnallocatedNetwork(name);
      }
      await sleep(100);
    }
  }

  /**
   * Addresses held on `net` as this engine sees them: live endpoints (on an overlay, also those on
   * other hosts that the network's gossip reports) and the requested addresses of stopped
   * containers of the project.
   */
  async addressesInUse(net: ProjectNetwork, projectId: string): Promise<Set<string>> {
    const used = new Set<string>();
    const [netInfo, containers] = await Promise.all([
      // A worker knows an overlay only while one of its containers is attached: 404 is "none here".
      (this.docker.getNetwork(net.id) as unknown as { inspect(o: object): Promise<NetworkDetail> }).inspect(net.spansHosts ? { verbose: true } : {}).catch((e) => {
        if (statusOf(e) === 404 && net.spansHosts) return undefined;
        throw translate(this.host, e);
      }),
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL_PROJECT}=${projectId}`] } }).catch((e) => {
        throw translate(this.host, e);
      }),
    ]);
    for (const ep of Object.values(netInfo?.Containers ?? {})) {
      const ip = ep.IPv4Address?.split('/')[0];
      if (ip) used.add(ip);
    }
    for (const svc of Object.values(netInfo?.Services ?? {})) {
      for (const t of svc?.Tasks ?? []) if (t.EndpointIP) used.add(t.EndpointIP);
    }
    for (const c of containers) {
      const ep = (c.NetworkSettings?.Networks as Record<string, { IPAddress?: string; IPAMConfig?: { IPv4Address?: string } | null }> | undefined)?.[net.name];
      if (ep?.IPAMConfig?.IPv4Address) used.add(ep.IPAMConfig.IPv4Address);
      if (ep?.IPAddress) used.add(ep.IPAddress);
    }
    return used;
  }

  /**
   * Older versions chose subnets by creating a throw-away probe network; one left by a process
   * killed mid-probe holds one of the engine's few address pools for ever. Removed once per
   * driver; one younger than a minute may belong to an older version's probe still running.
   */
  private async sweepProbes(): Promise<void> {
    if (this.probesSwept) return;
    this.probesSwept = true;
    let probes: Docker.NetworkInspectInfo[];
    try {
      probes = await this.docker.listNetworks({ filters: { label: [`${LABEL_NETWORK}=probe`] } });
    } catch {
      return; // the network's creation will say what is wrong with the engine
    }
    const cutoff = Date.now() - (this.opts.probeStaleMs ?? PROBE_STALE_MS);
    for (const n of probes) {
      if (Date.parse(n.Created) < cutoff) await this.docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
  }
}

/** A swarm network whose subnet the manager's allocator never assigned (find removes it). */
class UnallocatedNetwork extends Error {
  constructor(readonly network: string) {
    super(`network ${network} has no IPv4 subnet: the swarm did not allocate it`);
    this.name = 'UnallocatedNetwork';
  }
}

/** A look-up that found only an unallocated (and now removed) network found nothing. */
function unlessUnallocated(e: unknown): undefined {
  if (e instanceof UnallocatedNetwork) return undefined;
  throw e;
}

/** A network inspect as far as the address look-up reads it (`Services` with ?verbose on an overlay). */
interface NetworkDetail {
  Containers?: Record<string, { IPv4Address?: string }>;
  Services?: Record<string, { Tasks?: { EndpointIP?: string }[] } | undefined>;
}

/**
 * A network as the driver uses it. Requested addresses start above the engine's own allocation
 * range when the network has one at the subnet's start (our overlays), else after the gateway.
 */
function projectNetworkOf(n: Docker.NetworkInspectInfo): ProjectNetwork {
  const cfg = (n.IPAM?.Config ?? []).find((c) => c.Subnet?.includes('.')) as { Subnet?: string; Gateway?: string; IPRange?: string } | undefined;
  const subnet = cfg?.Subnet ?? '';
  let firstHost = 2;
  if (subnet && cfg?.IPRange && offsetOf(subnet, cfg.IPRange.split('/')[0]) === 0) {
    firstHost = Math.max(firstHost, sizeOf(cfg.IPRange));
  }
  return { name: n.Name, id: n.Id, subnet, gateway: cfg?.Gateway, firstHost, spansHosts: n.Scope === 'swarm' };
}
