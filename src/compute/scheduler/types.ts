/**
 * The scheduler's vocabulary (nova/scheduler): what it knows of each compute host, what a boot
 * or a move asks for, and the ports through which the services that own hosts' settings,
 * availability zones and server groups feed it. Pure data: the scheduler itself
 * (filters → weighers) reads these and nothing else, so it is unit-tested without a database.
 *
 * Owners:
 *   HostSettingsPort  os-services (enabled / forced_down) and aggregates (availability zones)
 *   ServerGroupsPort  os-server-groups (policy, members)
 *   PlacementPort     the placement of boots and moves (scheduler + atomic claim)
 */
import type { RequestContext } from '../../http/context';
import type { PlacementTx } from '../../db/allocation-repo';
import type { ServerRecord } from '../server-record';

/** Everything the filters and weighers know of one compute host at decision time. */
export interface HostCandidate {
  host: string;
  /** Availability zone of the host (aggregate metadata; Nova's default zone otherwise). */
  zone: string;
  /** nova-compute service not disabled (os-services). */
  enabled: boolean;
  /** Engine last heard answering and the service not forced down. */
  up: boolean;
  /** What the engine reports, less the configured reserve (MiB, count). */
  memoryMb: number;
  vcpus: number;
  /** Nova's ram_allocation_ratio / cpu_allocation_ratio. */
  ramAllocationRatio: number;
  cpuAllocationRatio: number;
  /** Claimed by servers placed on this host (their flavors), MiB and count. */
  usedMemoryMb: number;
  usedVcpus: number;
  /** Servers placed on this host. */
  instances: number;
  /** True when the host's engine already holds the requested image (weigher hint). */
  hasImage?: boolean;
}

/** The policies of os-server-groups. */
export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

/** A server group as the scheduler needs it: its policy and where its members already are. */
export interface GroupSpec {
  uuid: string;
  policy: GroupPolicy;
  /** 2.64 rules: max_server_per_host (anti-affinity only). */
  maxServerPerHost?: number;
  /** Hosts of the group's current members (one entry per member placed, repeats allowed). */
  memberHosts: string[];
}

/** What is asked of the scheduler (nova's RequestSpec). */
export interface RequestSpec {
  /** The flavor's demand per instance. */
  memoryMb: number;
  vcpus: number;
  /** How many instances to place together (min_count/max_count: all or nothing). */
  count: number;
  /** Requested availability zone; undefined = any. */
  availabilityZone?: string;
  /** Admin's forced host (`nova:host` or 2.74 `host`); filters other than existence are skipped for it, as Nova does. */
  forcedHost?: string;
  /** Hosts never to choose (a move's source). */
  ignoreHosts?: string[];
  group?: GroupSpec;
  /** The image's engine id (ImageRecord.engine_image_id): hosts known to hold it weigh a little more. */
  engineImageId?: string;
}

/** No host passed the filters: the server goes ERROR with Nova's fault text. */
export class NoValidHost extends Error {
  constructor(readonly reason: string) {
    super(`No valid host was found. ${reason}`);
    this.name = 'NoValidHost';
  }
}

/** Per-host settings owned by os-services and os-aggregates. */
export interface HostSettings {
  host: string;
  disabled: boolean;
  disabledReason: string | null;
  forcedDown: boolean;
  /** The host's availability zone (from aggregate metadata), or the default zone. */
  zone: string;
}

export interface HostSettingsPort {
  /** Settings of every configured host (hosts with no row: enabled, not forced down, default zone). */
  all(): Promise<HostSettings[]>;
  /** Whether `zone` names an availability zone that exists (the default zone always does). */
  zoneExists(zone: string): Promise<boolean>;
  /** Whether `host` is forced down, read alone (cheaper than all()); absent: callers ask all(). */
  forcedDown?(host: string): Promise<boolean>;
}

export interface ServerGroupsPort {
  /**
   * The group a boot names in its `group` hint, checked for `ctx` (404/400 as Nova answers)
   * and for the server_group_members quota for `count` more members; undefined when no hint.
   */
  forBoot(ctx: RequestContext, groupId: string | undefined, count: number): Promise<GroupSpec | undefined>;
  /** Records the new servers as members (before the builds run). */
  addMembers(groupUuid: string, serverIds: string[]): Promise<void>;
  /** The group of a server, as a move needs it (its own host excluded by the caller); undefined when none. */
  groupOf(serverId: string): Promise<GroupSpec | undefined>;
  /** Group uuids a server belongs to (server body `server_groups`, 2.71). */
  groupsOf(serverId: string): Promise<string[]>;
  /** Drops a deleted server from its groups. */
  removeMember(serverId: string): Promise<void>;
}

/**
 * Places servers: runs the scheduler over the current candidates and claims in one step, as
 * Nova's scheduler does with placement. A claim is an allocation (table `allocations`):
 * a consumer (a server id, or a migration's uuid while a move is unconfirmed) holding a
 * flavor's RAM and vCPUs on one host. Usage of a host is the sum of its allocations, so
 * concurrent decisions never overcommit it.
 */
export interface PlacementPort {
  /**
   * Chooses a host for each of `servers` (all or none), allocates their flavors there and
   * records the host on them; throws NoValidHost and allocates nothing.
   */
  placeBoot(servers: ServerRecord[], spec: RequestSpec): Promise<string[]>;
  /**
   * A move of `server` (migrate, resize to another host, evacuate): its allocation on the
   * source passes to `migrationUuid`, a destination is chosen (never the source) and the
   * server's flavor (`spec`) allocated there under the server's id; throws NoValidHost and
   * changes nothing. `sameHost` (a resize): the server's own host when it fits, else another.
   */
  placeMove(server: ServerRecord, spec: RequestSpec, migrationUuid: string, opts?: { sameHost?: boolean }): Promise<string>;
  /**
   * A resize's placement on its own host, made inside the transaction that claims its task, so
   * that the engine's update can follow the claim at once. Reads what the decision needs first
   * (outside any transaction) and resolves to the decision: given that transaction's placement
   * operations, it allocates the new flavor (`spec`) on the source under the server's id, the
   * old allocation passing to `migrationUuid`, and answers the source; when the source does not
   * fit it answers undefined and changes nothing (placeMove then chooses another host).
   * Optional: without it, every resize is placed by placeMove.
   */
  onSource?(server: ServerRecord, spec: RequestSpec): Promise<(tx: PlacementTx, migrationUuid: string) => Promise<string | undefined>>;
  /** Confirm (or a finished evacuation's clean-up): the source's allocation goes. */
  confirmMove(migrationUuid: string): Promise<void>;
  /** Revert (or a failed move): the destination's allocation goes, the source's returns to the server. */
  revertMove(serverId: string, migrationUuid: string): Promise<void>;
  /** Drops every allocation of a consumer (server deleted, build failed). */
  release(consumerId: string): Promise<void>;
}
