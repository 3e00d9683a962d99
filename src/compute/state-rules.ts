/**
 * Which vm_states and task_states allow which action, after nova/compute/api.py
 * (`check_instance_state`, `check_instance_lock`, `check_instance_host`) and the 409 messages of
 * nova/api/openstack/common.py `raise_http_conflict_for_instance_invalid_state`.
 *
 * The rules serve twice: as the compare-and-set condition of the claim (the SQL WHERE clause),
 * and, when the claim touched no row, to say in Nova's words why.
 */
import { msg } from '../errors';
import { VmStates, VmState } from './vm-states';
import { TaskStates, TaskState } from './task-states';
import type { ServerRecord } from './server-record';

/** One check_instance_state decorator: null = that attribute is not checked. */
export interface StateStage {
  vmStates: readonly VmState[] | null;
  taskStates: readonly (TaskState | null)[] | null;
  /** Nova's must_have_launched: a server that never became ACTIVE is refused. */
  mustHaveLaunched: boolean;
}

export interface StateRule {
  /** The action as Nova names it in "Cannot '<action>' instance …". */
  action: string;
  /** Checked in order, like stacked decorators (reboot has two). */
  stages: readonly StateStage[];
  /** check_instance_lock: a locked server refuses non-admins (409 "Instance <id> is locked"). */
  checkLock: boolean;
}

const { ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR, RESIZED, SHELVED, SHELVED_OFFLOADED } = VmStates;

/** vm_states.ALLOW_SOFT_REBOOT / ALLOW_HARD_REBOOT */
const ALLOW_SOFT_REBOOT: VmState[] = [ACTIVE];
const ALLOW_HARD_REBOOT: VmState[] = [ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR];
/** task_states.ALLOW_REBOOT: a hard reboot may interrupt these. */
export const ALLOW_REBOOT: (TaskState | null)[] = [
  null, TaskStates.REBOOTING, TaskStates.REBOOT_PENDING, TaskStates.REBOOT_STARTED, TaskStates.REBOOTING_HARD,
  TaskStates.RESUMING, TaskStates.UNPAUSING, TaskStates.PAUSING, TaskStates.SUSPENDING,
];

const stage = (vmStates: VmState[] | null, taskStates: (TaskState | null)[] | null = [null], mustHaveLaunched = true): StateStage =>
  ({ vmStates, taskStates, mustHaveLaunched });

const rule = (action: string, stages: StateStage[], checkLock = true): StateRule => ({ action, stages, checkLock });

/** compute/api.py reboot(): the outer check both reboot types share. */
const REBOOT_OUTER = stage([...new Set([...ALLOW_SOFT_REBOOT, ...ALLOW_HARD_REBOOT])], ALLOW_REBOOT);

export const RULES = {
  stop: rule('stop', [stage([ACTIVE, ERROR])]),
  start: rule('start', [stage([STOPPED])]),
  rebootSoft: rule('reboot', [REBOOT_OUTER, stage(ALLOW_SOFT_REBOOT, [null])]),
  rebootHard: rule('reboot', [REBOOT_OUTER, stage(ALLOW_HARD_REBOOT, ALLOW_REBOOT)]),
  pause: rule('pause', [stage([ACTIVE])]),
  unpause: rule('unpause', [stage([PAUSED])]),
  suspend: rule('suspend', [stage([ACTIVE])]),
  resume: rule('resume', [stage([SUSPENDED])]),
  rebuild: rule('rebuild', [stage([ACTIVE, STOPPED, ERROR])]),
  // NOTE(openstack): snapshot() carries no check_instance_lock in nova/compute/api.py.
  createImage: rule('createImage', [stage([ACTIVE, STOPPED, PAUSED, SUSPENDED])], false),
  /** compute/api.py backup(): same states as a snapshot, and the lock is checked. */
  createBackup: rule('createBackup', [stage([ACTIVE, STOPPED, PAUSED, SUSPENDED])]),
  /** restore() only undoes a soft delete, which novadock never does: always a conflict. */
  restore: rule('restore', [stage([VmStates.SOFT_DELETED])]),
  // task_state=None in the decorator: metadata changes are not refused for a task in flight.
  updateMetadata: rule('update metadata', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null)]),
  deleteMetadata: rule('delete metadata', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null)]),
  /** compute/api.py resize() (a cold migration is a resize to the same flavor). */
  migrate: rule('migrate', [stage([ACTIVE, STOPPED])]),
  // resize (issue 15): compute/api.py resize() with a flavor.
  resize: rule('resize', [stage([ACTIVE, STOPPED])]),
  confirmResize: rule('confirmResize', [stage([RESIZED])]),
  revertResize: rule('revertResize', [stage([RESIZED])]),
  // NOTE(openstack): evacuate() carries no check_instance_lock in nova/compute/api.py.
  evacuate: rule('evacuate', [stage([ACTIVE, STOPPED, ERROR])], false),
  liveMigrate: rule('os-migrateLive', [stage([ACTIVE, PAUSED])]),
  /** live_migrate_abort() and live_migrate_force_complete(): only a live migration in flight (never, here). */
  abortLiveMigration: rule('abort live migration', [stage(null, [TaskStates.MIGRATING])]),
  forceCompleteLiveMigration: rule('force_complete', [stage([ACTIVE], [TaskStates.MIGRATING])]),
  // Shelve (compute/api.py shelve, shelve_offload, unshelve; the API names the action in the 409).
  shelve: rule('shelve', [stage([ACTIVE, STOPPED, PAUSED, SUSPENDED])]),
  shelveOffload: rule('shelveOffload', [stage([SHELVED])]),
  unshelve: rule('unshelve', [stage([SHELVED, SHELVED_OFFLOADED])]),
  // Server tags (server_tags.py _check_instance_in_valid_state): vm_state only, no task or lock check.
  updateTag: rule('update tag', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null, false)], false),
  updateTags: rule('update tags', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null, false)], false),
  deleteTag: rule('delete tag', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null, false)], false),
  deleteTags: rule('delete tags', [stage([ACTIVE, PAUSED, SUSPENDED, STOPPED], null, false)], false),
  delete: rule('delete', [stage(null, null, false)]),
  forceDelete: rule('forceDelete', [stage(null, null, false)]),
} as const satisfies Record<string, StateRule>;

export type RuleName = keyof typeof RULES;

/** Python's str() of a state, as Nova's message shows it. */
const py = (v: string | null): string => (v === null ? 'None' : v);

/**
 * Nova's 409 text when `server` is not in a state `rule` allows, or undefined when it is.
 * Lock first (check_instance_lock wraps the state checks), then each stage in order.
 */
export function refusal(server: Pick<ServerRecord, 'id' | 'vm_state' | 'task_state' | 'launched_at' | 'locked'>, r: StateRule, isAdmin: boolean): string | undefined {
  if (r.checkLock && server.locked && !isAdmin) return msg.instanceLocked(server.id);
  for (const s of r.stages) {
    if (s.vmStates && !s.vmStates.includes(server.vm_state)) return invalidState(r.action, server.id, 'vm_state', server.vm_state);
    if (s.taskStates && !s.taskStates.includes(server.task_state)) return invalidState(r.action, server.id, 'task_state', server.task_state);
    if (s.mustHaveLaunched && !server.launched_at) return invalidState(r.action, server.id, 'launched_at', null);
  }
  return undefined;
}

export function invalidState(action: string, id: string, attr: string, state: string | null): string {
  return msg.instanceInvalidState(action, id, attr, py(state));
}

/** The compare-and-set condition of a rule: every stage must hold, so the sets intersect. */
export interface ClaimCondition {
  vmStates: VmState[] | null;
  taskStates: (TaskState | null)[] | null;
  mustHaveLaunched: boolean;
}

export function claimCondition(r: StateRule): ClaimCondition {
  let vmStates: VmState[] | null = null;
  let taskStates: (TaskState | null)[] | null = null;
  let mustHaveLaunched = false;
  for (const s of r.stages) {
    if (s.vmStates) vmStates = vmStates ? vmStates.filter((v) => s.vmStates!.includes(v)) : [...s.vmStates];
    if (s.taskStates) taskStates = taskStates ? taskStates.filter((t) => s.taskStates!.includes(t)) : [...s.taskStates];
    mustHaveLaunched ||= s.mustHaveLaunched;
  }
  return { vmStates, taskStates, mustHaveLaunched };
}
