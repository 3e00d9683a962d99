/**
 * The common path of every task-claiming server action (nova/compute/api.py's check_instance_*
 * decorators, then manager.py's work): read the server (404 for another project's), check the
 * rule (lock, vm_state, task_state; 409 in Nova's words), make sure its compute host answers (503
 * otherwise, nothing changed), claim the task with a compare-and-set, record the instance action,
 * answer; the driver work runs on the server's lane and moves task_state on with compare-and-sets,
 * finally clearing it. Work whose compare-and-set finds another task (a delete, a hard reboot, an
 * admin's reset) stops: the newer intent owns the server.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../../http/context';
import { invalidState as invalidStateError, msg, notFound } from '../../errors';
import { now as nowIso, stamp } from '../../clock';
import type { ServerExpectation, ServerRepository, ServerPatch } from '../../db/server-repo';
import type { ActionRepository } from '../../db/action-repo';
import { ComputeDriver, HypervisorUnavailable, InstanceInfo, InstanceNotFound, SpawnFailed } from '../../virt/driver';
import type { Fault, ServerRecord } from '../server-record';
import { VmStates } from '../vm-states';
import type { TaskState } from '../task-states';
import { PowerStates } from '../power-state';
import { StateRule, claimCondition, invalidState, refusal } from '../state-rules';
import { Observation, addressesOf, goneMessage } from '../sync-rules';
import type { TaskRunner } from './task-runner';
import type { HostService } from './hosts';
import type { ServerQueries } from './server-queries';

/** The one place that re-reads an engine and applies the sync rules (PowerSync implements it). */
export interface PowerSyncPort {
  syncPowerState(serverId: string, observed: Observation, observedAt: string, opts?: { ignoreBusy?: boolean }): Promise<unknown>;
  /** The server's ports follow its power state on `host` (issue 17). */
  portsFollow?(serverId: string, host: string, powerState: number): Promise<void>;
}

export const faultOf = (message: string, code = 500): Fault => ({ code, message: message.slice(0, 255), created: nowIso() });

/** Why an error happened, in words for a fault or an action's traceback. */
export function describe(err: unknown): string {
  if (err instanceof SpawnFailed) return err.reason;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** A background task found its task_state taken over (delete, hard reboot, reset): it stops. */
export class Superseded extends Error {
  constructor(readonly serverId: string, readonly task: string) {
    super(`task ${task} of server ${serverId} was superseded`);
  }
}

export interface RunContext {
  server: ServerRecord;
  driver: ComputeDriver;
  /** Moves task_state on (compare-and-set from the current one), with `patch`; throws Superseded if taken over. */
  step(to: TaskState, patch?: ServerPatch): Promise<void>;
}

export interface ActionSpec {
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

/** The claim's compare-and-set condition: the states `rule` lets a claim start from. */
function claimExpectation(rule: StateRule): ServerExpectation {
  const cond = claimCondition(rule);
  return { vmStates: cond.vmStates ?? undefined, taskStates: cond.taskStates ?? undefined, launched: cond.mustHaveLaunched };
}

export interface ActionRunnerDeps {
  servers: ServerRepository;
  actions: ActionRepository;
  queries: ServerQueries;
  hosts: HostService;
  runner: TaskRunner;
  sync: PowerSyncPort;
  log: Logger;
}

export class ActionRunner {
  private readonly servers: ServerRepository;
  private readonly actions: ActionRepository;
  private readonly queries: ServerQueries;
  private readonly hosts: HostService;
  private readonly runner: TaskRunner;
  private readonly sync: PowerSyncPort;
  private readonly log: Logger;

  constructor(deps: ActionRunnerDeps) {
    this.servers = deps.servers;
    this.actions = deps.actions;
    this.queries = deps.queries;
    this.hosts = deps.hosts;
    this.runner = deps.runner;
    this.sync = deps.sync;
    this.log = deps.log;
  }

  /** Starts an instance action record for ctx's request (through `actions`, e.g. a transaction's); resolves to its id. */
  startAction(ctx: RequestContext, id: string, action: string, actions: Pick<ActionRepository, 'start'> = this.actions): Promise<number> {
    return actions.start({ instanceUuid: id, action, requestId: ctx.requestId, userId: ctx.userId, projectId: ctx.projectId });
  }

  async recordInstant(ctx: RequestContext, id: string, action: string): Promise<void> {
    const actionId = await this.startAction(ctx, id, action);
    await this.actions.finish(actionId, 'Success');
  }

  /** The common path of a task-claiming action; resolves with the server as claimed. */
  async act(ctx: RequestContext, id: string, spec: ActionSpec): Promise<ServerRecord> {
    const server = await this.queries.get(ctx, id);
    const why = refusal(server, spec.rule, ctx.isAdmin);
    if (why) throw invalidStateError(why);
    const driver = this.hosts.driverOf(server);
    await this.hosts.reachable(driver);
    return this.runner.guarded([id], async () => {
      await this.claim(ctx, server, spec.rule, spec.task, spec.claimPatch);
      const actionId = await this.startAction(ctx, id, spec.action);
      const claimed = (await this.servers.get(id)) ?? server;
      this.runner.schedule(id, spec.action, () => this.runAction(claimed, driver, spec, actionId));
      return claimed;
    });
  }

  /** Compare-and-set of the task; when it touches nothing, re-read and say why (409) or 404. */
  async claim(ctx: RequestContext, server: ServerRecord, rule: StateRule, task: TaskState, patch: ServerPatch = {}): Promise<void> {
    if (!(await this.tryClaim(server, rule, task, patch))) await this.refuseClaim(ctx, server, rule);
  }

  /** The claim's compare-and-set alone (through `servers`, e.g. a transaction's): true when it took. */
  tryClaim(server: ServerRecord, rule: StateRule, task: TaskState, patch: ServerPatch = {}, servers: Pick<ServerRepository, 'update'> = this.servers): Promise<boolean> {
    return servers.update(server.id, { ...patch, task_state: task }, claimExpectation(rule));
  }

  /** tryClaim, resolving to the server as claimed (undefined when it did not take), in one statement. */
  tryClaimRecord(server: ServerRecord, rule: StateRule, task: TaskState, patch: ServerPatch = {}, servers: Pick<ServerRepository, 'updated'> = this.servers): Promise<ServerRecord | undefined> {
    return servers.updated(server.id, { ...patch, task_state: task }, claimExpectation(rule));
  }

  /** A claim that did not take: re-read and say why (409), or 404 when the server is gone. */
  async refuseClaim(ctx: RequestContext, server: ServerRecord, rule: StateRule): Promise<never> {
    const now = await this.servers.get(server.id);
    if (!now) throw notFound(msg.instanceNotFound(server.id));
    throw invalidStateError(refusal(now, rule, ctx.isAdmin) ?? invalidState(rule.action, server.id, 'task_state', now.task_state));
  }

  async runAction(server: ServerRecord, driver: ComputeDriver, spec: ActionSpec, actionId: number): Promise<void> {
    const id = server.id;
    let task: TaskState = spec.task;
    const step = async (to: TaskState, patch: ServerPatch = {}) => {
      if (!(await this.servers.update(id, { ...patch, task_state: to }, { taskStates: [task] }))) throw new Superseded(id, task);
      task = to;
    };
    try {
      const patch = await spec.run({ server, driver, step });
      if (!(await this.servers.update(id, { ...patch, task_state: null }, { taskStates: [task] }))) throw new Superseded(id, task);
      if (patch.power_state !== undefined) await this.sync.portsFollow?.(id, patch.host ?? server.host ?? driver.host, patch.power_state);
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
      await this.sync.syncPowerState(id, observed, observedAt, { ignoreBusy: true });
    } catch (e) {
      this.log.warn({ server_id: id, err: describe(e) }, 'could not re-read the power state');
    }
  }
}

/** The power state and (when known) addresses of a running instance, as columns. */
export function runningPatch(info: InstanceInfo): ServerPatch {
  const patch: ServerPatch = { power_state: info.powerState };
  if (info.addresses.length) patch.addresses = addressesOf(info);
  return patch;
}
