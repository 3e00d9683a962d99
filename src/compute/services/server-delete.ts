/**
 * Deleting a server (nova/compute/api.py delete, force_delete; manager.py terminate_instance).
 */
import type { ServerNetworking } from './server-ports';
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { invalidState as invalidStateError } from '../../errors';
import { now as nowIso } from '../../clock';
import type { ServerRepository } from '../../db/server-repo';
import type { ActionRepository } from '../../db/action-repo';
import { HypervisorUnavailable } from '../../virt/driver';
import { VmStates } from '../vm-states';
import { TaskStates } from '../task-states';
import type { ServerRecord } from '../server-record';
import { PowerStates } from '../power-state';
import { RULES, StateRule, refusal } from '../state-rules';
import { describe, faultOf } from './action-runner';
import type { TaskRunner } from './task-runner';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';
import type { PlacementPort, ServerGroupsPort } from '../scheduler/types';
import type { ComputeImages } from './ports';
import { deleteShelvedImage } from './shelve';

/** What a delete needs from the moves between hosts (MigrationService implements it). */
export interface DeleteMovesPort {
  /** A server being deleted: its unfinished moves end, their other host's instance goes (best effort). */
  onDelete(server: ServerRecord): Promise<void>;
}

export interface ServerDeleterDeps {
  servers: ServerRepository;
  actions: ActionRepository;
  queries: ServerQueries;
  hosts: HostService;
  runner: TaskRunner;
  placement: Pick<PlacementPort, 'release'>;
  groups: Pick<ServerGroupsPort, 'removeMember'>;
  log: Logger;
  /** Late-bound: the moves are built after the deleter (they need what the deleter feeds). */
  moves?: () => DeleteMovesPort | undefined;
  /** A shelved server's image goes with it (as Nova deletes it); absent: left alone. */
  images?: Pick<ComputeImages, 'delete'>;
  /** The server's ports go with it (issue 17); absent: it has none. */
  networking?: Pick<ServerNetworking, 'release'>;
}

export class ServerDeleter {
  private readonly servers: ServerRepository;
  private readonly actions: ActionRepository;
  private readonly queries: ServerQueries;
  private readonly hosts: HostService;
  private readonly runner: TaskRunner;
  private readonly placement: Pick<PlacementPort, 'release'>;
  private readonly groups: Pick<ServerGroupsPort, 'removeMember'>;
  private readonly log: Logger;
  private readonly moves: () => DeleteMovesPort | undefined;
  private readonly images?: Pick<ComputeImages, 'delete'>;
  private readonly networking?: Pick<ServerNetworking, 'release'>;

  constructor(deps: ServerDeleterDeps) {
    this.servers = deps.servers;
    this.actions = deps.actions;
    this.queries = deps.queries;
    this.hosts = deps.hosts;
    this.runner = deps.runner;
    this.placement = deps.placement;
    this.groups = deps.groups;
    this.log = deps.log;
    this.moves = deps.moves ?? (() => undefined);
    this.images = deps.images;
    this.networking = deps.networking;
  }

  /**
   * DELETE (and forceDelete): allowed in every state. The task becomes `deleting` at once; the
   * container is destroyed after whatever the server was doing, then the row is marked deleted
   * and GET answers 404. Deleting a server already being deleted is a no-op.
   */
  async delete(ctx: RequestContext, id: string, rule: StateRule = RULES.delete): Promise<void> {
    const server = await this.queries.get(ctx, id);
    const why = refusal(server, rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    if (server.task_state === TaskStates.DELETING) return;
    const driver = this.hosts.driverAt(server.host);
    if (driver) await this.hosts.reachable(driver);
    await this.runner.guarded([id], async () => {
      const claimed = await this.servers.update(id, { task_state: TaskStates.DELETING }, { notTaskStates: [TaskStates.DELETING] });
      if (!claimed) return; // gone meanwhile, or another DELETE claimed it: either way it is being deleted
      const actionId = await this.actions.start({ instanceUuid: id, action: rule === RULES.forceDelete ? 'forceDelete' : 'delete', requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
      this.runner.schedule(id, 'delete', () => this.finishDelete(id, actionId));
    });
  }

  /** The delete's work, on the server's lane (also resumes a delete a crash interrupted). */
  async finishDelete(id: string, actionId?: number): Promise<void> {
    // The host is re-read: a build queued before this delete may have scheduled the server.
    const server = await this.servers.get(id);
    if (!server || server.task_state !== TaskStates.DELETING) {
      if (actionId !== undefined) await this.actions.finish(actionId, 'Error', 'The delete was superseded.');
      return;
    }
    const driver = this.hosts.driverAt(server.host);
    try {
      await this.moves()?.onDelete(server);
      if (driver) await driver.destroy(id);
      const ts = nowIso();
      const deleted = await this.servers.update(id, {
        vm_state: VmStates.DELETED, task_state: null, power_state: PowerStates.NOSTATE, deleted: true, deleted_at: ts, terminated_at: ts, addresses: {},
      }, { taskStates: [TaskStates.DELETING] });
      // After the row is deleted, so that a placement committing meanwhile (another process) is released too.
      if (deleted) {
        await this.placement.release(id);
        await this.groups.removeMember(id);
        await this.networking?.release(id).catch((e) => this.log.warn({ server_id: id, err: describe(e) }, 'could not release the ports of a deleted server'));
        const shelved: string[] = [VmStates.SHELVED, VmStates.SHELVED_OFFLOADED];
        if (this.images && shelved.includes(server.vm_state)) await deleteShelvedImage(this.images, server, this.log);
      }
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
}
