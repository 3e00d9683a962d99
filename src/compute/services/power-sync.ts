/**
 * PowerSync: the reconciler's verbs (nova/compute/manager.py _sync_instance_power_state and
 * init_host's recovery). The reconciler observes engines; this keeps the database true to what
 * they report, through the same compare-and-sets as the API, never undoing a newer change and
 * never touching a server with work in flight.
 */
import type { ServerNetworking } from './server-ports';
import type { Logger } from 'pino';
import { now as nowIso, stamp } from '../../clock';
import type { ServerRepository, ServerPatch } from '../../db/server-repo';
import type { ActionRepository } from '../../db/action-repo';
import crypto from 'node:crypto';
import { ComputeDriver, HypervisorUnavailable, InstanceInfo, InstanceNotFound } from '../../virt/driver';
import { ENGINE_ACTOR, ENGINE_RESTART_ACTION, RESTART_POLICY_SPEC } from '../restart-policy';
import type { ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { PowerStates } from '../power-state';
import { Observation, SyncPatch, decideRecovery, decideSync } from '../sync-rules';
import { faultOf, PowerSyncPort } from './action-runner';
import type { TaskRunner } from './task-runner';
import type { HostService } from './hosts';
import type { ServerDeleter } from './server-delete';
import type { PlacementPort } from '../scheduler/types';
import type { ComputeImages } from './ports';
import { deleteShelvedImage } from './shelve';

/** What the reconciler's verbs need from the moves between hosts (MigrationService implements it). */
export interface MovesPort {
  /**
   * An instance of a live server on a host that is not the server's (`driver`'s): removed
   * unless a move still needs it (a cold move not yet confirmed or reverted, an evacuation under
   * way); true when it was removed.
   */
  removeLeftover(driver: ComputeDriver, server: ServerRecord): Promise<boolean>;
  /** Resolves a move that a dead process left mid-way and says true, or says false: not a move's task. */
  recover(server: ServerRecord): Promise<boolean>;
  /** A sweep of `host` found these servers' instances there (evacuations from it may be complete). */
  hostSwept(host: string, present: ReadonlySet<string>): Promise<void>;
}

export interface PowerSyncDeps {
  servers: ServerRepository;
  actions: ActionRepository;
  hosts: HostService;
  runner: TaskRunner;
  deleter: ServerDeleter;
  /** Releases the allocation of a build that recovery fails. */
  placement: Pick<PlacementPort, 'release'>;
  log: Logger;
  /** Moves between hosts (late-bound: built after this); absent, an instance on a host not its server's is left alone. */
  moves?: () => MovesPort | undefined;
  /** An unshelve that recovery completes deletes the shelved image, as unshelve does; absent: left alone. */
  images?: Pick<ComputeImages, 'delete'>;
  /** Ports follow the server's power state (issue 17); absent: it has none. */
  networking?: Pick<ServerNetworking, 'bind'>;
}

export class PowerSync implements PowerSyncPort {
  private readonly servers: ServerRepository;
  private readonly actions: ActionRepository;
  private readonly hosts: HostService;
  private readonly runner: TaskRunner;
  private readonly deleter: ServerDeleter;
  private readonly placement: Pick<PlacementPort, 'release'>;
  private readonly log: Logger;
  private readonly moves: () => MovesPort | undefined;
  private readonly images?: Pick<ComputeImages, 'delete'>;
  private readonly networking?: Pick<ServerNetworking, 'bind'>;

  constructor(deps: PowerSyncDeps) {
    this.servers = deps.servers;
    this.actions = deps.actions;
    this.hosts = deps.hosts;
    this.runner = deps.runner;
    this.deleter = deps.deleter;
    this.placement = deps.placement;
    this.log = deps.log;
    this.moves = deps.moves ?? (() => undefined);
    this.images = deps.images;
    this.networking = deps.networking;
  }

  /**
   * A timestamp for an observation of the engine, on the same strictly increasing clock as the
   * rows' updated_at: every write after this call is stamped later, every write before earlier.
   * Take it before asking the engine, and syncPowerState will ignore the answer for a server
   * that changed meanwhile.
   */
  observationTime(): string {
    return stamp();
  }

  /** Servers a crash may have left mid-task. */
  async unsettledServers(): Promise<ServerRecord[]> {
    return this.servers.listUnsettled();
  }

  /**
   * Brings one server's states into line with what its engine reported at `observedAt`
   * (decideSync). Skips servers with work in flight, and observations older than the row's
   * last change; the write is a compare-and-set on that change, so nothing newer is undone.
   * `host`: where the observation was made; a server that lives on another host (it moved, or
   * is moving) is not judged by what that host says.
   */
  async syncPowerState(serverId: string, observed: Observation, observedAt: string, opts: { ignoreBusy?: boolean; host?: string } = {}): Promise<SyncPatch | undefined> {
    if (!opts.ignoreBusy && this.runner.isBusy(serverId)) return undefined;
    const server = await this.servers.get(serverId);
    if (!server) return undefined;
    if (opts.host !== undefined && server.host !== opts.host) return undefined;
    if (server.updated_at >= observedAt) return undefined;
    if (observed !== 'gone') await this.recordEngineRestart(server, observed);
    const decision = decideSync(server, observed);
    if (decision.kind !== 'update') return undefined;
    const { fault, ...rest } = decision.patch;
    const patch: ServerPatch = { ...rest };
    if (fault) patch.fault = faultOf(fault.message, fault.code);
    const ok = await this.servers.update(serverId, patch, { taskStates: [null], updatedAt: server.updated_at });
    if (ok) this.log.info({ server_id: serverId, reason: decision.reason, patch: decision.patch }, 'power state synchronised');
    if (ok && patch.power_state !== undefined && server.host) await this.portsFollow(serverId, server.host, patch.power_state);
    return ok ? decision.patch : undefined;
  }

  /** The server's ports say ACTIVE while it runs, DOWN otherwise (issue 17); a failure is logged. */
  async portsFollow(serverId: string, host: string, powerState: number): Promise<void> {
    await this.networking?.bind(serverId, host, powerState === PowerStates.RUNNING)
      .catch((e) => this.log.warn({ server_id: serverId, err: (e as Error).message }, 'could not update the ports of a server'));
  }

  /**
   * Starts again an ACTIVE server whose container the engine's restart stopped (Nova's
   * resume_guests_state_on_host_boot), unless it changed since `observedAt` or has work in
   * flight; then brings its row into line with what the engine says. A start that fails leaves
   * the server to the usual sync (SHUTOFF).
   */
  async resumeGuest(serverId: string, observedAt: string): Promise<void> {
    if (this.runner.isBusy(serverId)) return;
    const server = await this.servers.get(serverId);
    const driver = server ? this.hosts.driverAt(server.host) : undefined;
    if (!server || !driver || server.updated_at >= observedAt || server.task_state !== null || server.vm_state !== VmStates.ACTIVE) return;
    let observed: Observation;
    try {
      observed = await driver.powerOn(serverId);
      this.log.info({ server_id: serverId, host: server.host }, 'resumed a guest after its engine restarted');
    } catch (err) {
      this.log.warn({ server_id: serverId, err: (err as Error).message }, 'could not resume a guest after its engine restarted');
      observed = await driver.getInfo(serverId).catch(() => 'gone' as const);
    }
    await this.syncPowerState(serverId, observed, stamp(), { ignoreBusy: true });
  }

  /**
   * Restart policy (issue 15): the engine restarted the process of a server that is to run
   * (its policy, after a crash) — the server stays ACTIVE, and an instance action `restart` by
   * the engine says so, once per restart count seen since the server was last launched (the
   * request id is derived from them, so processes sharing the database record it once).
   */
  private async recordEngineRestart(server: ServerRecord, observed: InstanceInfo): Promise<void> {
    const count = observed.restartCount ?? 0;
    if (count === 0 || server.vm_state !== VmStates.ACTIVE || server.task_state !== null) return;
    const digest = crypto.createHash('sha256').update(`${server.id}|${server.launched_at ?? ''}|${count}`).digest('hex');
    const requestId = `req-${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`;
    if (await this.actions.get(server.id, requestId)) return;
    const policy = server.flavor.extra_specs?.[RESTART_POLICY_SPEC] ?? 'its restart policy';
    const id = await this.actions.start({ instanceUuid: server.id, action: ENGINE_RESTART_ACTION, requestId, userId: ENGINE_ACTOR, projectId: server.project_id });
    await this.actions.finish(id, 'Success', `The compute host's engine restarted the server's process after it exited (restart policy ${policy}; restarts so far: ${count}).`);
    this.log.info({ server_id: server.id, restart_count: count }, 'the engine restarted the server\'s process');
  }

  /**
   * Start-up recovery of a server left mid-task by a crash: a build completes (its container
   * runs) or fails with a fault, a delete completes, any other task is cleared and re-synced.
   */
  async recover(serverId: string): Promise<void> {
    if (this.runner.isBusy(serverId)) return;
    const server = await this.servers.get(serverId);
    if (!server) return;
    const driver = this.hosts.driverAt(server.host);
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
    const moves = this.moves();
    if (decision.kind !== 'finish-delete' && moves && (await moves.recover(server))) return;
    switch (decision.kind) {
      case 'none':
        return;
      case 'finish-delete':
        this.runner.schedule(serverId, 'delete', async () => {
          const unfinished = (await this.actions.listUnfinished(serverId)).find((a) => a.action === 'delete' || a.action === 'forceDelete');
          await this.deleter.finishDelete(serverId, unfinished?.id);
        });
        return;
      case 'complete-build':
        if (await this.servers.update(serverId, {
          vm_state: decision.patch.vm_state, power_state: decision.patch.power_state, addresses: decision.patch.addresses, task_state: null, launched_at: nowIso(),
        }, expect)) {
          // As the build would have, had it finished: its ports are bound to the host, ACTIVE.
          if (server.host) await this.portsFollow(serverId, server.host, PowerStates.RUNNING);
          this.log.info({ server_id: serverId }, 'recovered: build completed (its container runs)');
        }
        return;
      case 'fail-build':
        if (driver && observed && observed !== 'gone') await driver.destroy(serverId).catch(() => undefined);
        if (await this.servers.update(serverId, { vm_state: VmStates.ERROR, task_state: null, power_state: PowerStates.NOSTATE, fault: faultOf(decision.message) }, expect)) {
          await this.placement.release(serverId);
          this.log.warn({ server_id: serverId }, 'recovered: interrupted build set to ERROR');
        }
        return;
      case 'complete-offload':
      case 'fail-unshelve':
        if (driver && observed && observed !== 'gone') await driver.destroy(serverId);
        await this.placement.release(serverId);
        await this.servers.update(serverId, {
          vm_state: VmStates.SHELVED_OFFLOADED, task_state: null, host: null, power_state: PowerStates.SHUTDOWN, addresses: {},
        }, expect);
        this.log.warn({ server_id: serverId, task_state: server.task_state }, 'recovered: interrupted shelve offload or unshelve left offloaded');
        return;
      case 'complete-unshelve':
        if (await this.servers.update(serverId, {
          vm_state: decision.patch.vm_state, power_state: decision.patch.power_state, addresses: decision.patch.addresses,
          task_state: null, launched_at: nowIso(), shelved_at: null, shelved_image_id: null, shelved_host: null,
        }, expect)) {
          if (server.host) await this.portsFollow(serverId, server.host, PowerStates.RUNNING);
          if (this.images) await deleteShelvedImage(this.images, server, this.log);
          this.log.info({ server_id: serverId }, 'recovered: unshelve completed (its container runs)');
        }
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

  /** After a sweep of a host that answered: what it still holds, for the moves' bookkeeping. */
  async hostSwept(host: string, present: ReadonlySet<string>): Promise<void> {
    await this.moves()?.hostSwept(host, present);
  }

  /**
   * Removes an instance labelled as ours that no server (or only a deleted one) owns, or that
   * a move left on a host that is not its server's (MovesPort.removeLeftover). Checked again
   * here, under the lane, so a server being created, moved or deleted right now is never touched.
   */
  async removeOrphan(driver: ComputeDriver, serverId: string, projectId: string): Promise<boolean> {
    if (this.runner.isBusy(serverId)) return false;
    const row = await this.servers.get(serverId);
    const moves = this.moves();
    if (row) return row.host !== driver.host && moves ? moves.removeLeftover(driver, row) : false;
    // Another novadock sharing the engine (and host name) labels its containers the same way:
    // only a project this database has had servers in is ours to clean up.
    if (!(await this.servers.projectKnown(projectId))) return false;
    this.log.warn({ server_id: serverId, host: driver.host }, 'removing an instance labelled as ours that has no server');
    await driver.destroy(serverId);
    return true;
  }
}
