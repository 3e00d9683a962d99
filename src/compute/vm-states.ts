/** Nova's vm_state vocabulary (nova/compute/vm_states.py): the stable state of a server. */
export const VmStates = {
  /** Being created: scheduled, loading its image, starting. */
  BUILDING: 'building',
  /** Running (or meant to be). */
  ACTIVE: 'active',
  /** Powered off by request, or its process exited. */
  STOPPED: 'stopped',
  /** Processes frozen by `pause`. */
  PAUSED: 'paused',
  /** Processes frozen by `suspend` (see README: the container is paused, memory kept). */
  SUSPENDED: 'suspended',
  /** Rescue mode (not offered by novadock, part of the vocabulary). */
  RESCUED: 'rescued',
  /** Moved (cold migration) and waiting for confirm or revert: VERIFY_RESIZE. */
  RESIZED: 'resized',
  /** Soft-deleted (not offered). */
  SOFT_DELETED: 'soft-delete',
  /** Gone: never shown, GET answers 404. */
  DELETED: 'deleted',
  /** Shelved: powered off, its filesystem kept as an image, still on its host (NOVADOCK_SHELVED_OFFLOAD_TIME). */
  SHELVED: 'shelved',
  /** Shelved and offloaded: no instance, no host, no allocation; unshelve schedules it anew. */
  SHELVED_OFFLOADED: 'shelved_offloaded',
  /** Something failed; the server's fault says what. */
  ERROR: 'error',
} as const;

export type VmState = (typeof VmStates)[keyof typeof VmStates];
