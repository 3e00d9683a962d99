/**
 * What moves leave behind, and who clears it (nova/compute/manager.py
 * _destroy_evacuated_instances, _confirm_resize_on_deleting, init_host's recovery):
 *
 *  - leftovers: an instance of a live server on a host that is not the server's — a confirmed
 *    move's source that could not be cleaned then, an evacuated host that answers again — is
 *    removed by the reconciler's sweep once no move needs it; an evacuation whose old host has
 *    been cleaned is `completed`, and the old host's claim goes;
 *  - a deleted server: its unfinished moves end, the instance on their other host goes;
 *  - a move that a dead process left mid-way: a cold move is rolled back to its source, a
 *    revert is finished, an evacuation fails (ERROR, as a failed one).
 */
import type { Logger } from 'pino';
import type { MigrationRepository } from '../../db/migration-repo';
import type { ComputeDriver } from '../../virt/driver';
import type { ServerRecord } from '../server-record';
import { TaskStates, TaskState } from '../task-states';
import { MOVE_IN_PROGRESS, MigrationStatuses as M, MigrationTypes } from '../migration-status';
import type { PlacementPort } from '../scheduler/types';
import { describe } from './action-runner';
import type { HostService } from './hosts';
import { MoveWork, inPlace } from './move-work';
import type { TaskRunner } from './task-runner';
import type { MovesPort } from './power-sync';
import type { DeleteMovesPort } from './server-delete';

export interface MoveCleanupDeps {
  migrations: MigrationRepository;
  hosts: HostService;
  placement: PlacementPort;
  work: MoveWork;
  tasks: TaskRunner;
  log: Logger;
}

const COLD_MOVE_TASKS: readonly (TaskState | null)[] = [TaskStates.RESIZE_PREP, TaskStates.RESIZE_MIGRATING, TaskStates.RESIZE_MIGRATED, TaskStates.RESIZE_FINISH];
const REBUILD_TASKS: readonly (TaskState | null)[] = [TaskStates.REBUILDING, TaskStates.REBUILD_BLOCK_DEVICE_MAPPING, TaskStates.REBUILD_SPAWNING];
const INTERRUPTED = 'interrupted by a restart of novadock';

export class MoveCleanup implements MovesPort, DeleteMovesPort {
  private readonly d: MoveCleanupDeps;

  constructor(deps: MoveCleanupDeps) {
    this.d = deps;
  }

  async removeLeftover(driver: ComputeDriver, server: ServerRecord): Promise<boolean> {
    if (server.host === driver.host) return false;
    if ((await this.d.migrations.involving(driver.host, MOVE_IN_PROGRESS, server.id)).length > 0) return false;
    this.d.log.warn({ server_id: server.id, host: driver.host, server_host: server.host }, 'removing a move\'s leftover: an instance of a server that lives on another host');
    await driver.destroy(server.id);
    await this.evacuationsCleaned(driver.host, server.id);
    return true;
  }

  /**
   * A host answered and holds no instance of these evacuated servers any more: their
   * evacuations from it are completed, and the placement drops the host's claim.
   */
  async hostSwept(host: string, present: ReadonlySet<string>): Promise<void> {
    for (const m of await this.d.migrations.involving(host, [M.DONE])) {
      if (m.source_compute === host && !present.has(m.instance_uuid)) await this.evacuationsCleaned(host, m.instance_uuid);
    }
  }

  async onDelete(server: ServerRecord): Promise<void> {
    const open = await this.d.migrations.list({ instanceUuid: server.id, status: [...MOVE_IN_PROGRESS, M.DONE] });
    for (const m of open) {
      for (const host of new Set([m.source_compute, m.dest_compute])) {
        const other = host && host !== server.host ? this.d.hosts.driverAt(host) : undefined;
        // Unreachable: the reconciler removes it once the host answers (the server is gone).
        if (other) await other.destroy(server.id).catch((e) => this.d.log.warn({ server_id: server.id, host, err: describe(e) }, 'delete: could not remove the instance a move left'));
      }
      await this.d.placement.release(m.uuid).catch((e) => this.d.log.warn({ server_id: server.id, err: describe(e) }, 'delete: could not release a move\'s claim'));
      const end = m.status === M.FINISHED ? M.CONFIRMED : m.status === M.DONE ? M.COMPLETED : M.ERROR;
      await this.d.migrations.update(m.id, { status: end }, [m.status]);
    }
  }

  async recover(server: ServerRecord): Promise<boolean> {
    const m = await this.d.migrations.latest(server.id, MOVE_IN_PROGRESS);
    if (!m) return false;
    const { work } = this.d;
    const failure = new Error(`The move of server ${server.id} was ${INTERRUPTED}.`);
    let run: (() => Promise<void>) | undefined;
    if (COLD_MOVE_TASKS.includes(server.task_state) && m.status !== M.FINISHED && inPlace(m)) {
      const source = { ...server, host: m.source_compute, flavor: m.old_flavor ?? server.flavor };
      run = () => work.undoInPlace({ server: source, migration: m, spec: { memoryMb: 0, vcpus: 0, count: 1 }, flavor: server.flavor }, server.task_state as TaskState, failure);
    } else if (COLD_MOVE_TASKS.includes(server.task_state) && m.status !== M.FINISHED) {
      const dest = this.d.hosts.driverAt(m.dest_compute);
      const task = server.task_state as TaskState;
      const progress = { task, placed: m.dest_compute ?? undefined, dest, sourceTouched: task !== TaskStates.RESIZE_PREP, spawned: task === TaskStates.RESIZE_FINISH };
      const source = { ...server, host: m.source_compute, vm_state: server.vm_state };
      run = () => work.rollBack({ server: source, migration: m, spec: { memoryMb: 0, vcpus: 0, count: 1 }, flavor: server.flavor }, progress, failure);
    } else if (server.task_state === TaskStates.RESIZE_REVERTING && m.status === M.REVERTING) {
      run = () => work.revert(server, m);
    } else if (REBUILD_TASKS.includes(server.task_state) && m.migration_type === MigrationTypes.EVACUATION) {
      const dest = this.d.hosts.driverAt(m.dest_compute);
      const progress = { task: server.task_state as TaskState, placed: m.dest_compute ?? undefined, dest, spawned: dest !== undefined };
      run = () => work.failEvacuation(server, m, progress, failure);
    }
    if (!run) return false;
    this.d.log.warn({ server_id: server.id, task_state: server.task_state, migration: m.uuid }, `recovering a move ${INTERRUPTED}`);
    this.d.tasks.schedule(server.id, 'recover a move', run);
    return true;
  }

  private async evacuationsCleaned(host: string, serverId: string): Promise<void> {
    for (const m of await this.d.migrations.involving(host, [M.DONE], serverId)) {
      if (m.migration_type !== MigrationTypes.EVACUATION || m.source_compute !== host) continue;
      if (await this.d.migrations.update(m.id, { status: M.COMPLETED }, [M.DONE])) {
        await this.d.placement.confirmMove(m.uuid).catch((e) => this.d.log.warn({ server_id: serverId, err: describe(e) }, 'could not drop an evacuated host\'s claim'));
      }
    }
  }
}
