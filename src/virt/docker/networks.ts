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
 * Leftover `novadock-probe-*` networks of older versions (which chose subnets by probing the
 * engine's pools) are removed on first use.
 */
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { ProjectNetworkSpec, SubnetUnavailable } from '../driver';
import { engineMessage, statusOf, translate } from './client';
import { LABEL_MANAGED, LABEL_PROJECT } from './labels';
import { AddressRange, hostAddress, offsetOf, sizeOf } from './addresses';
import { inSwarm, SwarmManagers, swarmInfo } from './swarm';

/** Host-local project networks (bridges); also the name older versions gave every project network. */
export const NETWORK_PREFIX = 'novadock-net-';
/** Project networks that span hosts (swarm overlays). */
export const OVERLAY_PREFIX = 'novadock-ovl-';
const LABEL_NETWORK = 'novadock.network';
/** How often (every 100 ms) to look for the subnet of a swarm network just made. */
const SUBNET_LOOKS = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A probe network older than this was left behind by an older version's process that died mid-probe. */
const PROBE_STALE_MS = 60_000;

/** Whether an engine network name is a project network's (its addresses are the server's). */
export const isProjectNetworkName = (name: string): boolean => name.startsWith(NETWORK_PREFIX) || name.startsWith(OVERLAY_PREFIX);

export interface ProjectNetwork extends AddressRange {
  name: string;
  /** A swarm overlay: one network, and one address space, on every host of the swarm. */
  spansHosts: boolean;
}

/** Network names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; project ids are hex in practice. */
const safe = (projectId: string) => projectId.replace(/[^a-zA-Z0-9_.-]/g, '_');
export const networkName = (projectId: string): string => NETWORK_PREFIX + safe(projectId);
export const overlayName = (projectId: string): string => OVERLAY_PREFIX + safe(projectId);

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
  private probesSwept = false;
  private warnedNoManager = false;

  constructor(private readonly docker: Docker, private readonly host: string, private readonly log: Logger, private readonly opts: ProjectNetworksOptions = {}) {}

  /**
   * Runs `fn` (a spawn) with the project's network kept: a removal in flight is waited for first,
   * and none starts until `fn` is done. Spawns of one project do not wait for each other.
   */
  async use<T>(projectId: string, fn: () => Promise<T>): Promise<T> {
    for (let r = this.removing.get(projectId); r; r = this.removing.get(projectId)) await r;
    this.users.set(projectId, (this.users.get(projectId) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (this.users.get(projectId) ?? 1) - 1;
      if (n > 0) this.users.set(projectId, n);
      else this.users.delete(projectId);
    }
  }

  /** The project's network on this host, created if missing. Concurrent callers share one creation. */
  ensure(spec: ProjectNetworkSpec): Promise<ProjectNetwork> {
    const known = this.known.get(spec.projectId);
    if (known) return Promise.resolve(known);
    const existing = this.inflight.get(spec.projectId);
    if (existing) return existing;
    const p = this.ensureUncached(spec)
      .then((net) => {
        this.known.set(spec.projectId, net);
        return net;
      })
      .finally(() => this.inflight.delete(spec.projectId));
    this.inflight.set(spec.projectId, p);
    return p;
  }

  /** Drops a cached network (removed behind our back); the next ensure looks again. */
  forget(projectId: string): void {
    this.known.delete(projectId);
  }

  /**
   * After an instance of `projectId` was removed: each of `names` (its networks) that is a
   * host-local project network with no container attached any more (running or stopped, ours or
   * not) is removed, unless a spawn of the project is in flight here. Best effort: a failure is
   * logged, never thrown (the instance is gone either way).
   */
  releaseIfUnused(projectId: string, names: string[]): Promise<void> {
    const bridges = names.filter((n) => n.startsWith(NETWORK_PREFIX));
    if (bridges.length === 0 || (this.users.get(projectId) ?? 0) > 0) return Promise.resolve();
    const inFlight = this.removing.get(projectId);
    if (inFlight) return inFlight;
    const p = Promise.all(bridges.map((n) => this.removeUnused(projectId, n)))
      .then(() => undefined)
      .finally(() => this.removing.delete(projectId));
    this.removing.set(projectId, p);
    return p;
  }

  private async removeUnused(projectId: string, name: string): Promise<void> {
    try {
      const attached = await this.docker.listContainers({ all: true, filters: { network: [name] } });
      if (attached.length > 0) return;
      const net = await this.find(this.docker, name);
      if (!net || net.spansHosts) return;
      this.forget(projectId);
      await this.docker.getNetwork(net.id).remove();
      this.log.info({ network: name }, 'removed a project network no instance uses any more');
    } catch (e) {
      // 404: gone already; otherwise (a container attached meanwhile, the engine down) it stays.
      if (statusOf(e) !== 404) this.log.warn({ network: name, err: engineMessage(e) }, 'could not remove an unused project network');
    }
  }

  private async ensureUncached(spec: ProjectNetworkSpec): Promise<ProjectNetwork> {
    await this.sweepProbes();
    const manager = await this.swarmManager();
    if (manager) return (await this.find(manager, overlayName(spec.projectId)).catch(unlessUnallocated)) ?? this.createOverlay(manager, spec);
    return (await this.find(this.docker, networkName(spec.projectId))) ?? this.createBridge(spec);
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

  private labels(projectId: string): Record<string, string> {
    return { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_NETWORK]: 'project' };
  }

  private async createBridge(spec: ProjectNetworkSpec): Promise<ProjectNetwork> {
    const name = networkName(spec.projectId);
    return this.create(this.docker, name, spec.subnet, {
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Internal: false,
      Attachable: false,
      IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: hostAddress(spec.subnet, 1) }] },
      Labels: this.labels(spec.projectId),
    });
  }

  /**
   * The overlay's first quarter is the engine's own allocation range (IPRange): the swarm gives
   * each host that joins the network an address of its own from there, and requested addresses
   * are picked above it (addresses.ts), so the two never meet.
   */
  private async createOverlay(manager: Docker, spec: ProjectNetworkSpec): Promise<ProjectNetwork> {
    const name = overlayName(spec.projectId);
    const prefix = Number(spec.subnet.split('/')[1]);
    return this.create(manager, name, spec.subnet, {
      Name: name,
      Driver: 'overlay',
      CheckDuplicate: true,
      Internal: false,
      Attachable: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: spec.subnet, Gateway: hostAddress(spec.subnet, 1), IPRange: `${hostAddress(spec.subnet, 0)}/${prefix + 2}` }] },
      Options: this.opts.encrypted ? { encrypted: '' } : {},
      Labels: this.labels(spec.projectId),
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
