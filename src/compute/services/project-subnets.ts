/**
 * Project subnets: novadock, not the engine, chooses each project's network subnet, as Neutron's
 * subnet pools do. One subnet per project, taken in order from a configured range
 * (NOVADOCK_PROJECT_NETWORK_RANGE, /NOVADOCK_PROJECT_NETWORK_PREFIX each) and recorded in the
 * database, so it is the same on every compute host: a network spanning hosts has one subnet, and
 * a project's address never depends on which host asked first. (Engines' own default pools hold
 * about 30 networks; a range of /24s out of a /12 holds 4,096.)
 *
 *   boot / rebuild ─ networkFor(project, server) ─▶ the project's subnet (allocated on first use)
 *                                                   + addresses its other servers hold
 *   engine refuses the subnet (it overlaps a network already there: another deployment's, a
 *   user's) ─ refused(project, subnet, inUse) ─▶ the subnet is blocked for good, the project
 *                                                  moves to the next free one that fits the host
 *
 * Concurrency: allocation is an insert decided by the table's unique constraints (repository), so
 * two processes allocating at once never share a subnet; the loser tries the next one.
 */
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import type { ProjectSubnetRepository } from '../../db/subnet-repo';
import type { ServerRepository } from '../../db/server-repo';
import type { ProjectNetworkSpec } from '../../virt/driver';
import { DEFAULT_PROJECT_NETWORKS, ProjectNetworkSettings } from '../../config';

export { DEFAULT_PROJECT_NETWORKS };
export type { ProjectNetworkSettings };

/** Smallest subnet a project can have: the driver needs room for a gateway and a few servers. */
export const MAX_PROJECT_PREFIX = 28;

/** The range is used up: the build fails with this as its fault. */
export class NoFreeSubnet extends Error {
  constructor(settings: ProjectNetworkSettings, count: number) {
    super(`No free project subnet: all ${count} subnets (/${settings.prefix}) of NOVADOCK_PROJECT_NETWORK_RANGE ${settings.range} are in use.`);
    this.name = 'NoFreeSubnet';
  }
}

/** [first, last] address of a CIDR as numbers. */
type Span = [number, number];

const toInt = (a: ipaddr.IPv4) => a.octets.reduce((acc, o) => acc * 256 + o, 0);
const fromInt = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

function spanOf(cidr: string): Span | undefined {
  try {
    const [addr, prefix] = ipaddr.IPv4.parseCIDR(cidr);
    const size = 2 ** (32 - prefix);
    const start = Math.floor(toInt(addr) / size) * size;
    return [start, start + size - 1];
  } catch {
    return undefined; // not IPv4 CIDR (an engine's IPv6 network): cannot overlap ours
  }
}

/** Checks settings (at start-up): the range is IPv4 CIDR at its network address, the prefix fits it. */
export function checkProjectNetworkSettings(s: ProjectNetworkSettings): void {
  let base: ipaddr.IPv4;
  let rangePrefix: number;
  try {
    [base, rangePrefix] = ipaddr.IPv4.parseCIDR(s.range);
  } catch {
    throw new Error(`NOVADOCK_PROJECT_NETWORK_RANGE must be an IPv4 range in CIDR form (e.g. ${DEFAULT_PROJECT_NETWORKS.range}), got '${s.range}'`);
  }
  const network = ipaddr.IPv4.networkAddressFromCIDR(s.range).toString();
  if (network !== base.toString()) throw new Error(`NOVADOCK_PROJECT_NETWORK_RANGE ${s.range} is not a network address: did you mean ${network}/${rangePrefix}?`);
  if (!Number.isInteger(s.prefix) || s.prefix < rangePrefix || s.prefix > MAX_PROJECT_PREFIX) {
    throw new Error(`NOVADOCK_PROJECT_NETWORK_PREFIX must be an integer from ${rangePrefix} (the range's own) to ${MAX_PROJECT_PREFIX}, got '${s.prefix}'`);
  }
}

export interface ProjectSubnetsDeps {
  repo: ProjectSubnetRepository;
  servers: ServerRepository;
  settings: ProjectNetworkSettings;
  log: Logger;
}

export class ProjectSubnets {
  private readonly repo: ProjectSubnetRepository;
  private readonly servers: ServerRepository;
  private readonly settings: ProjectNetworkSettings;
  private readonly log: Logger;
  private readonly base: number;
  private readonly size: number;
  private readonly count: number;
  /**
   * Told when a project moved to another subnet (issue 17: the project's default network in the
   * Networking API shows the subnet its servers are on). Set once at wiring; a failure is logged.
   */
  onMoved?: (projectId: string, from: string, to: string) => Promise<void>;

  constructor(deps: ProjectSubnetsDeps) {
    checkProjectNetworkSettings(deps.settings);
    this.repo = deps.repo;
    this.servers = deps.servers;
    this.settings = deps.settings;
    this.log = deps.log;
    const [start, end] = spanOf(deps.settings.range)!;
    this.base = start;
    this.size = 2 ** (32 - deps.settings.prefix);
    this.count = (end - start + 1) / this.size;
  }

  /** What the driver needs of the project's network for `serverId`: the subnet and the addresses its other servers hold. */
  async networkFor(projectId: string, serverId: string): Promise<ProjectNetworkSpec> {
    const subnet = await this.subnetOf(projectId);
    return { projectId, subnet, addressesInUse: await this.addressesInUse(projectId, serverId, subnet) };
  }

  /** The project's subnet, allocated on first use. Throws NoFreeSubnet when the range is used up. */
  async subnetOf(projectId: string): Promise<string> {
    return (await this.repo.get(projectId)) ?? this.allocate(projectId);
  }

  /**
   * An engine refused `subnet` for the project (it overlaps `inUse`, the subnets of that engine's
   * networks): the subnet is kept out of use for good and the project moves to the next free one
   * clear of `inUse`. Concurrent callers for one project agree: whoever moves it first wins and
   * the others get that subnet. Resolves to the project's subnet now.
   */
  async refused(projectId: string, subnet: string, reason: string, inUse: string[]): Promise<string> {
    const avoid = inUse.map(spanOf).filter((s): s is Span => s !== undefined);
    avoid.push(spanOf(subnet)!);
    for (;;) {
      const current = await this.repo.get(projectId);
      if (current !== subnet) return current ?? this.allocate(projectId, avoid);
      const next = this.firstFree(new Set(await this.repo.taken()), avoid);
      if (await this.repo.move(projectId, subnet, next)) {
        await this.repo.block(subnet, reason);
        this.log.warn({ project_id: projectId, refused: subnet, subnet: next, reason }, 'an engine refused the project subnet: moved the project to another');
        await this.onMoved?.(projectId, subnet, next).catch((err) => this.log.error({ err, project_id: projectId }, 'the default network\'s subnet did not follow the project\'s move'));
        return next;
      }
    }
  }

  private async allocate(projectId: string, avoid: Span[] = []): Promise<string> {
    const taken = new Set(await this.repo.taken());
    for (;;) {
      const cidr = this.firstFree(taken, avoid);
      const theirs = await this.repo.claim(projectId, cidr);
      if (theirs !== undefined) return theirs;
      taken.add(cidr); // another project took it first: the next one
    }
  }

  /**
   * The first subnet of the range not taken and clear of `avoid`. Taken subnets of another size
   * (the prefix setting changed since) are checked for overlap, not only equality.
   */
  private firstFree(taken: Set<string>, avoid: Span[]): string {
    const odd = [...avoid];
    for (const t of taken) {
      if (!t.endsWith(`/${this.settings.prefix}`)) {
        const s = spanOf(t);
        if (s) odd.push(s);
      }
    }
    for (let i = 0; i < this.count; i++) {
      const start = this.base + i * this.size;
      const cidr = `${fromInt(start)}/${this.settings.prefix}`;
      if (taken.has(cidr)) continue;
      const end = start + this.size - 1;
      if (odd.some(([a, b]) => a <= end && start <= b)) continue;
      return cidr;
    }
    throw new NoFreeSubnet(this.settings, this.count);
  }

  /** IPv4 addresses inside `subnet` recorded for the project's other servers (on any host). */
  private async addressesInUse(projectId: string, serverId: string, subnet: string): Promise<string[]> {
    const range = ipaddr.IPv4.parseCIDR(subnet);
    const out = new Set<string>();
    for (const s of await this.servers.list({ projectId })) {
      if (s.id === serverId) continue; // a rebuild or a move takes its own address back
      for (const a of Object.values(s.addresses ?? {}).flat()) {
        if (a.version === 4 && ipaddr.IPv4.isValidFourPartDecimal(a.addr) && ipaddr.IPv4.parse(a.addr).match(range)) out.add(a.addr);
      }
    }
    return [...out];
  }
}
