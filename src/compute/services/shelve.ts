/**
 * Shelve, shelve offload and unshelve (nova/compute/api.py shelve, shelve_offload, unshelve;
 * manager.py _shelve_instance, _shelve_offload_instance, _unshelve_instance; conductor's
 * unshelve_instance):
 *
 *   shelve      ACTIVE|STOPPED|PAUSED|SUSPENDED → image record "<name>-shelved" (queued, listed)
 *               → shelving: powered off, committed → shelving_image_pending_upload
 *               → shelving_image_uploading (archive into the image store) → SHELVED (shelved_at,
 *               shelved_image_id, shelved_host), then at once when the offload time is 0:
 *   offload     shelving_offloading: instance destroyed, allocation released → SHELVED_OFFLOADED,
 *               host null, power_state SHUTDOWN (NOVADOCK_SHELVED_OFFLOAD_TIME > 0: by the poll)
 *   unshelve    SHELVED → unshelving → powering-on → ACTIVE;
 *               SHELVED_OFFLOADED → unshelving (scheduled anew: PlacementPort.placeBoot)
 *               → spawning (from the shelved image: the filesystem comes back) → ACTIVE;
 *               then the shelved image is deleted and the shelved keys cleared.
 *
 * Quotas: Nova's legacy counting (count_usage_from_placement = False, its default) keeps counting
 * an offloaded server's instance, cores and RAM, so unshelve checks no quota; usage here counts
 * every server that is not deleted, which is the same.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { badRequest, forbidden, invalidState as invalidStateError, msg } from '../../errors';
import { now as nowIso } from '../../clock';
import type { ServerRepository, ServerPatch } from '../../db/server-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { ImageRecord } from '../../image/image-record';
import type { ComputeDriver } from '../../virt/driver';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { TaskStates, TaskState } from '../task-states';
import { PowerStates } from '../power-state';
import { RULES, refusal } from '../state-rules';
import { addressesOf } from '../sync-rules';
import { ActionRunner, Superseded, describe, faultOf, runningPatch } from './action-runner';
import type { InstanceBuilder } from './instance-builder';
import { AVAILABILITY_ZONE, HostService } from './hosts';
import type { TaskRunner } from './task-runner';
import type { ServerQueries } from './server-queries';
import type { ComputeImages } from './ports';
import type { HostSettingsPort, PlacementPort, RequestSpec, ServerGroupsPort } from '../scheduler/types';
import { NoValidHost } from '../scheduler/types';

/** unshelve's body: 2.77 `availability_zone` (null at 2.91: unpin), 2.91 `host` (admin). */
export interface UnshelveRequest {
  /** undefined: not given; null: unpin (2.91). */
  availabilityZone?: string | null;
  host?: string;
}

export interface ShelveDeps {
  servers: ServerRepository;
  actions: ActionRepository;
  images: Pick<ComputeImages, 'find' | 'beginSnapshot' | 'finishSnapshot' | 'abortSnapshot' | 'delete'>;
  queries: ServerQueries;
  runner: ActionRunner;
  tasks: TaskRunner;
  hosts: HostService;
  builder: InstanceBuilder;
  placement: Pick<PlacementPort, 'placeBoot' | 'release'>;
  settings: HostSettingsPort;
  groups: Pick<ServerGroupsPort, 'groupOf'>;
  log: Logger;
  /** Nova's shelved_offload_time: 0 = offload at once (default), > 0 = seconds later (poll), < 0 = never. */
  offloadTimeSeconds?: number;
  /** Grace period of the power-off before SIGKILL (as os-stop). */
  shutdownTimeoutSeconds?: number;
}

/** Nova's shelved keys of system_metadata, cleared by unshelve (compute/utils.py remove_shelved_keys_from_system_metadata). */
const UNSHELVED: ServerPatch = { shelved_at: null, shelved_image_id: null, shelved_host: null };

/**
 * The context in which novadock itself deletes a shelved server's image (after unshelve, with
 * the server): the server's project, elevated as Nova's compute does, so that an admin's unshelve
 * and a background offload alike may remove it.
 */
export function shelvedImageContext(server: Pick<ServerRecord, 'project_id' | 'user_id'>, requestId = 'req-novadock-shelve'): RequestContext {
  return {
    requestId, userId: server.user_id, userName: '', userDomainId: 'default', projectId: server.project_id, projectName: '',
    projectDomainId: 'default', roles: ['admin'], isAdmin: true, auditId: '',
  };
}

/** Deletes a shelved server's image, as Nova does after unshelve and on delete: a failure is logged, never thrown. */
export async function deleteShelvedImage(images: Pick<ComputeImages, 'delete'>, server: Pick<ServerRecord, 'id' | 'project_id' | 'user_id' | 'shelved_image_id'>, log: Logger): Promise<void> {
  const imageId = server.shelved_image_id;
  if (!imageId) return;
  try {
    await images.delete(shelvedImageContext(server), imageId);
  } catch (err) {
    log.warn({ server_id: server.id, image_id: imageId, err: describe(err) }, 'failed to delete the snapshot of a shelved server');
  }
}

export class ShelveService {
  private readonly d: ShelveDeps;
  private readonly offloadTime: number;
  private readonly shutdownTimeout: number;
  private poll?: NodeJS.Timeout;

  constructor(deps: ShelveDeps) {
    this.d = deps;
    this.offloadTime = deps.offloadTimeSeconds ?? 0;
    this.shutdownTimeout = deps.shutdownTimeoutSeconds ?? 2;
  }

  /**
   * shelve: the image record exists (queued, listed) before this resolves; power-off, commit,
   * upload and (offload time 0) the offload run on the server's lane.
   */
  async shelve(ctx: RequestContext, id: string): Promise<void> {
    const server = await this.d.queries.get(ctx, id);
    const why = refusal(server, RULES.shelve, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.d.hosts.driverOf(server);
    await this.d.hosts.reachable(driver);
    await this.d.tasks.guarded([id], async () => {
      await this.d.runner.claim(ctx, server, RULES.shelve, TaskStates.SHELVING);
      let image: ImageRecord;
      try {
        const baseImage = server.image_id ? await this.d.images.find(ctx, server.image_id) : undefined;
        image = await this.d.images.beginSnapshot(ctx, { name: `${server.name}-shelved`, metadata: {}, serverId: id, baseImage });
      } catch (err) {
        await this.d.servers.update(id, { task_state: null }, { taskStates: [TaskStates.SHELVING] });
        throw err;
      }
      const actionId = await this.d.runner.startAction(ctx, id, 'shelve');
      const claimed = (await this.d.servers.get(id)) ?? server;
      this.d.tasks.schedule(id, 'shelve', () => this.shelveWork(claimed, driver, image, actionId));
    });
  }

  private async shelveWork(claimed: ServerRecord, driver: ComputeDriver, image: ImageRecord, actionId: number): Promise<void> {
    let recorded = false;
    const offload = this.offloadTime === 0;
    await this.d.runner.runAction(claimed, driver, {
      rule: RULES.shelve, action: 'shelve', task: TaskStates.SHELVING,
      run: async ({ server, step }) => {
        // A frozen container is thawed first (the engine stops running processes only); a paused
        // guest gets no clean shutdown, as in Nova's _shelve_instance.
        if (server.vm_state === VmStates.PAUSED) await driver.unpause(server.id);
        if (server.vm_state === VmStates.SUSPENDED) await driver.resume(server.id);
        await driver.powerOff(server.id, server.vm_state === VmStates.PAUSED ? 0 : this.shutdownTimeout);
        const engineImageId = await driver.snapshot(server.id, { 'org.openstack.image.id': image.id, 'org.openstack.server.id': server.id });
        await step(TaskStates.SHELVING_IMAGE_PENDING_UPLOAD);
        await step(TaskStates.SHELVING_IMAGE_UPLOADING);
        await this.d.images.finishSnapshot(image.id, engineImageId, await driver.exportImage(engineImageId));
        const shelved: ServerPatch = {
          vm_state: VmStates.SHELVED, power_state: (await driver.getInfo(server.id)).powerState,
          shelved_at: nowIso(), shelved_image_id: image.id, shelved_host: driver.host,
        };
        if (!offload) return shelved;
        await step(TaskStates.SHELVING_OFFLOADING, shelved);
        recorded = true;
        return this.offloadWork(server, driver);
      },
      cleanup: async (err) => {
        if (recorded) return;
        // A shelve that never recorded its image leaves none behind: queued, or uploaded but superseded.
        await this.d.images.abortSnapshot(image.id).catch((e) => this.d.log.warn({ err: e, image_id: image.id }, 'could not abort the shelve image'));
        if (err instanceof Superseded) await deleteShelvedImage(this.d.images, { ...claimed, shelved_image_id: image.id }, this.d.log);
      },
    }, actionId);
  }

  /** _shelve_offload_instance: the instance goes, the allocation is released, then SHELVED_OFFLOADED without a host. */
  private async offloadWork(server: ServerRecord, driver: ComputeDriver): Promise<ServerPatch> {
    await driver.powerOff(server.id, 0);
    const power = await driver.getInfo(server.id).then((i) => i.powerState, () => PowerStates.SHUTDOWN);
    await driver.destroy(server.id);
    // Before the state changes: a client polling for SHELVED_OFFLOADED may boot into the room at once.
    await this.d.placement.release(server.id);
    return { vm_state: VmStates.SHELVED_OFFLOADED, power_state: power === PowerStates.NOSTATE ? PowerStates.SHUTDOWN : power, host: null, addresses: {} };
  }

  /** shelveOffload (admin by Nova's default policy): a SHELVED server's instance leaves its host (shelving_offloading). */
  async shelveOffload(ctx: RequestContext, id: string): Promise<void> {
    await this.d.queries.get(ctx, id);
    if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:os-shelve:shelve_offload to be performed.");
    await this.d.runner.act(ctx, id, {
      rule: RULES.shelveOffload, action: 'shelveOffload', task: TaskStates.SHELVING_OFFLOADING,
      run: async ({ server, driver }) => this.offloadWork(server, driver),
    });
  }

  /**
   * unshelve, with Nova's checks in its order: state (409), a zone or host only for an offloaded
   * server (409), the zone must exist (400), a host is for admins (403), must exist (400) and be
   * in the zone (409).
   */
  async unshelve(ctx: RequestContext, id: string, req: UnshelveRequest = {}): Promise<void> {
    const server = await this.d.queries.get(ctx, id);
    const why = refusal(server, RULES.unshelve, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const azPassed = req.availabilityZone !== undefined;
    if ((azPassed || req.host) && server.vm_state !== VmStates.SHELVED_OFFLOADED) {
      throw invalidStateError(`Specifying an availability zone or a host when unshelving server "${id}" with status "${server.vm_state}" is not supported. The server status must be SHELVED_OFFLOADED.`);
    }
    if (azPassed && req.availabilityZone && !(await this.d.settings.zoneExists(req.availabilityZone))) {
      throw badRequest('The requested availability zone is not available');
    }
    // NOTE(openstack): Nova's RequestSpec keeps the zone asked for at boot; novadock keeps the zone the
    // server landed in, so a server outside the default zone stays in its zone unless told otherwise.
    const pinned = server.availability_zone && server.availability_zone !== AVAILABILITY_ZONE ? server.availability_zone : undefined;
    const zone = azPassed ? (req.availabilityZone ?? undefined) : pinned;
    if (req.host) {
      if (!ctx.isAdmin) throw forbidden("Policy doesn't allow os_compute_api:os-shelve:unshelve_to_host to be performed.");
      const host = (await this.d.settings.all()).find((h) => h.host === req.host);
      if (!host) throw badRequest(msg.computeHostNotFound(req.host));
      if (zone !== undefined && host.zone !== zone) throw invalidStateError(`Host "${req.host}" is not in the availability zone "${zone}".`);
    }
    const driver = server.vm_state === VmStates.SHELVED ? this.d.hosts.driverOf(server) : undefined;
    if (driver) await this.d.hosts.reachable(driver);
    await this.d.tasks.guarded([id], async () => {
      await this.d.runner.claim(ctx, server, RULES.unshelve, TaskStates.UNSHELVING);
      const actionId = await this.d.runner.startAction(ctx, id, 'unshelve');
      // The claim fixed vm_state: nothing else changes it while the task is ours.
      const claimed = (await this.d.servers.get(id)) ?? server;
      if (claimed.vm_state === VmStates.SHELVED) {
        this.d.tasks.schedule(id, 'unshelve', () => this.d.runner.runAction(claimed, this.d.hosts.driverOf(claimed), {
          rule: RULES.unshelve, action: 'unshelve', task: TaskStates.UNSHELVING,
          run: async ({ server: s, driver: d, step }) => {
            await step(TaskStates.POWERING_ON);
            const info = await d.powerOn(s.id);
            await deleteShelvedImage(this.d.images, s, this.d.log);
            return { vm_state: VmStates.ACTIVE, ...runningPatch(info), ...UNSHELVED };
          },
        }, actionId));
      } else {
        this.d.tasks.schedule(id, 'unshelve', () => this.unshelveOffloaded(claimed, { zone, host: req.host }, actionId));
      }
    });
  }

  /**
   * Conductor's unshelve of an offloaded server, then the manager's: the shelved image must
   * still exist (else ERROR), a host is chosen and claimed, the image is put on it and spawned
   * from (spawning), ACTIVE. A failure (no valid host included) leaves it SHELVED_OFFLOADED
   * without a host, allocation released, the task cleared.
   */
  private async unshelveOffloaded(server: ServerRecord, target: { zone?: string; host?: string }, actionId: number): Promise<void> {
    const id = server.id;
    let task: TaskState = TaskStates.UNSHELVING;
    let placed = false;
    const step = async (to: TaskState | null, patch: ServerPatch = {}) => {
      if (!(await this.d.servers.update(id, { ...patch, task_state: to }, { taskStates: [task], vmStates: [VmStates.SHELVED_OFFLOADED] }))) throw new Superseded(id, task);
      if (to) task = to;
    };
    try {
      const image = server.shelved_image_id ? await this.d.images.find(shelvedImageContext(server), server.shelved_image_id) : undefined;
      if (!image || image.status !== 'active' || !image.engine_image_id) {
        const reason = `Unshelve attempted but the image ${server.shelved_image_id ?? ''} cannot be found.`;
        await this.d.servers.update(id, { vm_state: VmStates.ERROR, task_state: null, fault: faultOf(reason) }, { taskStates: [task] });
        await this.d.actions.finish(actionId, 'Error', reason);
        return;
      }
      const spec: RequestSpec = {
        memoryMb: server.flavor.ram, vcpus: server.flavor.vcpus, count: 1, availabilityZone: target.zone, forcedHost: target.host,
        group: await this.d.groups.groupOf(id), engineImageId: image.engine_image_id,
      };
      const [host] = await this.d.placement.placeBoot([server], spec);
      placed = true;
      const driver = this.d.hosts.driverAt(host);
      if (!driver) throw new Error(`Compute host ${host} is not configured.`);
      await step(TaskStates.SPAWNING);
      await this.d.builder.hostImages.ensureOnHost(image, driver);
      // The committed image carries the server's own command (as a move's does).
      const info = await this.d.builder.spawnFrom(driver, this.d.builder.specFrom({ ...server, host }, image.engine_image_id), image);
      await step(null, { vm_state: VmStates.ACTIVE, power_state: info.powerState, addresses: addressesOf(info), launched_at: nowIso(), fault: null, ...UNSHELVED });
      await this.d.builder.portsOn(id, host, info);
      await deleteShelvedImage(this.d.images, server, this.d.log);
      await this.d.actions.finish(actionId, 'Success');
    } catch (err) {
      const message = describe(err);
      await this.d.actions.finish(actionId, 'Error', err instanceof Superseded ? 'The unshelve was superseded.' : message);
      if (err instanceof Superseded) return;
      if (err instanceof NoValidHost) this.d.log.info({ server_id: id, err: message }, 'unshelve not scheduled');
      else this.d.log.warn({ server_id: id, err: message }, 'unshelve failed');
      // Nova: reverts_task_state, the host and node nulled, the scheduler's allocation dropped.
      const patch: ServerPatch = { task_state: null, host: null, addresses: {} };
      if (!(err instanceof NoValidHost)) patch.fault = faultOf(message);
      await this.d.servers.update(id, patch, { taskStates: [task], vmStates: [VmStates.SHELVED_OFFLOADED] });
      if (placed) await this.d.placement.release(id);
    }
  }

  /**
   * Nova's _poll_shelved_instances: with an offload time above 0, SHELVED servers shelved longer
   * ago than that are offloaded (a compare-and-set on task_state none, so an unshelve wins).
   */
  async offloadExpired(now = Date.now()): Promise<number> {
    if (this.offloadTime <= 0) return 0;
    let n = 0;
    for (const s of await this.d.servers.list({ equals: { vm_state: [VmStates.SHELVED], task_state: [null] } })) {
      if (!s.shelved_at || Date.parse(s.shelved_at) > now - this.offloadTime * 1000) continue;
      const driver = this.d.hosts.driverAt(s.host);
      if (!driver || this.d.tasks.isBusy(s.id)) continue;
      const ok = await this.d.servers.update(s.id, { task_state: TaskStates.SHELVING_OFFLOADING }, { taskStates: [null], vmStates: [VmStates.SHELVED] });
      if (!ok) continue;
      n++;
      const actionId = await this.d.actions.start({ instanceUuid: s.id, action: 'shelveOffload', requestId: 'req-novadock-shelved-poll', userId: s.user_id, projectId: s.project_id });
      this.d.tasks.schedule(s.id, 'shelveOffload', () => this.d.runner.runAction(s, driver, {
        rule: RULES.shelveOffload, action: 'shelveOffload', task: TaskStates.SHELVING_OFFLOADING,
        run: async ({ server }) => this.offloadWork(server, driver),
      }, actionId));
    }
    return n;
  }

  /** Starts the periodic offload (only when the offload time is above 0); stop() ends it. */
  start(): void {
    if (this.offloadTime <= 0 || this.poll) return;
    const every = Math.min(60, this.offloadTime) * 1000;
    this.poll = setInterval(() => {
      this.offloadExpired().catch((err) => this.d.log.error({ err }, 'offloading shelved servers failed'));
    }, every);
    this.poll.unref();
  }

  stop(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }
}
