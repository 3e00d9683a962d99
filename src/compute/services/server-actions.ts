/**
 * The server actions that change its power or its container (nova/compute/api.py stop, start,
 * reboot, pause, unpause, suspend, resume, rebuild), the console log, and the admin's verbs
 * (reset state, lock, unlock). Each task-claiming action goes through the ActionRunner.
 */
import type { RequestContext } from '../../http/context';
import { badRequest, forbidden, invalidState as invalidStateError, msg, notFound, unavailable } from '../../errors';
import { now as nowIso } from '../../clock';
import type { ServerRepository, ServerPatch } from '../../db/server-repo';
import type { KeypairRepository } from '../../db/keypair-repo';
import { HypervisorUnavailable, InstanceNotFound } from '../../virt/driver';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { TaskStates } from '../task-states';
import { PowerStates } from '../power-state';
import { RULES, refusal } from '../state-rules';
import { generatePassword } from '../naming';
import { ActionRunner, runningPatch } from './action-runner';
import { autoDiskConfigFor } from './instance-builder';
import type { InstanceBuilder } from './instance-builder';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';

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
  /** OS-DCF:diskConfig: true = AUTO, false = MANUAL, absent = the new image's auto_disk_config. */
  autoDiskConfig?: boolean;
}

export interface ServerActionsDeps {
  servers: ServerRepository;
  keypairs: KeypairRepository;
  queries: ServerQueries;
  runner: ActionRunner;
  builder: InstanceBuilder;
  hosts: HostService;
  /**
   * Grace period of os-stop before SIGKILL. Nova's CONF.shutdown_timeout is 60 s, but a shell as
   * PID 1 ignores SIGTERM, and the stock scenarios expect SHUTOFF within 3 s of `server stop`.
   */
  shutdownTimeoutSeconds?: number;
}

export class ServerActions {
  private readonly servers: ServerRepository;
  private readonly keypairs: KeypairRepository;
  private readonly queries: ServerQueries;
  private readonly runner: ActionRunner;
  private readonly builder: InstanceBuilder;
  private readonly hosts: HostService;
  private readonly shutdownTimeout: number;

  constructor(deps: ServerActionsDeps) {
    this.servers = deps.servers;
    this.keypairs = deps.keypairs;
    this.queries = deps.queries;
    this.runner = deps.runner;
    this.builder = deps.builder;
    this.hosts = deps.hosts;
    this.shutdownTimeout = deps.shutdownTimeoutSeconds ?? 2;
  }

  async stop(ctx: RequestContext, id: string): Promise<void> {
    await this.runner.act(ctx, id, {
      rule: RULES.stop, action: 'stop', task: TaskStates.POWERING_OFF,
      run: async ({ server, driver }) => {
        await driver.powerOff(server.id, this.shutdownTimeout);
        const info = await driver.getInfo(server.id);
        return { vm_state: VmStates.STOPPED, power_state: info.powerState };
      },
    });
  }

  async start(ctx: RequestContext, id: string): Promise<void> {
    await this.runner.act(ctx, id, {
      rule: RULES.start, action: 'start', task: TaskStates.POWERING_ON,
      run: async ({ server, driver }) => {
        const info = await driver.powerOn(server.id);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(info) };
      },
    });
  }

  async reboot(ctx: RequestContext, id: string, type: 'SOFT' | 'HARD'): Promise<void> {
    await this.runner.act(ctx, id, {
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
    await this.runner.act(ctx, id, {
      rule: RULES.pause, action: 'pause', task: TaskStates.PAUSING,
      run: async ({ server, driver }) => {
        await driver.pause(server.id);
        return { vm_state: VmStates.PAUSED, power_state: (await driver.getInfo(server.id)).powerState };
      },
    });
  }

  async unpause(ctx: RequestContext, id: string): Promise<void> {
    await this.runner.act(ctx, id, {
      rule: RULES.unpause, action: 'unpause', task: TaskStates.UNPAUSING,
      run: async ({ server, driver }) => {
        await driver.unpause(server.id);
        return { vm_state: VmStates.ACTIVE, ...runningPatch(await driver.getInfo(server.id)) };
      },
    });
  }

  /** Suspend freezes the container like pause (the engine then reports PAUSED); shown as SUSPENDED/7. */
  async suspend(ctx: RequestContext, id: string): Promise<void> {
    await this.runner.act(ctx, id, {
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
    await this.runner.act(ctx, id, {
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
    const current = await this.queries.get(ctx, id);
    const flavor = current.flavor;
    const image = await this.builder.bootableImage(ctx, req.imageRef, flavor);
    const claimPatch: ServerPatch = { image_id: image.id, auto_disk_config: autoDiskConfigFor(image, req.autoDiskConfig) };
    if (req.name !== undefined) claimPatch.name = req.name;
    if (req.metadata !== undefined) {
      await this.builder.checkMetadataQuota(ctx.projectId, Object.keys(req.metadata).length);
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
      this.builder.checkUserData(req.userData ?? undefined);
      claimPatch.user_data = req.userData;
    }
    const wasStopped = current.vm_state === VmStates.STOPPED;
    const server = await this.runner.act(ctx, id, {
      rule: RULES.rebuild, action: 'rebuild', task: TaskStates.REBUILDING, claimPatch, onFailure: 'error',
      run: async ({ server: s, driver, step }) => {
        await step(TaskStates.REBUILD_BLOCK_DEVICE_MAPPING);
        await this.builder.hostImages.ensureOnHost(image, driver);
        await step(TaskStates.REBUILD_SPAWNING);
        await driver.destroy(s.id);
        const info = await this.builder.spawnFrom(driver, this.builder.specOf(s, image), image);
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

  /** restore undoes a soft delete; servers are never soft-deleted here, so it is always refused. */
  async restore(ctx: RequestContext, id: string): Promise<never> {
    const server = await this.queries.get(ctx, id);
    throw invalidStateError(refusal(server, RULES.restore, ctx.isAdmin) ?? `Cannot 'restore' instance ${id} while it is in vm_state ${server.vm_state}`);
  }

  /** os-getConsoleOutput with Nova's `length`: the last N lines ("\n".join(lines[-N:])). */
  async consoleOutput(ctx: RequestContext, id: string, length: number | null): Promise<string> {
    const server = await this.queries.get(ctx, id);
    // nova/compute/api.py check_instance_host: never scheduled → InstanceNotReady (409).
    if (!server.host) throw invalidStateError(`Instance ${id} is not ready`);
    const driver = this.hosts.driverOf(server);
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
    await this.queries.get(ctx, id);
    const ok = await this.servers.update(id, { vm_state: state, task_state: null });
    if (!ok) throw notFound(msg.instanceNotFound(id));
    await this.runner.recordInstant(ctx, id, 'resetState');
  }

  /** lock (2.73: with a reason). Re-locking one's own locked server changes nothing (as Nova). */
  async lock(ctx: RequestContext, id: string, reason?: string): Promise<void> {
    const server = await this.queries.get(ctx, id);
    const isOwner = server.project_id === ctx.projectId;
    if (!(server.locked && isOwner)) {
      await this.servers.update(id, { locked: true, locked_by: isOwner ? 'owner' : 'admin', locked_reason: reason ?? null });
    }
    await this.runner.recordInstant(ctx, id, 'lock');
  }

  /** unlock: a lock taken by an admin is only lifted by an admin (unlock_override policy). */
  async unlock(ctx: RequestContext, id: string): Promise<void> {
    const server = await this.queries.get(ctx, id);
    const expected = server.project_id === ctx.projectId ? 'owner' : 'admin';
    if (server.locked_by && server.locked_by !== expected && !ctx.isAdmin) {
      throw forbidden("Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override to be performed.");
    }
    await this.servers.update(id, { locked: false, locked_by: null, locked_reason: null });
    await this.runner.recordInstant(ctx, id, 'unlock');
  }
}

/** Nova's _tail_log: "\n".join(log.split("\n")[-N:]); 0 → ''; null/-1 → all. */
export function tailLines(log: string, length: number | null): string {
  if (length === null || length === -1) return log;
  if (length === 0) return '';
  const lines = log.split('\n');
  // Python's lines[-N:] for N > 0; a negative N (other than -1) slices from the front, as Python does.
  return (length > 0 ? lines.slice(Math.max(0, lines.length - length)) : lines.slice(-length)).join('\n');
}

