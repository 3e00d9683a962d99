/**
 * The API `status` of a server, derived from (vm_state, task_state) by one lookup table:
 * Nova's nova/api/openstack/common.py `_STATE_MAP` / `status_from_state`.
 */
import { VmStates, VmState } from './vm-states';
import { TaskStates, TaskState } from './task-states';

type TaskMap = { default: string } & Partial<Record<TaskState, string>>;

const REBUILD: Partial<Record<TaskState, string>> = {
  [TaskStates.REBUILDING]: 'REBUILD',
  [TaskStates.REBUILD_BLOCK_DEVICE_MAPPING]: 'REBUILD',
  [TaskStates.REBUILD_SPAWNING]: 'REBUILD',
};
const RESIZE: Partial<Record<TaskState, string>> = {
  [TaskStates.RESIZE_PREP]: 'RESIZE',
  [TaskStates.RESIZE_MIGRATING]: 'RESIZE',
  [TaskStates.RESIZE_MIGRATED]: 'RESIZE',
  [TaskStates.RESIZE_FINISH]: 'RESIZE',
};

export const STATE_MAP: Record<VmState, TaskMap> = {
  [VmStates.ACTIVE]: {
    default: 'ACTIVE',
    [TaskStates.REBOOTING]: 'REBOOT',
    [TaskStates.REBOOT_PENDING]: 'REBOOT',
    [TaskStates.REBOOT_STARTED]: 'REBOOT',
    [TaskStates.REBOOTING_HARD]: 'HARD_REBOOT',
    [TaskStates.REBOOT_PENDING_HARD]: 'HARD_REBOOT',
    [TaskStates.REBOOT_STARTED_HARD]: 'HARD_REBOOT',
    [TaskStates.UPDATING_PASSWORD]: 'PASSWORD',
    ...REBUILD,
    [TaskStates.MIGRATING]: 'MIGRATING',
    ...RESIZE,
  },
  [VmStates.BUILDING]: { default: 'BUILD' },
  [VmStates.STOPPED]: { default: 'SHUTOFF', ...RESIZE, ...REBUILD },
  [VmStates.RESIZED]: { default: 'VERIFY_RESIZE', [TaskStates.RESIZE_REVERTING]: 'REVERT_RESIZE' },
  [VmStates.PAUSED]: { default: 'PAUSED', [TaskStates.MIGRATING]: 'MIGRATING' },
  [VmStates.SUSPENDED]: { default: 'SUSPENDED' },
  [VmStates.RESCUED]: { default: 'RESCUE' },
  [VmStates.ERROR]: { default: 'ERROR', ...REBUILD },
  [VmStates.DELETED]: { default: 'DELETED' },
  [VmStates.SOFT_DELETED]: { default: 'SOFT_DELETED' },
  [VmStates.SHELVED]: { default: 'SHELVED' },
  [VmStates.SHELVED_OFFLOADED]: { default: 'SHELVED_OFFLOADED' },
};

/** Every status the map can produce (for the `status` list filter). */
export const ALL_STATUSES: ReadonlySet<string> = new Set(
  Object.values(STATE_MAP).flatMap((m) => Object.values(m) as string[]),
);

/** status_from_state: the task's status if the vm_state maps it, else the vm_state's default. */
export function statusOf(vmState: string, taskState: string | null, deleted = false): string {
  // A deleted server is DELETED whatever its states say (views/servers.py _get_vm_status).
  if (deleted) return 'DELETED';
  const map = STATE_MAP[vmState as VmState] as TaskMap | undefined;
  if (!map) return 'UNKNOWN';
  return (taskState !== null && map[taskState as TaskState]) || map.default;
}

/** Statuses that carry `progress` in the detail view (views/servers.py _progress_statuses). */
export const PROGRESS_STATUSES: ReadonlySet<string> = new Set(['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING']);

/** Statuses that carry `fault` in the detail view (views/servers.py _fault_statuses). */
export const FAULT_STATUSES: ReadonlySet<string> = new Set(['ERROR', 'DELETED']);
