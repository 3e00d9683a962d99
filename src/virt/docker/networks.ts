/**
 * Per-project networks: each project gets its own bridge, `novadock-net-<projectId>`, created on
 * first use, so one tenant's containers cannot reach another's (the engine isolates bridges
 * from each other) while a project's own containers talk freely.
 *
 * Addresses are requested, not left to the engine's allocator, so that a server keeps its
 * address across rebuild (destroy + spawn of the same server id): the preferred address is a
 * hash of the server id inside the project's subnet, probing upwards past addresses in use.
 * The engine honours a requested address only on a network whose subnet was given at creation;
 * to choose a subnet that is free on this host (the engine knows the host's routes, we may not:
 * the engine can be remote), we let the engine pick one for a throw-away probe network, then
 * create the project's network with that subnet pinned.
 */
import crypto from 'node:crypto';
import type Docker from 'dockerode';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { statusOf, translate } from './client';
import { LABEL_MANAGED, LABEL_PROJECT } from './labels';

export const NETWORK_PREFIX = 'novadock-net-';
const LABEL_NETWORK = 'novadock.network';
/** A probe network older than this was left behind by a process that died mid-probe. */
const PROBE_STALE_MS = 60_000;

export interface ProjectNetwork {
  name: string;
  id: string;
  /** IPv4 subnet in CIDR form, e.g. 172.19.0.0/16. */
  subnet: string;
  gateway?: string;
}

/** Network names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; project ids are hex in practice. */
export function networkName(projectId: string): string {
  return NETWORK_PREFIX + projectId.replace(/[^a-zA-Z0-9_.-]/g, '_');
}

export class ProjectNetworks {
  /** One creation in flight per project in this process; the engine check covers other processes. */
  private readonly inflight = new Map<string, Promise<ProjectNetwork>>();
  /** Networks known to exist (saves a lookup per spawn); `forget` drops one the engine lost. */
  private readonly known = new Map<string, ProjectNetwork>();

  /** `probeStaleMs`: age past which a probe network counts as left behind (tests shorten it). */
  constructor(private readonly docker: Docker, private readonly host: string, private readonly log: Logger, private readonly probeStaleMs = PROBE_STALE_MS) {}

  /** The project's network, created if missing. Concurrent callers share one creation. */
  ensure(projectId: string): Promise<ProjectNetwork> {
    const known = this.known.get(projectId);
    if (known) return Promise.resolve(known);
    const existing = this.inflight.get(projectId);
    if (existing) return existing;
    const p = this.ensureUncached(projectId)
      .then((net) => {
        this.known.set(projectId, net);
        return net;
      })
      .finally(() => this.inflight.delete(projectId));
    this.inflight.set(projectId, p);
    return p;
  }

  /** Drops a cached network (removed behind our back); the next ensure looks again. */
  forget(projectId: string): void {
    this.known.delete(projectId);
  }

  private async ensureUncached(projectId: string): Promise<ProjectNetwork> {
    const name = networkName(projectId);
    const found = await this.find(name);
    if (found) return found;
    for (let attempt = 1; ; attempt++) {
      const subnet = await this.freeSubnet();
      try {
        const gateway = firstHost(subnet);
        await this.docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          Internal: false,
          Attachable: false,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gateway }] },
          Labels: { [LABEL_MANAGED]: 'true', [LABEL_PROJECT]: projectId, [LABEL_NETWORK]: 'project' },
        });
        this.log.info({ network: name, subnet }, 'created project network');
      } catch (e) {
        // 409: another process created it first — use theirs. Overlap: someone took the subnet
        // between probe and create — probe again.
        if (statusOf(e) === 409) {
          const theirs = await this.find(name);
          if (theirs) return theirs;
        }
        if (attempt < 5 && /overlap|pool/i.test(String((e as Error).message))) continue;
        throw translate(this.host, e);
      }
      const net = await this.find(name);
      if (!net) throw new Error(`Compute host ${this.host}: network ${name} vanished after creation`);
      return net;
    }
  }

  /**
   * The network with exactly this name. CheckDuplicate is best effort in the engine, so two
   * processes racing can still make two; then every process picks the oldest and the loser
   * is removed (it has no containers yet: spawns use the picked one).
   */
  async find(name: string): Promise<ProjectNetwork | undefined> {
    let list: Docker.NetworkInspectInfo[];
    try {
      list = await this.docker.listNetworks({ filters: { name: [name] } });
    } catch (e) {
      throw translate(this.host, e);
    }
    const exact = list.filter((n) => n.Name === name).sort((a, b) => (a.Created < b.Created ? -1 : a.Created > b.Created ? 1 : a.Id.localeCompare(b.Id)));
    if (exact.length === 0) return undefined;
    for (const extra of exact.slice(1)) {
      await this.docker.getNetwork(extra.Id).remove().catch(() => undefined);
    }
    const n = exact[0];
    const cfg = (n.IPAM?.Config ?? []).find((c) => c.Subnet?.includes('.'));
    return { name, id: n.Id, subnet: cfg?.Subnet ?? '', gateway: cfg?.Gateway };
  }

  /**
   * A subnet the engine considers free on its host: what it gives a probe network. A probe lives
   * for one inspect; one older than a minute was left by a process killed mid-probe, and would
   * hold one of the engine's few address pools for ever: it is removed first.
   */
  private async freeSubnet(): Promise<string> {
    await this.removeStaleProbes();
    const probeName = `novadock-probe-${crypto.randomBytes(6).toString('hex')}`;
    try {
      const created = await this.docker.createNetwork({
        Name: probeName,
        Driver: 'bridge',
        Labels: { [LABEL_MANAGED]: 'true', [LABEL_NETWORK]: 'probe' },
      });
      try {
        const info = (await created.inspect()) as Docker.NetworkInspectInfo;
        const subnet = info.IPAM?.Config?.find((c) => c.Subnet && c.Subnet.includes('.'))?.Subnet;
        if (!subnet) throw new Error('the engine gave the probe network no IPv4 subnet');
        return subnet;
      } finally {
        await created.remove().catch(() => undefined);
      }
    } catch (e) {
      throw translate(this.host, e);
    }
  }

  private async removeStaleProbes(): Promise<void> {
    let probes: Docker.NetworkInspectInfo[];
    try {
      probes = await this.docker.listNetworks({ filters: { label: [`${LABEL_NETWORK}=probe`] } });
    } catch {
      return; // the probe itself will say what is wrong with the engine
    }
    const cutoff = Date.now() - this.probeStaleMs;
    for (const n of probes) {
      if (Date.parse(n.Created) < cutoff) await this.docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
  }

  /**
   * Picks the address for `serverId` on `net`: the hash-preferred one, or the next free one.
   * `inUse` asks the engine which addresses other instances of the project hold (running or
   * stopped); `exclude` lists those that failed already. Call `release` once the container
   * exists (or failed).
   *
   * The engine is asked only when its answer could change the pick: on a network's first pick,
   * when the preferred address looks taken (it may have been freed since: a rebuild takes its
   * own address back), or after a start failed on an address (someone outside this process
   * holds it). Otherwise the addresses last seen held, plus those handed out since, are enough:
   * they can only be stale by including an address freed since, which costs a skipped address.
   */
  async pick(net: ProjectNetwork, serverId: string, inUse: () => Promise<Set<string>>, exclude: Set<string> = new Set()): Promise<{ ip: string; release: () => void }> {
    const book = bookOf(net.id);
    const run = book.picking.catch(() => undefined).then(async () => {
      const fixed = new Set([...book.reserved, ...exclude]);
      if (net.gateway) fixed.add(net.gateway);
      if (!book.held || exclude.size > 0 || book.held.has(preferredAddress(net.subnet, serverId, fixed))) {
        book.held = await inUse();
      }
      const ip = preferredAddress(net.subnet, serverId, new Set([...book.held, ...fixed]));
      book.held.add(ip);
      book.reserved.add(ip);
      return { ip, release: () => book.reserved.delete(ip) };
    });
    book.picking = run;
    return run;
  }
}

/** What is known of one engine network's addresses, shared by every driver of this process. */
interface AddressBook {
  /** Serializes picks, so two spawns in this process never pick alike. */
  picking: Promise<unknown>;
  /** Handed out, but the container may not exist yet. */
  reserved: Set<string>;
  /** Held on the engine when last asked, plus handed out since; undefined until first asked. */
  held: Set<string> | undefined;
}

/**
 * Keyed by the engine's network id (unique per engine), not by driver: two compute hosts of
 * one process on one engine share a project's network, and must not hand out one address twice.
 */
const books = new Map<string, AddressBook>();

function bookOf(networkId: string): AddressBook {
  let book = books.get(networkId);
  if (!book) {
    book = { picking: Promise.resolve(), reserved: new Set(), held: undefined };
    books.set(networkId, book);
  }
  return book;
}

function firstHost(cidr: string): string {
  const [addr] = ipaddr.IPv4.parseCIDR(cidr);
  const n = toInt(addr) + 1;
  return fromInt(n);
}

const toInt = (a: ipaddr.IPv4) => a.octets.reduce((acc, o) => acc * 256 + o, 0);
const fromInt = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/**
 * A stable address for `serverId` inside `cidr` (never the network, gateway or broadcast
 * address), probing upwards (wrapping) past `used`.
 */
export function preferredAddress(cidr: string, serverId: string, used: Set<string>): string {
  const [base, prefix] = ipaddr.IPv4.parseCIDR(cidr);
  const size = 2 ** (32 - prefix);
  if (size < 8) throw new Error(`subnet ${cidr} is too small`);
  const start = toInt(base);
  // Host numbers 2 … size-2 (1 is the gateway, size-1 the broadcast address).
  const span = size - 3;
  const h = crypto.createHash('sha256').update(serverId).digest().readUInt32BE(0);
  for (let i = 0; i < span; i++) {
    const ip = fromInt(start + 2 + ((h + i) % span));
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address left in ${cidr}`);
}
