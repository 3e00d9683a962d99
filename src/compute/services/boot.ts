/**
 * Booting servers (nova/compute/api.py create, conductor's schedule_and_build_instances, then
 * the manager's build_and_run_instance):
 *
 *   API call   zone / forced host checked (400, 403) → flavor, image, key, … (400)
 *              → rows inserted within quota (BUILDING / scheduling) → group members → 202
 *   lanes      the first build of the request places all of its servers at once
 *              (PlacementPort.placeBoot: all or nothing; NoValidHost → each server ERROR)
 *              → block_device_mapping (image onto the host) → spawning → ACTIVE, or ERROR with a
 *              fault and its allocation released
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import type { QuotaLimitsPort } from './quotas';
import { badRequest, forbidden, msg, quotaExceeded } from '../../errors';
import { now as nowIso } from '../../clock';
import type { ServerRepository, NewServer, ServerPatch } from '../../db/server-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { ImageRecord } from '../../image/image-record';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { TaskStates, TaskState } from '../task-states';
import { PowerStates } from '../power-state';
import { PRIVATE_NETWORK_ID } from '../networks';
import { generatePassword, reservationId, sanitizeHostname } from '../naming';
import { addressesOf } from '../sync-rules';
import { Superseded, describe, faultOf } from './action-runner';
import { InstanceBuilder, autoDiskConfigFor, snapshotOf } from './instance-builder';
import { AVAILABILITY_ZONE, HostService } from './hosts';
import type { TaskRunner } from './task-runner';
import type { NetworkRequest, ServerNetworking, ServerNic } from './server-ports';
import { NoValidHost } from '../scheduler/types';
import type { GroupSpec, HostSettingsPort, PlacementPort, RequestSpec, ServerGroupsPort } from '../scheduler/types';

export type { NetworkRequest };

/** What a server records of its requested networks: auto, none, or the networks' ids (ports' by their port). */
const requestedOf = (nics: ServerNic[] | 'auto' | 'none'): 'auto' | 'none' | string[] =>
  typeof nics === 'string' ? nics : nics.map((n) => n.networkId ?? `port:${n.portId}`);

export interface CreateServerRequest {
  name: string;
  imageRef: string;
  flavorRef: string;
  metadata?: Record<string, string>;
  /** Absent = Nova's 2.1 semantics: attach the only available network. */
  networks?: NetworkRequest;
  availabilityZone?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  adminPass?: string;
  minCount: number;
  maxCount: number;
  /** Base64, as sent. */
  userData?: string;
  keyName?: string;
  description?: string | null;
  tags?: string[];
  /** OS-DCF:diskConfig: true = AUTO, false = MANUAL, absent = the image's auto_disk_config. */
  autoDiskConfig?: boolean;
  configDrive?: boolean;
  securityGroups?: string[];
  /** 2.90: the hostname to give the server (else derived from the name). */
  hostname?: string;
  /** 2.74 `host` / `hypervisor_hostname` (admin): must name a compute host; placed there. */
  requestedHost?: string;
  requestedHypervisorHostname?: string;
  /** Scheduler hint `group`: the server group the new servers join. */
  group?: string;
}

export interface CreateServerResult {
  servers: ServerRecord[];
  adminPass: string;
  reservationId: string;
}

export interface BootServiceDeps {
  servers: ServerRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  builder: InstanceBuilder;
  hosts: HostService;
  runner: TaskRunner;
  quotas: QuotaLimitsPort;
  placement: PlacementPort;
  settings: HostSettingsPort;
  groups: ServerGroupsPort;
  log: Logger;
  /** The network service's ports (issue 17); absent: the project network only, as before. */
  networking: ServerNetworking;
  /** issue 17 (net-core): the id the Networking API gives the project's default network (absent: none). */
  defaultNetworkId?: (projectId: string) => Promise<string>;
}

/** Where a boot may go, from availability_zone (Nova's "zone:host:node") and 2.74 host. */
interface BootTarget {
  /** The zone to schedule in; undefined = any. */
  zone?: string;
  forcedHost?: string;
}

/** Nova's InvalidInput text. */
const unparsableZone = () => badRequest('Invalid input received: Unable to parse availability_zone');

export class BootService {
  private readonly servers: ServerRepository;
  private readonly keypairs: KeypairRepository;
  private readonly actions: ActionRepository;
  private readonly builder: InstanceBuilder;
  private readonly hosts: HostService;
  private readonly runner: TaskRunner;
  private readonly quotas: QuotaLimitsPort;
  private readonly placement: PlacementPort;
  private readonly settings: HostSettingsPort;
  private readonly groups: ServerGroupsPort;
  private readonly log: Logger;
  private readonly networking: ServerNetworking;
  private readonly defaultNetworkId?: (projectId: string) => Promise<string>;
  /** The last grouped placement of this process (see placeAll). */
  private groupPlacements: Promise<unknown> = Promise.resolve();

  constructor(deps: BootServiceDeps) {
    this.servers = deps.servers;
    this.keypairs = deps.keypairs;
    this.actions = deps.actions;
    this.builder = deps.builder;
    this.hosts = deps.hosts;
    this.runner = deps.runner;
    this.quotas = deps.quotas;
    this.placement = deps.placement;
    this.settings = deps.settings;
    this.groups = deps.groups;
    this.log = deps.log;
    this.networking = deps.networking;
    this.defaultNetworkId = deps.defaultNetworkId;
  }

  /**
   * Boots `maxCount` servers (at least `minCount` within quota). Every row exists before this
   * resolves (the client re-reads at once); the builds run in the background.
   */
  async create(ctx: RequestContext, req: CreateServerRequest): Promise<CreateServerResult> {
    const target = await this.target(ctx, req);
    const flavor = await this.builder.flavorFor(req.flavorRef);
    const image = await this.builder.bootableImage(ctx, req.imageRef, flavor);
    let keyData: string | null = null;
    if (req.keyName !== undefined) {
      const key = await this.keypairs.get(ctx.userId, req.keyName);
      if (!key) throw badRequest('Invalid key_name provided.');
      keyData = key.public_key;
    }
    const nics = this.networking.nicsOf(await this.withDefaultNetworkId(ctx, req.networks), req.maxCount);
    const networks = requestedOf(nics);
    const metadata = req.metadata ?? {};
    await this.builder.checkMetadataQuota(ctx.projectId, Object.keys(metadata).length);
    this.builder.checkUserData(req.userData);
    // The network service's groups, by name or id (allocate makes the ports members).
    const securityGroups = await this.networking.groupNames(ctx, req.securityGroups);
    if (req.minCount > req.maxCount) throw badRequest('min_count must be <= max_count');
    if (req.hostname !== undefined && req.maxCount > 1) throw badRequest('Cannot set hostname when creating multiple instances.');
    const group = await this.groups.forBoot(ctx, req.group, req.maxCount);

    const autoDisk = autoDiskConfigFor(image, req.autoDiskConfig);
    const rid = reservationId();
    const rows: NewServer[] = [];
    for (let i = 0; i < req.maxCount; i++) {
      const id = crypto.randomUUID();
      const multi = req.maxCount > 1;
      const name = multi ? `${req.name}-${i + 1}` : req.name;
      const fallback = `Server-${id}`;
      const hostname = req.hostname ?? (multi && sanitizeHostname(req.name, '') === '' ? fallback : sanitizeHostname(name, fallback));
      rows.push({
        id,
        name,
        project_id: ctx.projectId,
        user_id: ctx.userId,
        image_id: image.id,
        flavor_id: flavor.id,
        flavor: snapshotOf(flavor),
        vm_state: VmStates.BUILDING,
        task_state: TaskStates.SCHEDULING,
        power_state: PowerStates.NOSTATE,
        host: null,
        // Until placed, the zone asked for; placement records the chosen host's zone.
        availability_zone: target.zone ?? AVAILABILITY_ZONE,
        reservation_id: rid,
        launch_index: i,
        hostname,
        description: req.description ?? null,
        metadata,
        addresses: {},
        requested_networks: networks,
        access_ip_v4: req.accessIPv4 ?? '',
        access_ip_v6: req.accessIPv6 ?? '',
        key_name: req.keyName ?? null,
        key_data: keyData,
        user_data: req.userData ?? null,
        config_drive: req.configDrive ?? false,
        auto_disk_config: autoDisk,
        security_groups: securityGroups,
        tags: req.tags ?? [],
        locked: false,
        locked_by: null,
        locked_reason: null,
        progress: 0,
        fault: null,
        launched_at: null,
        terminated_at: null,
      });
    }

    return this.runner.guarded(rows.map((r) => r.id), async () => {
      // Ports before rows: the network service's refusals are the API call's answer (Nova's validate_networks).
      await this.networking.allocate(ctx, rows.map((r) => r.id), target.zone ?? AVAILABILITY_ZONE, nics, securityGroups);
      const inserted = await this.servers.insertWithinQuota(rows, req.minCount, await this.quotas.limits(ctx.projectId));
      const kept = new Set(inserted.ok ? inserted.servers.map((s) => s.id) : []);
      for (const r of rows) if (!kept.has(r.id)) await this.networking.release(r.id);
      if (!inserted.ok) {
        const r = inserted.resource;
        throw quotaExceeded(msg.quotaExceeded(r, inserted.requested, inserted.used, inserted.allowed));
      }
      const servers = inserted.servers;
      if (group) await this.groups.addMembers(group.uuid, servers.map((s) => s.id));
      const spec: RequestSpec = {
        memoryMb: flavor.ram, vcpus: flavor.vcpus, count: servers.length, availabilityZone: target.zone, forcedHost: target.forcedHost,
        group, engineImageId: image.engine_image_id ?? undefined,
      };
      // The request's servers are placed together, by whichever of their builds runs first.
      let placing: Promise<string[]> | undefined;
      const placed = () => {
        placing ??= this.placeAll(servers, spec);
        return placing;
      };
      for (const [i, server] of servers.entries()) {
        const actionId = await this.actions.start({ instanceUuid: server.id, action: 'create', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
        this.runner.schedule(server.id, 'build', () => this.build(server, image, async () => (await placed())[i], actionId));
      }
      return { servers: inserted.servers, adminPass: req.adminPass ?? generatePassword(), reservationId: rid };
    });
  }

  /**
   * Places every server of one request (all or none). A group's members are read again first: a
   * boot that placed members since the API call changes where the next ones may go.
   */
  private placeAll(servers: ServerRecord[], spec: RequestSpec): Promise<string[]> {
    if (!spec.group) return this.placement.placeBoot(servers, spec);
    const group: GroupSpec = spec.group;
    // Grouped placements of this process take turns, so each reads the members the previous one placed.
    const p = this.groupPlacements.then(async () => {
      const current = (await this.groups.groupOf(servers[0].id)) ?? group;
      return this.placement.placeBoot(servers, { ...spec, group: current });
    });
    this.groupPlacements = p.catch(() => undefined);
    return p;
  }

  /**
   * scheduling (placed with the rest of its request) → block_device_mapping (image into the
   * engine) → spawning → ACTIVE, or ERROR with a fault.
   */
  private async build(server: ServerRecord, image: ImageRecord, hostOf: () => Promise<string>, actionId: number): Promise<void> {
    const id = server.id;
    let task: TaskState = TaskStates.SCHEDULING;
    let placed = false;
    const step = async (to: TaskState | null, patch: ServerPatch = {}) => {
      const ok = await this.servers.update(id, { ...patch, task_state: to }, { taskStates: [task], vmStates: [VmStates.BUILDING] });
      if (!ok) throw new Superseded(id, task);
      if (to) task = to;
    };
    try {
      const host = await hostOf();
      placed = true;
      const driver = this.hosts.driverAt(host);
      if (!driver) throw new Error(`Compute host ${host} is not configured.`);
      await step(TaskStates.BLOCK_DEVICE_MAPPING);
      await this.builder.hostImages.ensureOnHost(image, driver);
      await step(TaskStates.SPAWNING);
      const info = await this.builder.spawnFrom(driver, this.builder.specOf({ ...server, host }, image), image);
      // Deleted (or reset) while spawning → Superseded: the delete queued behind us destroys the container.
      await step(null, { vm_state: VmStates.ACTIVE, power_state: info.powerState, addresses: addressesOf(info), launched_at: nowIso() });
      await this.networking.bind(id, host, true).catch((e) => this.log.warn({ server_id: id, err: describe(e) }, 'could not bind the ports of a built server'));
      await this.actions.finish(actionId, 'Success');
    } catch (err) {
      if (err instanceof Superseded) {
        await this.actions.finish(actionId, 'Error', 'The build was superseded (the server was deleted or reset while building).');
        return;
      }
      const message = describe(err);
      if (err instanceof NoValidHost) this.log.info({ server_id: id, err: message }, 'build not scheduled');
      else this.log.warn({ server_id: id, err: message }, 'build failed');
      await this.servers.update(id, { vm_state: VmStates.ERROR, task_state: null, power_state: PowerStates.NOSTATE, fault: faultOf(message) },
        { taskStates: [task], vmStates: [VmStates.BUILDING] });
      // Nova drops a failed build's allocation (the server stays ERROR on its host until deleted).
      if (placed) await this.placement.release(id);
      await this.actions.finish(actionId, 'Error', message);
    }
  }

  /**
   * Nova's checks of availability_zone ("zone", "zone:host", "zone:host:node", "zone::node") and
   * 2.74 host: forcing a host is for admins (403); a zone must exist unless a host is forced
   * (400); a 2.74 host must exist (400). A forced host that does not exist fails the build with
   * no valid host, as Nova's scheduler does.
   */
  private async target(ctx: RequestContext, req: CreateServerRequest): Promise<BootTarget> {
    let zone = req.availabilityZone;
    let host: string | undefined;
    let node: string | undefined;
    if (zone !== undefined && zone.includes(':')) {
      const parts = zone.split(':');
      if (parts.length === 2) [zone, host] = parts;
      else if (parts.length === 3 && zone.includes('::')) [zone, node] = zone.split('::');
      else if (parts.length === 3) [zone, host, node] = parts;
      else throw unparsableZone();
    }
    zone = zone || undefined;
    host = host || undefined;
    node = node || undefined;
    if (host !== undefined || node !== undefined) {
      if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
    }
    if (zone !== undefined && host === undefined && !(await this.settings.zoneExists(zone))) {
      throw badRequest('The requested availability zone is not available');
    }
    const requested = req.requestedHost ?? req.requestedHypervisorHostname;
    if (requested !== undefined) {
      const forced = await this.hostNamed(req.requestedHost, req.requestedHypervisorHostname);
      if (!forced) throw badRequest(msg.computeHostNotFound(requested));
      return { zone, forcedHost: forced };
    }
    if (host === undefined && node === undefined) return { zone };
    return { zone, forcedHost: host ?? (await this.hostNamed(undefined, node)) ?? node };
  }

  /** The compute host with this name and/or hypervisor hostname (a node is its engine's hostname, or the host's name). */
  private async hostNamed(host: string | undefined, node: string | undefined): Promise<string | undefined> {
    const all = await this.hosts.hosts();
    return all.find((h) => (host === undefined || h.host === host) && (node === undefined || h.host === node || h.info?.hostname === node))?.host;
  }

  /** The old pseudo id of the project network (os-networks before the network service) names the default network. */
  private async withDefaultNetworkId(ctx: RequestContext, req: NetworkRequest | undefined): Promise<NetworkRequest | undefined> {
    if (!this.defaultNetworkId || !Array.isArray(req) || !req.some((n) => n.uuid?.toLowerCase() === PRIVATE_NETWORK_ID)) return req;
    const id = await this.defaultNetworkId(ctx.projectId);
    return req.map((n) => (n.uuid?.toLowerCase() === PRIVATE_NETWORK_ID ? { ...n, uuid: id } : n));
  }
}
