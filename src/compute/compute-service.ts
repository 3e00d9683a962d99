/**
 * ComputeService: Nova's state machine over the ComputeDriver (nova/compute/api.py + the parts of
 * nova/compute/manager.py that run on the host).
 *
 * Every write follows the same path: read the server (404 for another project's), check the
 * rule (lock, vm_state, task_state; 409 in Nova's words), make sure its compute host answers
 * (503 otherwise, with nothing changed), claim the task with a compare-and-set, record the
 * instance action, answer; the driver work runs as a tracked background task that moves the
 * task_state on with compare-and-sets and finally clears it. A background task whose
 * compare-and-set finds another task (a delete, a hard reboot, an admin's reset) stops: the newer
 * intent owns the server. Background tasks of one server run one after the other (a lane), so the
 * engine never sees two operations on one container at once.
 *
 * Reads never call a driver: the database answers. The reconciler keeps it true by calling
 * syncPowerState / recover / removeOrphan, never by writing states itself.
 */
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse as shellParse } from 'shell-quote';
import type { Logger } from 'pino';
import type { RequestContext } from '../http/context';
import type { QuotaConfig } from '../config';
import { DomainError, badRequest, forbidden, invalidState as invalidStateError, msg, notFound, quotaExceeded, unavailable } from '../errors';
import { stamp } from '../db/server-repo';
import type { ServerRepository, NewServer, ServerPatch } from '../db/server-repo';
import type { FlavorRepository, FlavorRecord } from '../db/flavor-repo';
import type { KeypairRepository } from '../db/keypair-repo';
import type { ActionRepository, InstanceActionRecord } from '../db/action-repo';
import type { ImageRecord } from '../image/image-record';
import type { DriverRegistry } from '../virt/registry';
import {
  ComputeDriver, HypervisorUnavailable, ImageNotOnHost, InstanceInfo, InstanceNotFound, InstanceSpec, SpawnFailed,
} from '../virt/driver';
import type { Fault, FlavorSnapshot, ServerRecord } from './server-record';
import { VmStates } from './vm-states';
import { TaskStates, TaskState } from './task-states';
import { PowerStates } from './power-state';
import { RULES, StateRule, claimCondition, invalidState, refusal } from './state-rules';
import { statusOf } from './status';
import { DEFAULT_SECURITY_GROUP, PRIVATE_NETWORK_ID } from './networks';
import { generatePassword, reservationId, sanitizeHostname } from './naming';
import { filterRegex } from './safe-regex';
import { parseListQuery } from '../image/list-query';
import type { ImageListQuery } from '../image/list-query';
import { Observation, SyncPatch, addressesOf, decideRecovery, decideSync, goneMessage } from './sync-rules';

/** What the compute service needs from the image service (a port; ImageService implements it). */
export interface ComputeImages {
  /** The image as `ctx` may see it, or undefined (unknown, or another project's private image). */
  find(ctx: RequestContext, id: string): Promise<ImageRecord | undefined>;
  /** Creates the snapshot's image record (queued, listed at once) before createImage answers. */
  beginSnapshot(ctx: RequestContext, req: { name: string; metadata: Record<string, string>; serverId: string; baseImage: ImageRecord | undefined }): Promise<ImageRecord>;
  /** Copies the committed engine image's archive (`driver.exportImage`) into the store and activates the record. */
  finishSnapshot(imageId: string, engineImageId: string, archive: Readable): Promise<unknown>;
  /** The snapshot failed: the record goes away (or is killed), no bytes kept. */
  abortSnapshot(imageId: string): Promise<unknown>;
  /** Images `ctx` may see, filtered (backup rotation). */
  list(ctx: RequestContext, query: ImageListQuery): Promise<{ images: ImageRecord[] }>;
  /** Deletes an image as `ctx` (backup rotation). */
  delete(ctx: RequestContext, id: string): Promise<void>;
}

/** What the compute service needs from the hosts' engine images (a port; src/virt/host-images.ts HostImages implements it). */
export interface ComputeHostImages {
  /** Makes the image present in the driver's engine (loads it from the image store if needed). */
  ensureOnHost(image: ImageRecord, driver: ComputeDriver, opts?: { recheck?: boolean }): Promise<void>;
}

export interface ComputeServiceDeps {
  servers: ServerRepository;
  flavors: FlavorRepository;
  keypairs: KeypairRepository;
  actions: ActionRepository;
  images: ComputeImages;
  hostImages: ComputeHostImages;
  drivers: DriverRegistry;
  quotas: QuotaConfig;
  publicUrl: string;
  log: Logger;
  /**
   * Grace period of os-stop before SIGKILL. Nova's CONF.shutdown_timeout is 60 s, but a shell as
   * PID 1 ignores SIGTERM, and the stock scenarios expect SHUTOFF within 3 s of `server stop`.
   */
  shutdownTimeoutSeconds?: number;
}

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

export interface ListServersQuery {
  /** Admin only: every project (ignored for others). */
  allTenants?: boolean;
  /** Admin only: this project. */
  tenantId?: string;
  name?: string;
  status?: string[];
  image?: string;
  flavor?: string;
  ip?: string;
  ip6?: string;
  changesSince?: string;
  changesBefore?: string;
  /** Admin only: list deleted servers. */
  deleted?: boolean;
  vmState?: string[];
  taskState?: string[];
  powerState?: number[];
  host?: string;
  availabilityZone?: string;
  keyName?: string;
  userId?: string;
  reservationId?: string;
  hostname?: string;
  locked?: boolean;
  tags?: string[];
  tagsAny?: string[];
  notTags?: string[];
  notTagsAny?: string[];
  sortKeys?: string[];
  sortDirs?: ('asc' | 'desc')[];
  /** Page size; 0/undefined = the maximum (1000). */
  limit?: number;
  marker?: string;
}

export interface UpdateServerRequest {
  name?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  description?: string | null;
  hostname?: string;
}

export interface RebuildRequest {
  imageRef: string;
  name?: string;
  metadata?: Record<string, string>;
  adminPass?: string;
  accessIPv4?: string;
  accessIPv6?: string;
  description?: string | null;
  keyName?: string | null;
  userData?: string | null;
  hostname?: string;
}

/** Nova's [api] max_limit. */
export const MAX_LIMIT = 1000;
/** nova/compute/api.py MAX_USERDATA_SIZE. */
export const MAX_USERDATA_SIZE = 65535;

/** Nova's valid sort keys (schemas/servers.py VALID_SORT_KEYS) → how to read them off a server. */
export const SORT_KEYS: Record<string, (s: ServerRecord) => string | number | null> = {
  access_ip_v4: (s) => s.access_ip_v4,
  access_ip_v6: (s) => s.access_ip_v6,
  auto_disk_config: () => 0,
  availability_zone: (s) => s.availability_zone,
  config_drive: (s) => (s.config_drive ? 1 : 0),
  created_at: (s) => s.created_at,
  display_description: (s) => s.description,
  display_name: (s) => s.name,
  host: (s) => s.host,
  hostname: (s) => s.hostname,
  image_ref: (s) => s.image_id,
  instance_type_id: (s) => s.flavor_id,
  kernel_id: () => '',
  key_name: (s) => s.key_name,
  launch_index: (s) => s.launch_index,
  launched_at: (s) => s.launched_at,
  locked: (s) => (s.locked ? 1 : 0),
  locked_by: (s) => s.locked_by,
  node: (s) => s.host,
  power_state: (s) => s.power_state,
  progress: (s) => s.progress,
  project_id: (s) => s.project_id,
  ramdisk_id: () => '',
  root_device_name: () => null,
  task_state: (s) => s.task_state,
  terminated_at: (s) => s.terminated_at,
  updated_at: (s) => s.updated_at,
  user_id: (s) => s.user_id,
  uuid: (s) => s.id,
  vm_state: (s) => s.vm_state,
};

/** Sort keys only admins may use (Nova: 403 for others). */
export const ADMIN_SORT_KEYS = new Set(['host', 'node']);

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** The last path segment of an id-or-URL reference (Nova's common.get_id_from_href). */
export function idFromHref(ref: string): string {
  const noQuery = ref.split('?')[0].replace(/\/+$/, '');
  return noQuery.slice(noQuery.lastIndexOf('/') + 1);
}

const nowIso = () => new Date().toISOString();
const faultOf = (message: string, code = 500): Fault => ({ code, message: message.slice(0, 255), created: nowIso() });

/** Why an error happened, in words for a fault or an action's traceback. */
function describe(err: unknown): string {
  if (err instanceof SpawnFailed) return err.reason;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A background task found its task_state taken over (delete, hard reboot, reset): it stops. */
class Superseded extends Error {
  constructor(readonly serverId: string, readonly task: string) {
    super(`task ${task} of server ${serverId} was superseded`);
  }
}

interface RunContext {
  server: ServerRecord;
  driver: ComputeDriver;
  /** Moves task_state on (compare-and-set from the current one); throws Superseded if taken over. */
  step(to: TaskState): Promise<void>;
}

interface ActionSpec {
  rule: StateRule;
  /** Instance action name (nova/compute/instance_actions.py). */
  action: string;
  /** task_state claimed by the API call. */
  task: TaskState;
  /** Further columns written by the claim itself (e.g. rebuild's new image). */
  claimPatch?: ServerPatch;
  /** The driver work; returns the final columns (task_state is cleared with them). */
  run(rc: RunContext): Promise<ServerPatch>;
  /** On failure: 'revert' (clear the task, keep vm_state: Nova's reverts_task_state) or 'error'. */
  onFailure?: 'revert' | 'error';
  /** Extra clean-up when the work fails or is superseded. */
  cleanup?(err: unknown): Promise<void>;
}

export class ComputeService {
  private readonly servers: ServerRepository;
  private readonly flavors: FlavorRepository;
  private readonly keypairs: KeypairRepository;
  private readonly actions: ActionRepository;
  private readonly images: ComputeImages;
  private readonly hostImages: ComputeHostImages;
  private readonly drivers: DriverRegistry;
  private readonly quotas: QuotaConfig;
  private readonly log: Logger;
  private readonly shutdownTimeout: number;

  /** Per-server chain of background tasks: one engine operation per container at a time. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** API calls between their claim and the scheduling of their work (see guarded()). */
  private readonly claiming = new Map<string, number>();
  /** Every background task in flight (idle() waits for them). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** What the reconciler last heard from each compute host (host_status, 2.16). */
  private readonly hostStatus = new Map<string, 'UP' | 'DOWN'>();

  constructor(deps: ComputeServiceDeps) {
    this.servers = deps.servers;
    this.flavors = deps.flavors;
    this.keypairs = deps.keypairs;
    this.actions = deps.actions;
    this.images = deps.images;
    this.hostImages = deps.hostImages;
    this.drivers = deps.drivers;
    this.quotas = deps.quotas;
    this.log = deps.log;
    this.shutdownTimeout = deps.shutdownTimeoutSeconds ?? 2;
  }

  // ------------------------------------------------------------------ background work

  /** Resolves when no background task is in flight (tests and shutdown use it). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** True while a background task of this server is queued or running, or an API call is claiming one. */
  isBusy(serverId: string): boolean {
    return this.lanes.has(serverId) || this.claiming.has(serverId);
  }

  /**
   * Marks servers busy for the duration of an API call that claims a task and then schedules its
   * work, so the reconciler never mistakes the claimed-but-not-yet-scheduled task for one a crash
   * interrupted.
   */
  private async guarded<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    for (const id of ids) this.claiming.set(id, (this.claiming.get(id) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      for (const id of ids) {
        const n = (this.claiming.get(id) ?? 1) - 1;
        if (n > 0) this.claiming.set(id, n);
        else this.claiming.delete(id);
      }
    }
  }

  private schedule(serverId: string, what: string, work: () => Promise<void>): void {
    const prev = this.lanes.get(serverId) ?? Promise.resolve();
    const p = prev.then(work).catch((err) => this.log.error({ err, server_id: serverId }, `${what} failed unexpectedly`));
    this.lanes.set(serverId, p);
    this.track(p.finally(() => {
      if (this.lanes.get(serverId) === p) this.lanes.delete(serverId);
    }));
  }

  /** Counts a promise as background work for idle(). */
  track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = () => this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // ------------------------------------------------------------------ reads

  /** The server as `ctx` may see it: another project's (for non-admins) and deleted ones are 404. */
  async get(ctx: RequestContext, id: string, opts: { withDeleted?: boolean } = {}): Promise<ServerRecord> {
    const s = UUID_RE.test(id) ? await this.servers.get(id, opts) : undefined;
    if (!s || (!ctx.isAdmin && s.project_id !== ctx.projectId)) throw notFound(msg.instanceNotFound(id));
    return s;
  }

  /** Servers matching Nova's list filters, sorted, one page (marker/limit). */
  async list(ctx: RequestContext, q: ListServersQuery): Promise<ServerRecord[]> {
    let projectId: string | undefined = ctx.projectId;
    if (ctx.isAdmin) {
      if (q.tenantId !== undefined) projectId = q.tenantId;
      else if (q.allTenants) projectId = undefined;
    }
    const includeDeleted = q.changesSince !== undefined || q.changesBefore !== undefined;
    const deleted = ctx.isAdmin && q.deleted === true ? 'only' : includeDeleted ? 'yes' : 'no';
    if (q.changesSince && q.changesBefore && q.changesSince > q.changesBefore) {
      throw badRequest('The value of changes-since must be less than or equal to changes-before.');
    }

    const equals: Record<string, (string | number | null)[]> = {};
    if (q.image !== undefined) equals.image_id = [idFromHref(q.image)];
    if (q.flavor !== undefined) equals.flavor_id = [idFromHref(q.flavor)];
    if (q.vmState) equals.vm_state = q.vmState;
    if (q.taskState) equals.task_state = q.taskState.map((t) => (t.toLowerCase() === 'none' || t === '' ? null : t));
    if (q.powerState) equals.power_state = q.powerState;
    if (q.host !== undefined) equals.host = [q.host];
    if (q.availabilityZone !== undefined) equals.availability_zone = [q.availabilityZone];
    if (q.keyName !== undefined) equals.key_name = [q.keyName];
    if (q.userId !== undefined) equals.user_id = [q.userId];
    if (q.reservationId !== undefined) equals.reservation_id = [q.reservationId];
    if (q.hostname !== undefined) equals.hostname = [q.hostname];

    let rows = await this.servers.list({ projectId, deleted, changesSince: q.changesSince, changesBefore: q.changesBefore, equals });

    if (q.name !== undefined) {
      const re = filterRegex('name', q.name);
      rows = rows.filter((s) => re.test(s.name));
    }
    if (q.status) {
      const wanted = new Set(q.status.map((x) => x.toUpperCase()));
      rows = rows.filter((s) => wanted.has(statusOf(s.vm_state, s.task_state, s.deleted)));
    }
    for (const [field, version] of [['ip', 4], ['ip6', 6]] as const) {
      const pattern = q[field];
      if (pattern === undefined) continue;
      // NOTE(openstack): Nova's _ip_filter uses re.match: the pattern is anchored at the start only.
      const re = filterRegex(field, `^(?:${pattern})`);
      rows = rows.filter((s) => Object.values(s.addresses).some((list) => list.some((a) => a.version === version && re.test(a.addr))));
    }
    if (q.locked !== undefined) rows = rows.filter((s) => s.locked === q.locked);
    if (q.tags) rows = rows.filter((s) => q.tags!.every((t) => s.tags.includes(t)));
    if (q.tagsAny) rows = rows.filter((s) => q.tagsAny!.some((t) => s.tags.includes(t)));
    if (q.notTags) rows = rows.filter((s) => !q.notTags!.every((t) => s.tags.includes(t)));
    if (q.notTagsAny) rows = rows.filter((s) => !q.notTagsAny!.some((t) => s.tags.includes(t)));

    const compare = this.comparator(ctx, q.sortKeys, q.sortDirs);
    rows.sort(compare);

    if (q.marker !== undefined) {
      const m = UUID_RE.test(q.marker) ? await this.servers.get(q.marker, { withDeleted: deleted !== 'no' }) : undefined;
      if (!m || (projectId !== undefined && m.project_id !== projectId)) throw badRequest(`marker [${q.marker}] not found`);
      rows = rows.filter((s) => compare(s, m) > 0);
    }
    return rows.slice(0, ComputeService.pageSize(q.limit));
  }

  /** The effective page size of a list request (for servers_links). */
  static pageSize(limit: number | undefined): number {
    // limit=0 is an empty page (Nova's get_limit_and_marker: min(limit, max_limit)), not "no limit".
    return limit !== undefined ? Math.min(limit, MAX_LIMIT) : MAX_LIMIT;
  }

  private comparator(ctx: RequestContext, keys: string[] = [], dirs: ('asc' | 'desc')[] = []): (a: ServerRecord, b: ServerRecord) => number {
    for (const k of keys) {
      if (!(k in SORT_KEYS)) throw badRequest(`Invalid sort_key: ${k}`);
      if (ADMIN_SORT_KEYS.has(k) && !ctx.isAdmin) throw forbidden(`Only administrators can sort servers by ${k}`);
    }
    const order: { get: (s: ServerRecord) => string | number | null; sign: number }[] = [];
    const effective = keys.length ? keys : ['created_at'];
    effective.forEach((k, i) => order.push({ get: SORT_KEYS[k], sign: (dirs[i] ?? dirs[dirs.length - 1] ?? 'desc') === 'asc' ? 1 : -1 }));
    // Nova's tie-breakers (created_at, id); a server's sequence orders servers created in the same millisecond.
    const lastSign = order[order.length - 1].sign;
    order.push({ get: SORT_KEYS.created_at, sign: lastSign }, { get: (s) => s.sequence, sign: lastSign });
    return (a, b) => {
      for (const { get, sign } of order) {
        const x = get(a);
        const y = get(b);
        if (x === y) continue;
        // NULLs sort first ascending, as in Nova's databases.
        if (x === null) return -sign;
        if (y === null) return sign;
        return (x < y ? -1 : 1) * sign;
      }
      return 0;
    };
  }

  /** Instances, cores and RAM a project uses (for /limits and quotas). */
  async usage(projectId: string): Promise<{ instances: number; cores: number; ram: number }> {
    return this.servers.usage(projectId);
  }

  /** host_status (2.16): '' when unscheduled, UP/DOWN from what the reconciler last heard, else UNKNOWN. */
  hostStatusOf(host: string | null): string {
    if (!host) return '';
    if (!this.drivers.get(host)) return 'UNKNOWN';
    return this.hostStatus.get(host) ?? 'UP';
  }

  // ------------------------------------------------------------------ create

  /**
   * Boots `maxCount` servers (at least `minCount` within quota). Every row exists before this
   * resolves (the client re-reads at once); the builds run in the background.
   */
  async create(ctx: RequestContext, req: CreateServerRequest): Promise<CreateServerResult> {
    // The engine is asked whether it answers while the request is checked (a ping waits on a
    // busy engine for up to ~10 ms); its answer is awaited before any row exists.
    const placed = Promise.resolve().then(async () => {
      const d = this.scheduleHost(ctx, req.availabilityZone);
      await this.reachable(d);
      return d;
    });
    placed.catch(() => undefined);
    const flavor = await this.flavorFor(req.flavorRef);
    const image = await this.bootableImage(ctx, req.imageRef, flavor);
    let keyData: string | null = null;
    if (req.keyName !== undefined) {
      const key = await this.keypairs.get(ctx.userId, req.keyName);
      if (!key) throw badRequest('Invalid key_name provided.');
      keyData = key.public_key;
    }
    const networks = this.requestedNetworks(ctx, req.networks);
    const metadata = req.metadata ?? {};
    this.checkMetadataQuota(Object.keys(metadata).length);
    this.checkUserData(req.userData);
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
        availability_zone: 'nova',
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

    return this.guarded(rows.map((r) => r.id), async () => {
      const inserted = await this.servers.insertWithinQuota(rows, req.minCount, this.quotas);
      if (!inserted.ok) {
        const r = inserted.resource;
        throw quotaExceeded(msg.quotaExceeded(r, inserted.requested, inserted.used, inserted.allowed));
      }
      for (const server of inserted.servers) {
        const actionId = await this.actions.start({ instanceUuid: server.id, action: 'create', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
        this.schedule(server.id, 'build', () => this.build(server, image, driver, actionId));
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
      await this.hostImages.ensureOnHost(image, driver);
      await step(TaskStates.SPAWNING);
      const info = await this.spawnFrom(driver, this.specOf({ ...server, host: driver.host }, image), image);
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

  /**
   * driver.spawn, after ensureLoaded. If the engine lost the image since it was last seen there
   * (a `docker rmi` behind our back), it is loaded again and the spawn tried once more.
   */
  private async spawnFrom(driver: ComputeDriver, spec: InstanceSpec, image: ImageRecord): Promise<InstanceInfo> {
    try {
      return await driver.spawn(spec);
    } catch (e) {
      if (!(e instanceof ImageNotOnHost)) throw e;
      this.log.warn({ server_id: spec.serverId, host: driver.host, engine_image_id: spec.imageRef }, 'the engine lost the image: loading it again');
      await this.hostImages.ensureOnHost(image, driver, { recheck: true });
      return driver.spawn(spec);
    }
  }

  /** The InstanceSpec the driver boots for this server. */
  private specOf(server: ServerRecord, image: ImageRecord): InstanceSpec {
    const spec: InstanceSpec = {
      serverId: server.id,
      projectId: server.project_id,
      hostname: server.hostname,
      imageRef: image.engine_image_id!,
      memoryMb: server.flavor.ram,
      vcpus: server.flavor.vcpus,
      env: { ...server.metadata },
      network: server.requested_networks === 'none' ? null : { projectId: server.project_id },
    };
    const command = commandOf(image);
    if (command) spec.command = command;
    if (server.key_data) spec.authorizedKeys = server.key_data.endsWith('\n') ? server.key_data : `${server.key_data}\n`;
    if (server.user_data) spec.userData = Buffer.from(server.user_data, 'base64');
    return spec;
  }

  private async flavorFor(ref: string): Promise<FlavorRecord> {
    const id = idFromHref(String(ref));
    const flavor = id ? await this.flavors.get(id) : undefined;
    // NOTE(openstack): a disabled flavor is "not found" for boot (nova/compute/flavors.py).
    if (!flavor || flavor.disabled) throw badRequest(msg.flavorNotFound(id));
    return flavor;
  }

  /** The image to boot: visible, active, docker-format, loadable, and fitting the flavor. */
  private async bootableImage(ctx: RequestContext, ref: string, flavor: { ram: number; disk: number }): Promise<ImageRecord> {
    const id = idFromHref(ref);
    const image = id && UUID_RE.test(id) ? await this.images.find(ctx, id) : undefined;
    if (!image) throw badRequest('Can not find requested image');
    if (image.status !== 'active') throw badRequest(`Image ${image.id} is not active.`);
    if (image.container_format !== 'docker' || !image.engine_image_id) {
      throw badRequest(`Image ${image.id} is unacceptable: only active images with container_format 'docker' can be booted (this one is '${image.container_format ?? 'none'}').`);
    }
    if (image.min_ram > flavor.ram) throw badRequest("Flavor's memory is too small for requested image.");
    if (flavor.disk > 0 && image.min_disk > flavor.disk) throw badRequest("Flavor's disk is too small for requested image.");
    return image;
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

  /** The compute host to boot on: "nova" (any host) or, for admins, Nova's "nova:<host>". */
  private scheduleHost(ctx: RequestContext, az: string | undefined): ComputeDriver {
    if (az === undefined || az === '' || az === 'nova') return this.leastLoaded();
    const [zone, host] = az.split(':', 2);
    if (zone !== 'nova' && zone !== '') throw badRequest(`The requested availability zone is not available: ${az}`);
    if (host === undefined || host === '') return this.leastLoaded();
    if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
    const d = this.drivers.get(host);
    if (!d) throw badRequest(msg.computeHostNotFound(host));
    return d;
  }

  private leastLoaded(): ComputeDriver {
    // One configured engine is the common case; with several, prefer one the reconciler hears from.
    const all = this.drivers.all();
    return all.find((d) => this.hostStatus.get(d.host) !== 'DOWN') ?? this.drivers.primary();
  }

  private checkMetadataQuota(count: number): void {
    const limit = this.quotas.metadata_items;
    if (limit >= 0 && count > limit) throw quotaExceeded(msg.quotaExceeded('metadata_items', count, 0, limit));
  }

  private checkUserData(userData: string | undefined): void {
    if (userData === undefined) return;
    if (userData.length > MAX_USERDATA_SIZE) {
      throw badRequest(`User data too large. User data must be no larger than ${MAX_USERDATA_SIZE} bytes once base64 encoded. Your data is ${userData.length} bytes`);
    }
  }

  private checkSecurityGroups(ctx: RequestContext, groups: string[] | undefined): string[] {
    if (!groups || groups.length === 0) return [DEFAULT_SECURITY_GROUP];
    for (const g of groups) {
      if (g !== DEFAULT_SECURITY_GROUP) throw badRequest(`Security group ${g} not found for project ${ctx.projectId}.`);
    }
    return [DEFAULT_SECURITY_GROUP];
  }

  // ------------------------------------------------------------------ update, delete

  /** PUT /servers/{id}: name, access IPs, description, hostname. No state is checked (as Nova). */
  async update(ctx: RequestContext, id: string, req: UpdateServerRequest): Promise<ServerRecord> {
    await this.get(ctx, id);
    const patch: ServerPatch = {};
    if (req.name !== undefined) patch.name = req.name;
    if (req.accessIPv4 !== undefined) patch.access_ip_v4 = req.accessIPv4;
    if (req.accessIPv6 !== undefined) patch.access_ip_v6 = req.accessIPv6;
    if (req.description !== undefined) patch.description = req.description;
    if (req.hostname !== undefined) patch.hostname = req.hostname;
    if (Object.keys(patch).length && !(await this.servers.update(id, patch))) throw notFound(msg.instanceNotFound(id));
    return this.get(ctx, id);
  }

  /**
   * DELETE (and forceDelete): allowed in every state. The task becomes `deleting` at once; the
   * container is destroyed after whatever the server was doing, then the row is marked deleted
   * and GET answers 404. Deleting a server already being deleted is a no-op.
   */
  async delete(ctx: RequestContext, id: string, rule: StateRule = RULES.delete): Promise<void> {
    const server = await this.get(ctx, id);
    const why = refusal(server, rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    if (server.task_state === TaskStates.DELETING) return;
    const driver = server.host ? this.drivers.get(server.host) : undefined;
    if (driver) await this.reachable(driver);
    await this.guarded([id], async () => {
      const claimed = await this.servers.update(id, { task_state: TaskStates.DELETING }, { notTaskStates: [TaskStates.DELETING] });
      if (!claimed) return; // gone meanwhile, or another DELETE claimed it: either way it is being deleted
      const actionId = await this.actions.start({ instanceUuid: id, action: rule === RULES.forceDelete ? 'forceDelete' : 'delete', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
      this.schedule(id, 'delete', () => this.finishDelete(id, actionId));
    });
  }

  private async finishDelete(id: string, actionId?: number): Promise<void> {
    // The host is re-read: a build queued before this delete may have scheduled the server.
    const server = await this.servers.get(id);
    if (!server || server.task_state !== TaskStates.DELETING) {
      if (actionId !== undefined) await this.actions.finish(actionId, 'Error', 'The delete was superseded.');
      return;
    }
    const driver = server.host ? this.drivers.get(server.host) : undefined;
    try {
      if (driver) await driver.destroy(id);
      const ts = nowIso();
      await this.servers.update(id, {
        vm_state: VmStates.DELETED, task_state: null, power_state: PowerStates.NOSTATE, deleted: true, deleted_at: ts, terminated_at: ts, addresses: {},
      }, { taskStates: [TaskStates.DELETING] });
      if (actionId !== undefined) await this.actions.finish(actionId, 'Success');
    } catch (err) {
      const message = describe(err);
      if (err instanceof HypervisorUnavailable) {
        // Nothing was destroyed: the server stays as it was; a later DELETE retries.
        await this.servers.update(id, { task_state: null }, { taskStates: [TaskStates.DELETING] });
      } else {
        await this.servers.update(id, { task_state: null, vm_state: VmStates.ERROR, fault: faultOf(`Failed to delete the server: ${message}`) }, { taskStates: [TaskStates.DELETING] });
      }
      if (actionId !== undefined) await this.actions.finish(actionId, 'Error', message);
      this.log.warn({ server_id: id, err: message }, 'delete failed');
    }
  }

  // ------------------------------------------------------------------ actions

  async stop(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.stop, action: 'stop', task: TaskStates.POWERING_OFF,
      run: async ({ server, driver }) => {
        await driver.powerOff(server.id, this.shutdownTimeout);
        const info = await driver.getInfo(server.id);
        return { vm_state: VmStates.STOPPED, power_state: info.powerState };
      },
    });
  }

  async start(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.start, action: 'start', task: TaskStates.POWERING_ON,
      run: async ({ server, driver }) => {
        const info = await driver.powerOn(server.id);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(info) };
      },
    });
  }

  async reboot(ctx: RequestContext, id: string, type: 'SOFT' | 'HARD'): Promise<void> {
    await this.act(ctx, id, {
      rule: type === 'SOFT' ? RULES.rebootSoft : RULES.rebootHard,
      action: 'reboot',
      task: type === 'SOFT' ? TaskStates.REBOOTING : TaskStates.REBOOTING_HARD,
      run: async ({ server, driver, step }) => {
        await step(type === 'SOFT' ? TaskStates.REBOOT_STARTED : TaskStates.REBOOT_STARTED_HARD);
        const info = await driver.reboot(server.id, type);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(info) };
      },
    });
  }

  async pause(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.pause, action: 'pause', task: TaskStates.PAUSING,
      run: async ({ server, driver }) => {
        await driver.pause(server.id);
        return { vm_state: VmStates.PAUSED, power_state: (await driver.getInfo(server.id)).powerState };
      },
    });
  }

  async unpause(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.unpause, action: 'unpause', task: TaskStates.UNPAUSING,
      run: async ({ server, driver }) => {
        await driver.unpause(server.id);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(await driver.getInfo(server.id)) };
      },
    });
  }

  /** Suspend freezes the container like pause (the engine then reports PAUSED); shown as SUSPENDED/7. */
  async suspend(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.suspend, action: 'suspend', task: TaskStates.SUSPENDING,
      run: async ({ server, driver }) => {
        await driver.suspend(server.id);
        const { powerState } = await driver.getInfo(server.id);
        // The engine reports the frozen container as PAUSED: a suspended server shows SUSPENDED (sync-rules.ts).
        return { vm_state: VmStates.SUSPENDED, power_state: powerState === PowerStates.PAUSED ? PowerStates.SUSPENDED : powerState };
      },
    });
  }

  async resume(ctx: RequestContext, id: string): Promise<void> {
    await this.act(ctx, id, {
      rule: RULES.resume, action: 'resume', task: TaskStates.RESUMING,
      run: async ({ server, driver }) => {
        await driver.resume(server.id);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(await driver.getInfo(server.id)) };
      },
    });
  }

  /**
   * Rebuild: a new container from the (new or same) image with the same server id, keeping the
   * address (the driver's promise). A stopped server is stopped again afterwards (as Nova).
   */
  async rebuild(ctx: RequestContext, id: string, req: RebuildRequest): Promise<{ server: ServerRecord; adminPass: string }> {
    const current = await this.get(ctx, id);
    const flavor = current.flavor;
    const image = await this.bootableImage(ctx, req.imageRef, flavor);
    const claimPatch: ServerPatch = { image_id: image.id };
    if (req.name !== undefined) claimPatch.name = req.name;
    if (req.metadata !== undefined) {
      this.checkMetadataQuota(Object.keys(req.metadata).length);
      claimPatch.metadata = req.metadata;
    }
    if (req.accessIPv4 !== undefined) claimPatch.access_ip_v4 = req.accessIPv4;
    if (req.accessIPv6 !== undefined) claimPatch.access_ip_v6 = req.accessIPv6;
    if (req.description !== undefined) claimPatch.description = req.description;
    if (req.hostname !== undefined) claimPatch.hostname = req.hostname;
    if (req.keyName !== undefined) {
      if (req.keyName === null) {
        claimPatch.key_name = null;
        claimPatch.key_data = null;
      } else {
        const key = await this.keypairs.get(ctx.userId, req.keyName);
        if (!key) throw badRequest('Invalid key_name provided.');
        claimPatch.key_name = key.name;
        claimPatch.key_data = key.public_key;
      }
    }
    if (req.userData !== undefined) {
      this.checkUserData(req.userData ?? undefined);
      claimPatch.user_data = req.userData;
    }
    const wasStopped = current.vm_state === VmStates.STOPPED;
    const server = await this.act(ctx, id, {
      rule: RULES.rebuild, action: 'rebuild', task: TaskStates.REBUILDING, claimPatch, onFailure: 'error',
      run: async ({ server: s, driver, step }) => {
        await step(TaskStates.REBUILD_BLOCK_DEVICE_MAPPING);
        await this.hostImages.ensureOnHost(image, driver);
        await step(TaskStates.REBUILD_SPAWNING);
        await driver.destroy(s.id);
        const info = await this.spawnFrom(driver, this.specOf(s, image), image);
        const patch: ServerPatch = { vm_state: VmStates.ACTIVE, ...runningPatch(info), launched_at: nowIso(), fault: null };
        if (wasStopped) {
          await driver.powerOff(s.id, this.shutdownTimeout);
          const off = await driver.getInfo(s.id);
          return { ...patch, vm_state: VmStates.STOPPED, power_state: off.powerState };
        }
        return patch;
      },
    });
    return { server, adminPass: req.adminPass ?? generatePassword() };
  }

  /**
   * createImage: the image record exists (queued, listed) before this resolves; the container is
   * committed and copied into the image store in the background (image_snapshot →
   * image_pending_upload → image_uploading → none). vm_state does not change.
   */
  async createImage(ctx: RequestContext, id: string, req: { name: string; metadata?: Record<string, string> }): Promise<ImageRecord> {
    const server = await this.get(ctx, id);
    const why = refusal(server, RULES.createImage, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.driverOf(server);
    await this.reachable(driver);
    return this.guarded([id], () => this.snapshot(ctx, server, driver, req));
  }

  /**
   * createBackup: a snapshot with image_type=backup and backup_type, after which the instance's
   * backups of that type beyond `rotation` are deleted, oldest first (compute/manager.py
   * _rotate_backups). Rotation 0 keeps none, the new one included, as Nova does.
   */
  async createBackup(ctx: RequestContext, id: string, req: { name: string; backupType: string; rotation: number; metadata?: Record<string, string> }): Promise<ImageRecord> {
    const server = await this.get(ctx, id);
    const why = refusal(server, RULES.createBackup, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.driverOf(server);
    await this.reachable(driver);
    const metadata = { ...(req.metadata ?? {}), image_type: 'backup', backup_type: req.backupType };
    return this.guarded([id], () => this.snapshot(ctx, server, driver, { name: req.name, metadata }, RULES.createBackup, async () => {
      const backups = await this.images.list(ctx, parseListQuery(new URLSearchParams({
        image_type: 'backup', backup_type: req.backupType, instance_uuid: id, sort_key: 'created_at', sort_dir: 'desc', limit: '1000',
      })));
      for (const old of backups.images.filter((i) => i.owner === ctx.projectId).slice(req.rotation)) {
        await this.images.delete(ctx, old.id).catch((e) => this.log.warn({ err: e, image_id: old.id }, 'could not rotate out a backup'));
      }
    }));
  }

  /** restore undoes a soft delete; servers are never soft-deleted here, so it is always refused. */
  async restore(ctx: RequestContext, id: string): Promise<never> {
    const server = await this.get(ctx, id);
    throw invalidStateError(refusal(server, RULES.restore, ctx.isAdmin) ?? `Cannot 'restore' instance ${id} while it is in vm_state ${server.vm_state}`);
  }

  /** The security groups of a server (one per project: "default"; no network service filters traffic). */
  async securityGroups(ctx: RequestContext, id: string): Promise<string[]> {
    return (await this.get(ctx, id)).security_groups;
  }

  /** addSecurityGroup / removeSecurityGroup: only the project's "default" group exists. */
  async changeSecurityGroup(ctx: RequestContext, id: string, name: string, op: 'add' | 'remove'): Promise<void> {
    await this.get(ctx, id);
    if (op === 'add' && name !== DEFAULT_SECURITY_GROUP) throw notFound(`Security group ${name} not found for project ${ctx.projectId}.`);
    const done = await this.servers.mutate(id, (current) => {
      const has = current.security_groups.includes(name);
      if (op === 'add' && has) throw badRequest(`Security group ${name} is already associated with the instance ${id}`);
      if (op === 'remove' && !has) throw badRequest(`Security group ${name} not associated with the instance ${id}`);
      return { security_groups: op === 'add' ? [...current.security_groups, name] : current.security_groups.filter((g) => g !== name) };
    });
    if (!done) throw notFound(msg.instanceNotFound(id));
  }

  private async snapshot(ctx: RequestContext, server: ServerRecord, driver: ComputeDriver, req: { name: string; metadata?: Record<string, string> },
    rule: StateRule = RULES.createImage, afterUpload?: () => Promise<void>): Promise<ImageRecord> {
    const id = server.id;
    await this.claim(ctx, server, rule, TaskStates.IMAGE_SNAPSHOT);
    let image: ImageRecord;
    try {
      const baseImage = server.image_id ? await this.images.find(ctx, server.image_id) : undefined;
      image = await this.images.beginSnapshot(ctx, { name: req.name, metadata: req.metadata ?? {}, serverId: id, baseImage });
    } catch (err) {
      await this.servers.update(id, { task_state: null }, { taskStates: [TaskStates.IMAGE_SNAPSHOT] });
      throw err;
    }
    const actionId = await this.actions.start({ instanceUuid: id, action: 'createImage', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
    const claimed = (await this.servers.get(id)) ?? server;
    this.schedule(id, 'createImage', () => this.runAction(claimed, driver, {
      rule: RULES.createImage, action: 'createImage', task: TaskStates.IMAGE_SNAPSHOT,
      run: async ({ server: s, step }) => {
        const engineImageId = await driver.snapshot(s.id, { 'org.openstack.image.id': image.id, 'org.openstack.server.id': s.id });
        await step(TaskStates.IMAGE_PENDING_UPLOAD);
        await step(TaskStates.IMAGE_UPLOADING);
        await this.images.finishSnapshot(image.id, engineImageId, await driver.exportImage(engineImageId));
        await afterUpload?.();
        return {};
      },
      cleanup: async () => {
        await this.images.abortSnapshot(image.id).catch((e) => this.log.warn({ err: e, image_id: image.id }, 'could not abort snapshot image'));
      },
    }, actionId));
    return image;
  }

  /** os-getConsoleOutput with Nova's `length`: the last N lines ("\n".join(lines[-N:])). */
  async consoleOutput(ctx: RequestContext, id: string, length: number | null): Promise<string> {
    const server = await this.get(ctx, id);
    // nova/compute/api.py check_instance_host: never scheduled → InstanceNotReady (409).
    if (!server.host) throw invalidStateError(`Instance ${id} is not ready`);
    const driver = this.driverOf(server);
    let log: string;
    try {
      log = await driver.getConsoleOutput(id);
    } catch (err) {
      if (err instanceof HypervisorUnavailable) throw unavailable(err.message);
      if (err instanceof InstanceNotFound) {
        if (server.vm_state === VmStates.BUILDING) throw invalidStateError(`Instance ${id} is not ready`);
        throw notFound('Guest does not have a console available.');
      }
      throw err;
    }
    return tailLines(log, length).replace(/[\x00-\x08\x0b-\x1f]/g, '');
  }

  /** os-resetState (admin): vm_state active|error, task cleared; the engine is not touched. */
  async resetState(ctx: RequestContext, id: string, state: 'active' | 'error'): Promise<void> {
    if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be performed.");
    await this.get(ctx, id);
    const ok = await this.servers.update(id, { vm_state: state, task_state: null });
    if (!ok) throw notFound(msg.instanceNotFound(id));
    await this.recordInstant(ctx, id, 'resetState');
  }

  /** lock (2.73: with a reason). Re-locking one's own locked server changes nothing (as Nova). */
  async lock(ctx: RequestContext, id: string, reason?: string): Promise<void> {
    const server = await this.get(ctx, id);
    const isOwner = server.project_id === ctx.projectId;
    if (!(server.locked && isOwner)) {
      await this.servers.update(id, { locked: true, locked_by: isOwner ? 'owner' : 'admin', locked_reason: reason ?? null });
    }
    await this.recordInstant(ctx, id, 'lock');
  }

  /** unlock: a lock taken by an admin is only lifted by an admin (unlock_override policy). */
  async unlock(ctx: RequestContext, id: string): Promise<void> {
    const server = await this.get(ctx, id);
    const expected = server.project_id === ctx.projectId ? 'owner' : 'admin';
    if (server.locked_by && server.locked_by !== expected && !ctx.isAdmin) {
      throw forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.");
    }
    await this.servers.update(id, { locked: false, locked_by: null, locked_reason: null });
    await this.recordInstant(ctx, id, 'unlock');
  }

  private async recordInstant(ctx: RequestContext, id: string, action: string): Promise<void> {
    const actionId = await this.actions.start({ instanceUuid: id, action, requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
    await this.actions.finish(actionId, 'Success');
  }

  /** The common path of a task-claiming action; resolves with the server as claimed. */
  private async act(ctx: RequestContext, id: string, spec: ActionSpec): Promise<ServerRecord> {
    const server = await this.get(ctx, id);
    const why = refusal(server, spec.rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.driverOf(server);
    await this.reachable(driver);
    return this.guarded([id], async () => {
      await this.claim(ctx, server, spec.rule, spec.task, spec.claimPatch);
      const actionId = await this.actions.start({ instanceUuid: id, action: spec.action, requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
      const claimed = (await this.servers.get(id)) ?? server;
      this.schedule(id, spec.action, () => this.runAction(claimed, driver, spec, actionId));
      return claimed;
    });
  }

  /** Compare-and-set of the task; when it touches nothing, re-read and say why (409) or 404. */
  private async claim(ctx: RequestContext, server: ServerRecord, rule: StateRule, task: TaskState, patch: ServerPatch = {}): Promise<void> {
    const cond = claimCondition(rule);
    const ok = await this.servers.update(server.id, { ...patch, task_state: task }, {
      vmStates: cond.vmStates ?? undefined,
      taskStates: cond.taskStates ?? undefined,
      launched: cond.mustHaveLaunched,
    });
    if (ok) return;
    const now = await this.servers.get(server.id);
    if (!now) throw notFound(msg.instanceNotFound(server.id));
    throw invalidStateError(refusal(now, rule, ctx.isAdmin) ?? invalidState(rule.action, server.id, 'task_state', now.task_state));
  }

  private async runAction(server: ServerRecord, driver: ComputeDriver, spec: ActionSpec, actionId: number): Promise<void> {
    const id = server.id;
    let task: TaskState = spec.task;
    const step = async (to: TaskState) => {
      if (!(await this.servers.update(id, { task_state: to }, { taskStates: [task] }))) throw new Superseded(id, task);
      task = to;
    };
    try {
      const patch = await spec.run({ server, driver, step });
      if (!(await this.servers.update(id, { ...patch, task_state: null }, { taskStates: [task] }))) throw new Superseded(id, task);
      await this.actions.finish(actionId, 'Success');
    } catch (err) {
      const message = describe(err);
      if (spec.cleanup) await spec.cleanup(err);
      await this.actions.finish(actionId, 'Error', message);
      if (err instanceof Superseded) {
        this.log.info({ server_id: id, action: spec.action }, 'action superseded');
        return;
      }
      this.log.warn({ server_id: id, action: spec.action, err: message }, 'action failed');
      if (err instanceof HypervisorUnavailable) {
        // The engine went away mid-way: release the task, leave the states; the reconciler resyncs.
        await this.servers.update(id, { task_state: null }, { taskStates: [task] });
      } else if (err instanceof InstanceNotFound) {
        await this.servers.update(id, { task_state: null, vm_state: VmStates.ERROR, power_state: PowerStates.NOSTATE, fault: faultOf(goneMessage(server)) }, { taskStates: [task] });
      } else if (spec.onFailure === 'error') {
        await this.servers.update(id, { task_state: null, vm_state: VmStates.ERROR, fault: faultOf(message) }, { taskStates: [task] });
        await this.resync(id, driver);
      } else {
        // nova's reverts_task_state + wrap_instance_fault: task cleared, fault recorded, power re-read.
        if (await this.servers.update(id, { task_state: null, fault: faultOf(message) }, { taskStates: [task] })) await this.resync(id, driver);
      }
    }
  }

  /** Re-reads the engine and applies the sync rules (after a failed action). */
  private async resync(id: string, driver: ComputeDriver): Promise<void> {
    try {
      const observedAt = stamp();
      const observed: Observation = await driver.getInfo(id).catch((e) => {
        if (e instanceof InstanceNotFound) return 'gone' as const;
        throw e;
      });
      await this.syncPowerState(id, observed, observedAt, { ignoreBusy: true });
    } catch (e) {
      this.log.warn({ server_id: id, err: describe(e) }, 'could not re-read the power state');
    }
  }

  // ------------------------------------------------------------------ metadata

  async getMetadata(ctx: RequestContext, id: string): Promise<Record<string, string>> {
    return (await this.get(ctx, id)).metadata;
  }

  /** POST (merge) or PUT (replace) /metadata; PUT /metadata/{key} is a merge of one item. */
  async setMetadata(ctx: RequestContext, id: string, items: Record<string, string>, mode: 'merge' | 'replace'): Promise<Record<string, string>> {
    await this.get(ctx, id);
    const updated = await this.servers.mutate(id, (server) => {
      const why = refusal(server, RULES.updateMetadata, ctx.isAdmin);
      if (why) throw invalidStateError(why);
      const next = mode === 'replace' ? { ...items } : { ...server.metadata, ...items };
      this.checkMetadataQuota(Object.keys(next).length);
      return { metadata: next };
    });
    if (!updated) throw notFound(msg.instanceNotFound(id));
    return updated.metadata;
  }

  async deleteMetadataItem(ctx: RequestContext, id: string, key: string): Promise<void> {
    await this.get(ctx, id);
    const updated = await this.servers.mutate(id, (server) => {
      if (!Object.prototype.hasOwnProperty.call(server.metadata, key)) throw notFound('Metadata item was not found');
      const why = refusal(server, RULES.deleteMetadata, ctx.isAdmin);
      if (why) throw invalidStateError(why);
      const next = { ...server.metadata };
      delete next[key];
      return { metadata: next };
    });
    if (!updated) throw notFound(msg.instanceNotFound(id));
  }

  // ------------------------------------------------------------------ instance actions

  async listActions(ctx: RequestContext, id: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceActionRecord[]> {
    await this.get(ctx, id, opts);
    return this.actions.list(id);
  }

  async getAction(ctx: RequestContext, id: string, requestId: string, opts: { withDeleted?: boolean } = {}): Promise<InstanceActionRecord> {
    await this.get(ctx, id, opts);
    const a = await this.actions.get(id, requestId);
    if (!a) throw notFound(`Action for request_id ${requestId} on instance ${id} not found`);
    return a;
  }

  // ------------------------------------------------------------------ reconciler verbs

  /**
   * A timestamp for an observation of the engine, on the same strictly increasing clock as the
   * rows' updated_at: every write after this call is stamped later, every write before earlier.
   * Take it before asking the engine, and syncPowerState will ignore the answer for a server
   * that changed meanwhile.
   */
  observationTime(): string {
    return stamp();
  }

  /** Records what the reconciler hears from a compute host (host_status). */
  setHostStatus(host: string, status: 'UP' | 'DOWN'): void {
    this.hostStatus.set(host, status);
  }

  /** Servers (not deleted) recorded on this host. */
  async serversOnHost(host: string): Promise<ServerRecord[]> {
    return this.servers.listOnHost(host);
  }

  /** Servers a crash may have left mid-task. */
  async unsettledServers(): Promise<ServerRecord[]> {
    return this.servers.listUnsettled();
  }

  /**
   * Brings one server's states into line with what its engine reported at `observedAt`
   * (decideSync). Skips servers with work in flight, and observations older than the row's
   * last change; the write is a compare-and-set on that change, so nothing newer is undone.
   */
  async syncPowerState(serverId: string, observed: Observation, observedAt: string, opts: { ignoreBusy?: boolean } = {}): Promise<SyncPatch | undefined> {
    if (!opts.ignoreBusy && this.isBusy(serverId)) return undefined;
    const server = await this.servers.get(serverId);
    if (!server) return undefined;
    if (server.updated_at >= observedAt) return undefined;
    const decision = decideSync(server, observed);
    if (decision.kind !== 'update') return undefined;
    const { fault, ...rest } = decision.patch;
    const patch: ServerPatch = { ...rest };
    if (fault) patch.fault = faultOf(fault.message, fault.code);
    const ok = await this.servers.update(serverId, patch, { taskStates: [null], updatedAt: server.updated_at });
    if (ok) this.log.info({ server_id: serverId, reason: decision.reason, patch: decision.patch }, 'power state synchronised');
    return ok ? decision.patch : undefined;
  }

  /**
   * Start-up recovery of a server left mid-task by a crash: a build completes (its container
   * runs) or fails with a fault, a delete completes, any other task is cleared and re-synced.
   */
  async recover(serverId: string): Promise<void> {
    if (this.isBusy(serverId)) return;
    const server = await this.servers.get(serverId);
    if (!server) return;
    const driver = server.host ? this.drivers.get(server.host) : undefined;
    let observed: Observation | undefined;
    if (driver) {
      try {
        observed = await driver.getInfo(serverId);
      } catch (e) {
        if (e instanceof InstanceNotFound) observed = 'gone';
        else if (e instanceof HypervisorUnavailable) return; // retried by the next sweep after the engine returns
        else throw e;
      }
    }
    const decision = decideRecovery(server, observed);
    const expect = { taskStates: [server.task_state], vmStates: [server.vm_state], updatedAt: server.updated_at };
    for (const a of await this.actions.listUnfinished(serverId)) {
      const isDelete = a.action === 'delete' || a.action === 'forceDelete';
      if (decision.kind !== 'finish-delete' || !isDelete) await this.actions.finish(a.id, 'Error', 'Interrupted by a restart of novadock.');
    }
    switch (decision.kind) {
      case 'none':
        return;
      case 'finish-delete':
        this.schedule(serverId, 'delete', async () => {
          const unfinished = (await this.actions.listUnfinished(serverId)).find((a) => a.action === 'delete' || a.action === 'forceDelete');
          await this.finishDelete(serverId, unfinished?.id);
        });
        return;
      case 'complete-build':
        await this.servers.update(serverId, {
          vm_state: decision.patch.vm_state, power_state: decision.patch.power_state, addresses: decision.patch.addresses, task_state: null, launched_at: nowIso(),
        }, expect);
        this.log.info({ server_id: serverId }, 'recovered: build completed (its container runs)');
        return;
      case 'fail-build':
        if (driver && observed && observed !== 'gone') await driver.destroy(serverId).catch(() => undefined);
        await this.servers.update(serverId, { vm_state: VmStates.ERROR, task_state: null, power_state: PowerStates.NOSTATE, fault: faultOf(decision.message) }, expect);
        this.log.warn({ server_id: serverId }, 'recovered: interrupted build set to ERROR');
        return;
      case 'clear-task':
        if (decision.fault) {
          await this.servers.update(serverId, { vm_state: VmStates.ERROR, task_state: null, power_state: PowerStates.NOSTATE, fault: faultOf(decision.fault.message, decision.fault.code) }, expect);
        } else if (await this.servers.update(serverId, { task_state: null }, expect) && observed) {
          // Observed just before the task was cleared; nothing else can have run on the server since.
          await this.syncPowerState(serverId, observed, stamp());
        }
        this.log.warn({ server_id: serverId, task_state: server.task_state }, 'recovered: interrupted task cleared');
        return;
    }
  }

  /**
   * Removes an instance labelled as ours that no server (or only a deleted one) owns. Checked
   * again here, under the lane, so a server being created or deleted right now is never touched.
   */
  async removeOrphan(driver: ComputeDriver, serverId: string, projectId: string): Promise<boolean> {
    if (this.isBusy(serverId)) return false;
    const row = await this.servers.get(serverId);
    if (row) return false;
    // Another novadock sharing the engine (and host name) labels its containers the same way:
    // only a project this database has had servers in is ours to clean up.
    if (!(await this.servers.projectKnown(projectId))) return false;
    this.log.warn({ server_id: serverId, host: driver.host }, 'removing an instance labelled as ours that has no server');
    await driver.destroy(serverId);
    return true;
  }

  // ------------------------------------------------------------------ helpers

  private driverOf(server: ServerRecord): ComputeDriver {
    const d = server.host ? this.drivers.get(server.host) : undefined;
    if (!d) throw unavailable(`Compute host ${server.host ?? '(none)'} of server ${server.id} is not configured.`);
    return d;
  }

  /** Writes need the engine: 503 (and nothing changed) when it does not answer. */
  private async reachable(driver: ComputeDriver): Promise<void> {
    try {
      await driver.ping();
      this.hostStatus.set(driver.host, 'UP');
    } catch (e) {
      this.hostStatus.set(driver.host, 'DOWN');
      if (e instanceof DomainError) throw e;
      throw unavailable(e instanceof HypervisorUnavailable ? e.message : `Compute host ${driver.host} is unavailable: ${describe(e)}`);
    }
  }
}

/** The flavor as embedded in the server (views at ≥ 2.47 show it even if the flavor is deleted). */
export function snapshotOf(f: FlavorRecord): FlavorSnapshot {
  return { id: f.id, name: f.name, ram: f.ram, vcpus: f.vcpus, disk: f.disk, ephemeral: f.ephemeral, swap: f.swap, extra_specs: { ...f.extra_specs } };
}

function runningPatch(info: InstanceInfo): ServerPatch {
  const patch: ServerPatch = { power_state: info.powerState };
  if (info.addresses.length) patch.addresses = addressesOf(info);
  return patch;
}

/**
 * The image property os_command_line (as nova-docker had it) split into argv with shell rules;
 * shell operators are kept as literal words, never interpreted.
 */
export function commandOf(image: ImageRecord): string[] | undefined {
  const line = image.properties?.os_command_line;
  if (!line || !line.trim()) return undefined;
  const words = shellParse(line, (name) => `$${name}`).map((t) => {
    if (typeof t === 'string') return t;
    if ('op' in t && t.op === 'glob') return (t as { pattern: string }).pattern;
    if ('op' in t) return String(t.op);
    if ('comment' in t) return `#${t.comment}`;
    return String(t);
  });
  return words.length ? words : undefined;
}

/** Nova's _tail_log: "\n".join(log.split("\n")[-N:]); 0 → ''; null/-1 → all. */
export function tailLines(log: string, length: number | null): string {
  if (length === null || length === -1) return log;
  if (length === 0) return '';
  const lines = log.split('\n');
  // Python's lines[-N:] for N > 0; a negative N (other than -1) slices from the front, as Python does.
  return (length > 0 ? lines.slice(Math.max(0, lines.length - length)) : lines.slice(-length)).join('\n');
}

