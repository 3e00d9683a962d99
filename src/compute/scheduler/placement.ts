/**
 * Placement (PlacementPort): the scheduler's decision and its claim in one step, as Nova's
 * scheduler does with the placement service.
 *
 *   host cache (HostService)  ─┐  engines' memory and CPUs, up/down          read before, no engine call
 *   HostSettingsPort          ─┤  enabled, forced down, zone
 *   ┌─ one placement transaction (runs alone: dialect.serialize) ──────────────────────────┐
 *   │ allocations ──usage by host──▶ HostCandidates ──selectHosts──▶ hosts (or NoValidHost) │
 *   │ ──▶ allocations inserted, servers.host / availability_zone set                       │
 *   └───────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Capacity per host: the engine's figures less the configured reserve, times the allocation
 * ratios (HostCapacityConfig, Nova's meanings). Because usage is read inside the transaction
 * that writes the claim, concurrent boots never overcommit a host beyond its ratios.
 *
 * Moves (migrate, resize, evacuate) use migration-based allocations as Nova does: the server's
 * allocation on the source passes to the migration's uuid, the server allocates on the
 * destination; confirm drops the migration's, revert drops the server's and gives the source
 * back to it. A resize that fits its own host is placed inside the transaction that claims its
 * task (onSource), so that the engine's update follows the claim at once.
 */
import type { Logger } from 'pino';
import type { HostCapacityConfig } from '../../config';
import type { AllocationRepository, HostAllocated, PlacementTx } from '../../db/allocation-repo';
import type { ServerRecord } from '../server-record';
import type { HostState } from '../services/hosts';
import { AVAILABILITY_ZONE } from '../services/hosts';
import { NoHostsPassed, SchedulerOptions, selectHosts } from './scheduler';
import type { HostCandidate, HostSettings, HostSettingsPort, PlacementPort, RequestSpec } from './types';

/** What placement reads of the compute hosts (HostService): the cache, never an engine call. */
export interface PlacementHosts {
  hosts(): Promise<HostState[]>;
}

/** Which hosts are known to hold an engine image (HostImages). */
export interface ImagePresence {
  holds(host: string, engineImageId: string): boolean;
}

export interface PlacementDeps {
  allocations: AllocationRepository;
  hosts: PlacementHosts;
  settings: HostSettingsPort;
  /** Reserve and ratios of a host (config.capacityOf). */
  capacity(host: string): HostCapacityConfig;
  images?: ImagePresence;
  log: Logger;
  scheduler?: SchedulerOptions;
}

/** A host's figures as os-hypervisors shows them (nova's compute node: reserve included in "used"). */
export interface HostFigures {
  /** Allocated plus reserved_host_memory_mb. */
  memoryMbUsed: number;
  /** Allocated plus reserved_host_cpus. */
  vcpusUsed: number;
  /** Servers holding an allocation on the host. */
  runningVms: number;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
}

/**
 * A move's claim: the server's allocation passes to the migration, the server allocates `spec` on
 * `host` (added: after the transfer, in the same transaction, it holds nothing to replace).
 */
async function moveClaim(tx: PlacementTx, server: ServerRecord, migrationUuid: string, host: string, spec: RequestSpec): Promise<void> {
  await tx.transfer(server.id, migrationUuid);
  await tx.add({ consumerId: server.id, host, memoryMb: spec.memoryMb, vcpus: spec.vcpus });
}

const NOTHING: HostAllocated = { memoryMb: 0, vcpus: 0, instances: 0 };

function defaultSettings(host: string): HostSettings {
  return { host, disabled: false, disabledReason: null, forcedDown: false, zone: AVAILABILITY_ZONE };
}

export class PlacementService implements PlacementPort {
  constructor(private readonly deps: PlacementDeps) {}

  async placeBoot(servers: ServerRecord[], spec: RequestSpec): Promise<string[]> {
    if (servers.length === 0) return [];
    const { hostStates, settings } = await this.inputs();
    return this.decide(spec, servers.map((s) => s.id), async (tx, usage) => {
      const candidates = this.candidates(hostStates, settings, usage, spec);
      const chosen = selectHosts(candidates, { ...spec, count: servers.length }, this.deps.scheduler);
      for (let i = 0; i < servers.length; i++) {
        const host = chosen[i];
        const zone = settings.get(host)?.zone ?? AVAILABILITY_ZONE;
        // A server deleted meanwhile (by another process) gets no allocation.
        if (await tx.assignHost(servers[i].id, host, zone)) {
          await tx.allocate({ consumerId: servers[i].id, host, memoryMb: spec.memoryMb, vcpus: spec.vcpus });
        }
      }
      return chosen;
    });
  }

  async placeMove(server: ServerRecord, spec: RequestSpec, migrationUuid: string, opts: { sameHost?: boolean } = {}): Promise<string> {
    const { hostStates, settings } = await this.inputs();
    const ignoreHosts = [...(spec.ignoreHosts ?? []), ...(server.host ? [server.host] : [])];
    const [dest] = await this.decide(spec, [server.id], async (tx, usage) => {
      const candidates = this.candidates(hostStates, settings, usage, spec);
      const chosen = (opts.sameHost && this.sourceFits(server, candidates, spec)) || selectHosts(candidates, { ...spec, count: 1, ignoreHosts }, this.deps.scheduler);
      await moveClaim(tx, server, migrationUuid, chosen[0], spec);
      return chosen;
    });
    return dest;
  }

  async onSource(server: ServerRecord, spec: RequestSpec): Promise<(tx: PlacementTx, migrationUuid: string) => Promise<string | undefined>> {
    const { hostStates, settings } = await this.inputs();
    return async (tx, migrationUuid) => {
      const [source] = this.sourceFits(server, this.candidates(hostStates, settings, await tx.usage(), spec), spec) ?? [];
      if (source === undefined) return undefined;
      await moveClaim(tx, server, migrationUuid, source, spec);
      return source;
    };
  }

  /**
   * A resize's own host, when it passes the filters for the new flavor (Nova's
   * allow_resize_to_same_host, preferred here: the limits then change in place). The old
   * flavor stays claimed beside the new one until confirm or revert, as in Nova; the server
   * itself is not another member of its group there.
   */
  private sourceFits(server: ServerRecord, candidates: HostCandidate[], spec: RequestSpec): string[] | undefined {
    const source = server.host;
    if (!source) return undefined;
    let group = spec.group;
    if (group) {
      const members = [...group.memberHosts];
      const mine = members.indexOf(source);
      if (mine >= 0) members.splice(mine, 1);
      group = { ...group, memberHosts: members };
    }
    const others = candidates.filter((c) => c.host !== source).map((c) => c.host);
    try {
      return selectHosts(candidates, { ...spec, group, count: 1, ignoreHosts: others }, this.deps.scheduler);
    } catch (e) {
      if (e instanceof NoHostsPassed) return undefined;
      throw e;
    }
  }

  async confirmMove(migrationUuid: string): Promise<void> {
    await this.deps.allocations.release(migrationUuid);
  }

  async revertMove(serverId: string, migrationUuid: string): Promise<void> {
    await this.deps.allocations.transaction(async (tx) => {
      await tx.release(serverId);
      await tx.transfer(migrationUuid, serverId);
    });
  }

  async release(consumerId: string): Promise<void> {
    await this.deps.allocations.release(consumerId);
  }

  /** Every host's figures for os-hypervisors, from the database and the settings (no engine call). */
  async figures(): Promise<Map<string, HostFigures>> {
    const [usage, settings] = await Promise.all([this.deps.allocations.usage(), this.deps.settings.all()]);
    const byHost = new Map(settings.map((s) => [s.host, s]));
    const out = new Map<string, HostFigures>();
    for (const { host } of await this.deps.hosts.hosts()) {
      const u = usage.get(host) ?? NOTHING;
      const s = byHost.get(host) ?? defaultSettings(host);
      const cap = this.deps.capacity(host);
      out.set(host, {
        memoryMbUsed: u.memoryMb + cap.reservedHostMemoryMb,
        vcpusUsed: u.vcpus + cap.reservedHostCpus,
        runningVms: u.instances,
        disabled: s.disabled,
        disabledReason: s.disabledReason,
        forcedDown: s.forcedDown,
      });
    }
    return out;
  }

  /** The candidates as the scheduler sees them (exposed for the bench and tests). */
  candidates(hostStates: HostState[], settings: Map<string, HostSettings>, usage: Map<string, HostAllocated>, spec: Pick<RequestSpec, 'engineImageId'>): HostCandidate[] {
    const ref = spec.engineImageId;
    return hostStates.map((h) => {
      const s = settings.get(h.host) ?? defaultSettings(h.host);
      const cap = this.deps.capacity(h.host);
      const u = usage.get(h.host) ?? NOTHING;
      return {
        host: h.host,
        zone: s.zone,
        enabled: !s.disabled,
        up: h.state === 'up' && !s.forcedDown,
        memoryMb: Math.max(0, (h.info?.memoryMb ?? 0) - cap.reservedHostMemoryMb),
        vcpus: Math.max(0, (h.info?.vcpus ?? 0) - cap.reservedHostCpus),
        ramAllocationRatio: cap.ramAllocationRatio,
        cpuAllocationRatio: cap.cpuAllocationRatio,
        usedMemoryMb: u.memoryMb,
        usedVcpus: u.vcpus,
        instances: u.instances,
        hasImage: ref !== undefined && this.deps.images !== undefined && this.deps.images.holds(h.host, ref),
      };
    });
  }

  /** The host cache and the settings, read before the transaction (neither is in the database's lock). */
  private async inputs(): Promise<{ hostStates: HostState[]; settings: Map<string, HostSettings> }> {
    const [hostStates, all] = await Promise.all([this.deps.hosts.hosts(), this.deps.settings.all()]);
    return { hostStates, settings: new Map(all.map((s) => [s.host, s])) };
  }

  /** Runs a decision in a placement transaction; a NoValidHost is logged with what each filter left. */
  private async decide<T>(spec: RequestSpec, consumers: string[], fn: (tx: PlacementTx, usage: Map<string, HostAllocated>) => Promise<T>): Promise<T> {
    try {
      return await this.deps.allocations.transaction(async (tx) => fn(tx, await tx.usage()));
    } catch (e) {
      if (e instanceof NoHostsPassed) {
        this.deps.log.info({ consumers, memory_mb: spec.memoryMb, vcpus: spec.vcpus, instance: e.instance, filters: e.filterResults }, 'no valid host');
      }
      throw e;
    }
  }
}
