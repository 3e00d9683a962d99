/**
 * Booting servers (nova/compute/api.py create, then the manager's build_and_run_instance):
 * every row exists, within quota, before the API answers; the builds run on the servers' lanes
 * (scheduling → block_device_mapping → spawning → ACTIVE, or ERROR with a fault).
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import type { QuotaConfig } from '../../config';
import { badRequest, msg, quotaExceeded } from '../../errors';
import { now as nowIso } from '../../clock';
import type { ServerRepository, NewServer, ServerPatch } from '../../db/server-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { ImageRecord } from '../../image/image-record';
import type { ComputeDriver } from '../../virt/driver';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { TaskStates, TaskState } from '../task-states';
import { PowerStates } from '../power-state';
import { DEFAULT_SECURITY_GROUP, PRIVATE_NETWORK_ID } from '../networks';
import { generatePassword, reservationId, sanitizeHostname } from '../naming';
import { addressesOf } from '../sync-rules';
import { Superseded, describe, faultOf } from './action-runner';
import { InstanceBuilder, snapshotOf } from './instance-builder';
import { AVAILABILITY_ZONE, HostService } from './hosts';
import type { TaskRunner } from './task-runner';

/** A network request on boot, as validated by the router's schema. */
export type NetworkRequest = 'auto' | 'none' | { uuid?: string; port?: string | null; fixed_ip?: string; tag?: string }[];

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
  configDrive?: boolean;
  securityGroups?: string[];
  /** 2.90: the hostname to give the server (else derived from the name). */
  hostname?: string;
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
  quotas: QuotaConfig;
  log: Logger;
}

export class BootService {
  private readonly servers: ServerRepository;
  private readonly keypairs: KeypairRepository;
  private readonly actions: ActionRepository;
  private readonly builder: InstanceBuilder;
  private readonly hosts: HostService;
  private readonly runner: TaskRunner;
  private readonly quotas: QuotaConfig;
  private readonly log: Logger;

  constructor(deps: BootServiceDeps) {
    this.servers = deps.servers;
    this.keypairs = deps.keypairs;
    this.actions = deps.actions;
    this.builder = deps.builder;
    this.hosts = deps.hosts;
    this.runner = deps.runner;
    this.quotas = deps.quotas;
    this.log = deps.log;
  }

  /**
   * Boots `maxCount` servers (at least `minCount` within quota). Every row exists before this
   * resolves (the client re-reads at once); the builds run in the background.
   */
  async create(ctx: RequestContext, req: CreateServerRequest): Promise<CreateServerResult> {
    // The engine is asked whether it answers while the request is checked (a ping waits on a
    // busy engine for up to ~10 ms); its answer is awaited before any row exists.
    const placed = Promise.resolve().then(async () => {
      const d = this.hosts.schedule(ctx, req.availabilityZone);
      await this.hosts.reachable(d);
      return d;
    });
    placed.catch(() => undefined);
    const flavor = await this.builder.flavorFor(req.flavorRef);
    const image = await this.builder.bootableImage(ctx, req.imageRef, flavor);
    let keyData: string | null = null;
    if (req.keyName !== undefined) {
      const key = await this.keypairs.get(ctx.userId, req.keyName);
      if (!key) throw badRequest('Invalid key_name provided.');
      keyData = key.public_key;
    }
    const networks = this.requestedNetworks(ctx, req.networks);
    const metadata = req.metadata ?? {};
    this.builder.checkMetadataQuota(Object.keys(metadata).length);
    this.builder.checkUserData(req.userData);
    const securityGroups = this.checkSecurityGroups(ctx, req.securityGroups);
    if (req.minCount > req.maxCount) throw badRequest('min_count must be <= max_count');
    if (req.hostname !== undefined && req.maxCount > 1) throw badRequest('Cannot set hostname when creating multiple instances.');
    const driver = await placed;

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
        availability_zone: AVAILABILITY_ZONE,
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
      const inserted = await this.servers.insertWithinQuota(rows, req.minCount, this.quotas);
      if (!inserted.ok) {
        const r = inserted.resource;
        throw quotaExceeded(msg.quotaExceeded(r, inserted.requested, inserted.used, inserted.allowed));
      }
      for (const server of inserted.servers) {
        const actionId = await this.actions.start({ instanceUuid: server.id, action: 'create', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
        this.runner.schedule(server.id, 'build', () => this.build(server, image, driver, actionId));
      }
      return { servers: inserted.servers, adminPass: req.adminPass ?? generatePassword(), reservationId: rid };
    });
  }

  /** scheduling → block_device_mapping (image into the engine) → spawning → ACTIVE, or ERROR with a fault. */
  private async build(server: ServerRecord, image: ImageRecord, driver: ComputeDriver, actionId: number): Promise<void> {
    const id = server.id;
    let task: TaskState = TaskStates.SCHEDULING;
    const step = async (to: TaskState | null, patch: ServerPatch = {}) => {
      const ok = await this.servers.update(id, { ...patch, task_state: to }, { taskStates: [task], vmStates: [VmStates.BUILDING] });
      if (!ok) throw new Superseded(id, task);
      if (to) task = to;
    };
    try {
      await step(TaskStates.BLOCK_DEVICE_MAPPING, { host: driver.host });
      await this.builder.hostImages.ensureOnHost(image, driver);
      await step(TaskStates.SPAWNING);
      const info = await this.builder.spawnFrom(driver, this.builder.specOf({ ...server, host: driver.host }, image), image);
      // Deleted (or reset) while spawning → Superseded: the delete queued behind us destroys the container.
      await step(null, { vm_state: VmStates.ACTIVE, power_state: info.powerState, addresses: addressesOf(info), launched_at: nowIso() });
      await this.actions.finish(actionId, 'Success');
    } catch (err) {
      if (err instanceof Superseded) {
        await this.actions.finish(actionId, 'Error', 'The build was superseded (the server was deleted or reset while building).');
        return;
      }
      const message = describe(err);
      this.log.warn({ server_id: id, err: message }, 'build failed');
      await this.servers.update(id, { vm_state: VmStates.ERROR, task_state: null, power_state: PowerStates.NOSTATE, fault: faultOf(message) },
        { taskStates: [task], vmStates: [VmStates.BUILDING] });
      await this.actions.finish(actionId, 'Error', message);
    }
  }

  private requestedNetworks(ctx: RequestContext, req: NetworkRequest | undefined): 'auto' | 'none' | string[] {
    if (req === undefined || req === 'auto') return 'auto';
    if (req === 'none') return 'none';
    const ours = PRIVATE_NETWORK_ID;
    const ids: string[] = [];
    for (const n of req) {
      if (n.port) throw badRequest(msg.portNotFound(n.port));
      if (n.fixed_ip !== undefined) throw badRequest(`Fixed IP address ${n.fixed_ip} cannot be requested: addresses are assigned by the compute host.`);
      if (!n.uuid || n.uuid.toLowerCase() !== ours) throw badRequest(msg.networkNotFound(n.uuid ?? ''));
      if (!ids.includes(ours)) ids.push(ours);
    }
    return ids.length ? ids : 'auto';
  }

  private checkSecurityGroups(ctx: RequestContext, groups: string[] | undefined): string[] {
    if (!groups || groups.length === 0) return [DEFAULT_SECURITY_GROUP];
    for (const g of groups) {
      if (g !== DEFAULT_SECURITY_GROUP) throw badRequest(`Security group ${g} not found for project ${ctx.projectId}.`);
    }
    return [DEFAULT_SECURITY_GROUP];
  }
}
