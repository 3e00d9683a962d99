/**
 * The work of moves between compute hosts, on the server's lane, after nova/compute/manager.py
 * (prep_resize, resize_instance, finish_resize, confirm_resize, revert_resize,
 * finish_revert_resize, rebuild_instance with recreate). Every server change is a
 * compare-and-set on the task it leaves; a delete or an admin's reset meanwhile supersedes it.
 *
 *   cold migration (`migrate`; a resize is the same path with another flavor)     migration
 *     resize_prep       placement chooses a destination, never the source      pre-migrating
 *                       (a resize prefers its own host: placed with the claim)
 *     resize_migrating  source: power off, commit the filesystem, set aside    migrating
 *     resize_migrated   its image: source exportImage → destination loadImage  post-migrating
 *     resize_finish     host := destination; spawn from the image (powered
 *                       off again if the server was stopped)
 *     → vm_state resized, status VERIFY_RESIZE                                 finished
 *   confirm            source: the set-aside instance and images go; placement
 *                      drops the source's claim; active (stopped if off)        confirming → confirmed
 *   revert             resize_reverting: the destination's instance goes, the
 *                      source's comes back (started if it was active);
 *                      host := source; placement returns the source's claim     reverting → reverted
 *   evacuation         rebuilding: placement; rebuild_block_device_mapping: the
 *                      server's image onto the destination; rebuild_spawning:
 *                      spawn from it; host := destination (stopped again if it
 *                      was stopped)                                             accepted → pre-migrating → done
 *                      the old host answers again: its instance is removed     → completed (MoveCleanup)
 *
 * A cold move that fails is rolled back: the destination's instance goes, the source's comes back
 * as it was, and the server stays on its source with a fault (Nova's InstanceFaultRollback);
 * migration error. A failed evacuation leaves the server ERROR on its (down) host; migration
 * failed, or error when no host was found.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { now as nowIso } from '../../clock';
import type { ServerPatch, ServerRepository } from '../../db/server-repo';
import type { ActionRepository } from '../../db/action-repo';
import type { MigrationRecord, MigrationRepository } from '../../db/migration-repo';
import type { InTransaction } from '../../db/compute-records';
import { ComputeDriver, HypervisorUnavailable, InstanceInfo } from '../../virt/driver';
import type { FlavorSnapshot, ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import { TaskStates, TaskState } from '../task-states';
import { PowerStates } from '../power-state';
import { MigrationStatuses as M, MigrationStatus } from '../migration-status';
import { NoValidHost, PlacementPort, RequestSpec } from '../scheduler/types';
import { Superseded, describe, faultOf, runningPatch } from './action-runner';
import type { HostService } from './hosts';
import type { InstanceBuilder } from './instance-builder';
import type { ComputeImages } from './ports';

export interface MoveWorkDeps {
  servers: ServerRepository;
  migrations: MigrationRepository;
  actions: ActionRepository;
  /** Server, migration and action writes in one transaction (VERIFY_RESIZE of a resize in place). */
  inTransaction: InTransaction;
  hosts: HostService;
  builder: InstanceBuilder;
  images: ComputeImages;
  placement: PlacementPort;
  log: Logger;
  /** Grace period of the source's power off (as os-stop's). */
  shutdownTimeoutSeconds: number;
}

/** A cold move as the API accepted it. */
export interface ColdMove {
  server: ServerRecord;
  migration: MigrationRecord;
  /** The instance action to finish; absent when resuming a dead process's move. */
  actionId?: number;
  spec: RequestSpec;
  /** The flavor on the destination (the server's own for a migration). */
  flavor: FlavorSnapshot;
  /** A resize: the server's own host when it fits, the limits then changed in place. */
  sameHost?: boolean;
  /** Where the API's claim placed it already (a resize that fits its own host): no placeMove. */
  placed?: string;
}

/** How far a cold move got: what a rollback must undo. */
interface Progress {
  task: TaskState;
  placed?: string;
  dest?: ComputeDriver;
  /** The source was asked to power off and set aside (maybe half done). */
  sourceTouched?: boolean;
  imageRef?: string;
  /** The destination was asked to spawn (maybe half done). */
  spawned?: boolean;
}

export class MoveWork {
  private readonly d: MoveWorkDeps;

  constructor(deps: MoveWorkDeps) {
    this.d = deps;
  }

  // ------------------------------------------------------------------ cold migration

  async coldMove(job: ColdMove): Promise<void> {
    const { server, migration } = job;
    const id = server.id;
    const p: Progress = { task: TaskStates.RESIZE_PREP };
    try {
      const source = this.driverAt(migration.source_compute);
      const destHost = job.placed ?? await this.d.placement.placeMove(server, job.spec, migration.uuid, { sameHost: job.sameHost });
      p.placed = destHost;
      const dest = destHost === migration.source_compute ? undefined : this.driverAt(destHost);
      // Named before any engine is touched (unless the claim named it): a dead process's move is
      // undone from it, in place or not (move-cleanup.ts).
      if (migration.dest_compute !== destHost) {
        await this.d.migrations.update(migration.id, { dest_compute: destHost, dest_node: destHost, dest_host: await this.d.hosts.hostIp(destHost) });
      }
      if (!dest) {
        await this.resizeInPlace(job, p, source);
        return;
      }
      p.dest = dest;
      await this.advance(migration, M.MIGRATING);
      await this.step(id, p, TaskStates.RESIZE_MIGRATING);
      p.sourceTouched = true;
      p.imageRef = await source.moves.migrateDiskAndPowerOff(id, migration.uuid, this.d.shutdownTimeoutSeconds);
      await this.advance(migration, M.POST_MIGRATING);
      await this.step(id, p, TaskStates.RESIZE_MIGRATED);
      if (!(await dest.hasImage(p.imageRef))) await dest.loadImage(await source.exportImage(p.imageRef));
      await this.step(id, p, TaskStates.RESIZE_FINISH, { host: destHost });
      p.spawned = true;
      let info = await this.d.builder.spawnFrom(dest, this.d.builder.specFrom({ ...server, flavor: job.flavor }, p.imageRef));
      if (server.vm_state === VmStates.STOPPED) info = await this.powerOff(dest, id);
      await this.quietly(id, 'remove the move image from the source', () => source.removeImage(p.imageRef!));
      await this.step(id, p, null, { vm_state: VmStates.RESIZED, ...runningPatch(info), flavor: job.flavor, flavor_id: job.flavor.id });
      await this.d.builder.portsOn(id, destHost, info);
      await this.advance(migration, M.FINISHED);
      await this.finishAction(job.actionId, 'Success');
      this.d.log.info({ server_id: id, source: migration.source_compute, dest: destHost }, 'cold migration finished: VERIFY_RESIZE');
    } catch (err) {
      await this.rollBack(job, p, err);
    }
  }

  /**
   * A cold move that failed (or was superseded, or a dead process left) is undone: the
   * destination's instance goes, the source's comes back, the server is on its source again.
   */
  async rollBack(job: ColdMove, p: Progress, err: unknown): Promise<void> {
    const { server, migration } = job;
    const id = server.id;
    const message = describe(err);
    const sourceHost = migration.source_compute ?? server.host;
    const source = this.d.hosts.driverAt(sourceHost);
    let undoFailed: string | undefined;
    const undo = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (e) {
        undoFailed ??= `${what}: ${describe(e)}`;
        this.d.log.warn({ server_id: id, err: describe(e) }, `rolling back a move: could not ${what}`);
        return undefined;
      }
    };
    if (p.spawned && p.dest) await undo('remove the destination\'s instance', () => p.dest!.destroy(id));
    if (p.imageRef && p.dest && p.dest !== source) await this.quietly(id, 'remove the move image from the destination', () => p.dest!.removeImage(p.imageRef!));
    let restored: InstanceInfo | undefined;
    if (p.sourceTouched) {
      restored = await undo('restore the source\'s instance', async () => {
        if (!source) throw new Error(`Compute host ${sourceHost} is not configured.`);
        return source.moves.finishRevertMigration(id, server.vm_state === VmStates.ACTIVE);
      });
    }
    if (p.placed) await this.quietly(id, 'return the placement', () => this.d.placement.revertMove(id, migration.uuid));
    await this.d.migrations.update(migration.id, { status: M.ERROR });
    await this.finishAction(job.actionId, 'Error', message);
    if (restored && sourceHost) await this.d.builder.portsOn(id, sourceHost, restored);
    if (err instanceof Superseded) {
      // A newer intent (delete, reset) owns the server; its instance is on the source again.
      await this.d.servers.update(id, { host: sourceHost });
      this.d.log.info({ server_id: id }, 'cold migration superseded; rolled back to the source');
      return;
    }
    const back: ServerPatch = { task_state: null, host: sourceHost, fault: faultOf(message) };
    if (undoFailed) {
      back.vm_state = VmStates.ERROR;
      back.fault = faultOf(`${message} It could not be undone (${undoFailed}).`);
    } else if (restored) Object.assign(back, runningPatch(restored));
    await this.d.servers.update(id, back, { taskStates: [p.task] });
    this.d.log.warn({ server_id: id, err: message, undone: !undoFailed }, 'cold migration failed; rolled back to the source');
  }

  // ------------------------------------------------------------------ confirm and revert

  /** confirmResize: the source forgets the server; the server is active (stopped if powered off). */
  async confirm(server: ServerRecord, migration: MigrationRecord, actionId?: number): Promise<void> {
    const id = server.id;
    try {
      const source = this.d.hosts.driverAt(migration.source_compute);
      // A source that fails here keeps a leftover the reconciler removes once it answers
      // (the migration is no longer in progress): the server itself is fine on its destination.
      if (source && !inPlace(migration)) await this.quietly(id, 'clean up the source', () => source.moves.confirmMigration(id));
      await this.d.placement.confirmMove(migration.uuid);
      const row = await this.d.servers.get(id);
      let power = row?.power_state ?? PowerStates.NOSTATE;
      const dest = this.d.hosts.driverAt(row?.host ?? null);
      if (dest) power = (await this.quietly(id, 'read the power state', () => dest.getInfo(id)))?.powerState ?? power;
      // NOTE(openstack): as manager._confirm_resize: powered off → stopped, anything else → active.
      const vm = power === PowerStates.SHUTDOWN || power === PowerStates.CRASHED ? VmStates.STOPPED : VmStates.ACTIVE;
      await this.d.servers.update(id, { vm_state: vm, power_state: power }, { taskStates: [null, TaskStates.DELETING], vmStates: [VmStates.RESIZED] });
      await this.d.migrations.update(migration.id, { status: M.CONFIRMED }, [M.CONFIRMING]);
      await this.finishAction(actionId, 'Success');
    } catch (err) {
      const message = describe(err);
      await this.d.migrations.update(migration.id, { status: M.ERROR }, [M.CONFIRMING]);
      await this.d.servers.update(id, { vm_state: VmStates.ERROR, fault: faultOf(message) }, { taskStates: [null], vmStates: [VmStates.RESIZED] });
      await this.finishAction(actionId, 'Error', message);
      this.d.log.warn({ server_id: id, err: message }, 'confirm of a cold migration failed');
    }
  }

  /** revertResize: the destination's instance goes; the source's is the server's again. */
  async revert(server: ServerRecord, migration: MigrationRecord, actionId?: number): Promise<void> {
    const id = server.id;
    const sourceHost = migration.source_compute;
    if (inPlace(migration)) {
      await this.revertInPlace(server, migration, actionId);
      return;
    }
    try {
      const dest = this.d.hosts.driverAt(migration.dest_compute);
      if (dest) {
        // An unreachable destination keeps a leftover the reconciler removes once it answers.
        await dest.destroy(id).catch((e) => {
          if (!(e instanceof HypervisorUnavailable)) throw e;
          this.d.log.warn({ server_id: id, host: dest.host }, 'revert: the destination does not answer; its instance is left for the reconciler');
        });
      }
      const powerOn = migration.old_vm_state !== VmStates.STOPPED;
      const info = await this.driverAt(sourceHost).moves.finishRevertMigration(id, powerOn);
      await this.d.placement.revertMove(id, migration.uuid);
      const patch: ServerPatch = { host: sourceHost, vm_state: powerOn ? VmStates.ACTIVE : VmStates.STOPPED, task_state: null, ...runningPatch(info), launched_at: nowIso(), ...oldFlavorPatch(migration) };
      if (!(await this.d.servers.update(id, patch, { taskStates: [TaskStates.RESIZE_REVERTING] }))) {
        await this.d.servers.update(id, { host: sourceHost });
        throw new Superseded(id, TaskStates.RESIZE_REVERTING);
      }
      if (sourceHost) await this.d.builder.portsOn(id, sourceHost, info);
      await this.d.migrations.update(migration.id, { status: M.REVERTED }, [M.REVERTING]);
      await this.finishAction(actionId, 'Success');
    } catch (err) {
      await this.failRevert(migration, id, err, 'revert of a cold migration failed', actionId);
    }
  }

  // ------------------------------------------------------------------ resize in place (issue 15)

  /**
   * The server's own host took the new flavor (the placement's claim is made: in the API's task
   * claim's transaction, or by placeMove): its limits change live (the engine's update call),
   * the process runs on. The engine call is the whole of the work, so nothing waits before it and
   * nothing runs beside it: the moment it returns, one transaction writes VERIFY_RESIZE with the
   * new flavor (compare-and-set from the task the claim set), the migration finished and the
   * action's success. While the engine works the records stay resize_prep, the migration
   * pre-migrating and naming this host (no resize_migrating in between: those writes beside the
   * engine call made the resize ~3% slower, for a state no one sees). A failure — or a delete or
   * reset that took the task meanwhile — puts the old limits back and rolls back as a cold move.
   */
  private async resizeInPlace(job: ColdMove, p: Progress, driver: ComputeDriver): Promise<void> {
    const { server, migration, flavor } = job;
    const id = server.id;
    try {
      await driver.resizeInstance(id, flavor.ram, flavor.vcpus);
      await this.d.inTransaction(async (r) => {
        if (!(await r.servers.update(id, { vm_state: VmStates.RESIZED, flavor, flavor_id: flavor.id, progress: 100, task_state: null }, { taskStates: [p.task] }))) {
          throw new Superseded(id, p.task);
        }
        await r.migrations.update(migration.id, { status: M.FINISHED });
        if (job.actionId !== undefined) await r.actions.finish(job.actionId, 'Success');
      });
    } catch (err) {
      await this.quietly(id, 'put the old limits back', () => driver.resizeInstance(id, server.flavor.ram, server.flavor.vcpus));
      throw err;
    }
    this.d.log.info({ server_id: id, host: driver.host, flavor: flavor.id }, 'resized in place: VERIFY_RESIZE');
  }

  /** A dead process's in-place resize: the old limits back, then the cold move's roll back (placement only). */
  async undoInPlace(job: ColdMove, task: TaskState, err: Error): Promise<void> {
    const driver = this.d.hosts.driverAt(job.migration.source_compute);
    const old = job.migration.old_flavor ?? job.server.flavor;
    if (driver) await this.quietly(job.server.id, 'put the old limits back', () => driver.resizeInstance(job.server.id, old.ram, old.vcpus));
    await this.rollBack(job, { task, placed: job.migration.dest_compute ?? undefined }, err);
  }

  /** revertResize in place: the old flavor's limits back, live; the old flavor written back. */
  private async revertInPlace(server: ServerRecord, migration: MigrationRecord, actionId?: number): Promise<void> {
    const id = server.id;
    try {
      const old = migration.old_flavor;
      if (!old) throw new Error(`The migration ${migration.uuid} of server ${id} does not say which flavor to go back to.`);
      await this.driverAt(migration.source_compute).resizeInstance(id, old.ram, old.vcpus);
      await this.d.placement.revertMove(id, migration.uuid);
      // NOTE(openstack): Nova keeps a stopped server stopped through a resize and its revert.
      const vm = migration.old_vm_state === VmStates.STOPPED ? VmStates.STOPPED : VmStates.ACTIVE;
      if (!(await this.d.servers.update(id, { vm_state: vm, task_state: null, ...oldFlavorPatch(migration) }, { taskStates: [TaskStates.RESIZE_REVERTING] }))) {
        throw new Superseded(id, TaskStates.RESIZE_REVERTING);
      }
      await this.d.migrations.update(migration.id, { status: M.REVERTED }, [M.REVERTING]);
      await this.finishAction(actionId, 'Success');
    } catch (err) {
      await this.failRevert(migration, id, err, 'revert of a resize in place failed', actionId);
    }
  }

  /** A revert that failed: the migration in error, the action failed, the server ERROR (unless another task took it over). */
  private async failRevert(migration: MigrationRecord, id: string, err: unknown, what: string, actionId?: number): Promise<void> {
    const message = describe(err);
    await this.d.migrations.update(migration.id, { status: M.ERROR }, [M.REVERTING]);
    await this.finishAction(actionId, 'Error', message);
    if (err instanceof Superseded) return;
    await this.d.servers.update(id, { task_state: null, vm_state: VmStates.ERROR, fault: faultOf(message) }, { taskStates: [TaskStates.RESIZE_REVERTING] });
    this.d.log.warn({ server_id: id, err: message }, what);
  }

  // ------------------------------------------------------------------ evacuation

  /** Rebuilds the server on another host from its image: the source is down, its disk is not used. */
  async evacuate(ctx: RequestContext, server: ServerRecord, migration: MigrationRecord, spec: RequestSpec, actionId?: number): Promise<void> {
    const id = server.id;
    const p: Progress = { task: TaskStates.REBUILDING };
    try {
      const destHost = await this.d.placement.placeMove(server, spec, migration.uuid);
      p.placed = destHost;
      const dest = this.driverAt(destHost);
      await this.d.migrations.update(migration.id, { status: M.PRE_MIGRATING, dest_compute: destHost, dest_node: destHost, dest_host: await this.d.hosts.hostIp(destHost) });
      const image = server.image_id ? await this.d.images.find(ctx, server.image_id) : undefined;
      if (!image) throw new Error(`Image ${server.image_id ?? '(none)'} of server ${id} is gone: the server cannot be rebuilt on another host.`);
      await this.step(id, p, TaskStates.REBUILD_BLOCK_DEVICE_MAPPING);
      await this.d.builder.hostImages.ensureOnHost(image, dest);
      await this.step(id, p, TaskStates.REBUILD_SPAWNING);
      p.dest = dest;
      p.spawned = true;
      // An instance of the server left on the destination by an earlier stay would hold its name.
      await dest.destroy(id);
      let info = await this.d.builder.spawnFrom(dest, this.d.builder.specOf(server, image), image);
      if (server.vm_state === VmStates.STOPPED) info = await this.powerOff(dest, id);
      const vm = server.vm_state === VmStates.STOPPED ? VmStates.STOPPED : VmStates.ACTIVE;
      await this.step(id, p, null, { host: destHost, vm_state: vm, ...runningPatch(info), launched_at: nowIso(), fault: null });
      await this.d.builder.portsOn(id, destHost, info);
      await this.d.migrations.update(migration.id, { status: M.DONE });
      await this.finishAction(actionId, 'Success');
      this.d.log.info({ server_id: id, source: migration.source_compute, dest: destHost }, 'evacuated');
    } catch (err) {
      await this.failEvacuation(server, migration, p, err, actionId);
    }
  }

  async failEvacuation(server: ServerRecord, migration: MigrationRecord, p: Progress, err: unknown, actionId?: number): Promise<void> {
    const id = server.id;
    const message = describe(err);
    if (p.spawned && p.dest) await this.quietly(id, 'remove the destination\'s instance', () => p.dest!.destroy(id));
    if (p.placed) await this.quietly(id, 'return the placement', () => this.d.placement.revertMove(id, migration.uuid));
    await this.d.migrations.update(migration.id, { status: err instanceof NoValidHost ? M.ERROR : M.FAILED });
    await this.finishAction(actionId, 'Error', message);
    if (err instanceof Superseded) return;
    await this.d.servers.update(id, { task_state: null, vm_state: VmStates.ERROR, fault: faultOf(message) }, { taskStates: [p.task] });
    this.d.log.warn({ server_id: id, err: message }, 'evacuation failed');
  }

  // ------------------------------------------------------------------ helpers

  private driverAt(host: string | null): ComputeDriver {
    const d = this.d.hosts.driverAt(host);
    if (!d) throw new Error(`Compute host ${host ?? '(none)'} is not configured.`);
    return d;
  }

  /** Moves task_state on (compare-and-set from the current one) with `patch`; throws Superseded if taken over. */
  private async step(id: string, p: Progress, to: TaskState | null, patch: ServerPatch = {}): Promise<void> {
    if (!(await this.d.servers.update(id, { ...patch, task_state: to }, { taskStates: [p.task] }))) throw new Superseded(id, p.task);
    if (to) p.task = to;
  }

  private async advance(m: MigrationRecord, status: MigrationStatus): Promise<void> {
    await this.d.migrations.update(m.id, { status });
  }

  private async powerOff(driver: ComputeDriver, id: string): Promise<InstanceInfo> {
    await driver.powerOff(id, this.d.shutdownTimeoutSeconds);
    return driver.getInfo(id);
  }

  private async finishAction(actionId: number | undefined, result: 'Success' | 'Error', error?: string): Promise<void> {
    if (actionId !== undefined) await this.d.actions.finish(actionId, result, error);
  }

  /** Clean-up that must not fail the work: logged and let go. */
  private async quietly<T>(id: string, what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      this.d.log.warn({ server_id: id, err: describe(e) }, `could not ${what}`);
      return undefined;
    }
  }
}

export type { Progress as MoveProgress };

/** A resize that stayed on its host (its limits changed in place): nothing was set aside. */
export const inPlace = (m: MigrationRecord): boolean => m.dest_compute !== null && m.dest_compute === m.source_compute;

/** A resize's revert writes the old flavor back (nothing for a migration, whose flavor never changed). */
const oldFlavorPatch = (m: MigrationRecord): ServerPatch => (m.old_flavor ? { flavor: m.old_flavor, flavor_id: m.old_flavor.id } : {});
