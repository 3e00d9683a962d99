/** Nova's task_state vocabulary (nova/compute/task_states.py): the operation in flight, or null. */
export const TaskStates = {
  /** Create: waiting for a host. */
  SCHEDULING: 'scheduling',
  /** Create: loading the image into the engine. */
  BLOCK_DEVICE_MAPPING: 'block_device_mapping',
  NETWORKING: 'networking',
  /** Create: creating and starting the container. */
  SPAWNING: 'spawning',
  /** createImage: committing the container. */
  IMAGE_SNAPSHOT: 'image_snapshot',
  /** createImage: committed, about to copy into the image store. */
  IMAGE_PENDING_UPLOAD: 'image_pending_upload',
  /** createImage: copying into the image store. */
  IMAGE_UPLOADING: 'image_uploading',
  /** Soft reboot requested / under way. */
  REBOOTING: 'rebooting',
  REBOOT_PENDING: 'reboot_pending',
  REBOOT_STARTED: 'reboot_started',
  /** Hard reboot requested / under way. */
  REBOOTING_HARD: 'rebooting_hard',
  REBOOT_PENDING_HARD: 'reboot_pending_hard',
  REBOOT_STARTED_HARD: 'reboot_started_hard',
  PAUSING: 'pausing',
  UNPAUSING: 'unpausing',
  SUSPENDING: 'suspending',
  RESUMING: 'resuming',
  /** os-stop under way. */
  POWERING_OFF: 'powering-off',
  /** os-start under way. */
  POWERING_ON: 'powering-on',
  /** Rebuild: new container from an image, same id and address. */
  REBUILDING: 'rebuilding',
  REBUILD_BLOCK_DEVICE_MAPPING: 'rebuild_block_device_mapping',
  REBUILD_SPAWNING: 'rebuild_spawning',
  /** Delete under way. */
  DELETING: 'deleting',
  /** Cold migration: accepted, a destination being chosen. */
  RESIZE_PREP: 'resize_prep',
  /** Cold migration: the source powers off and commits the filesystem. */
  RESIZE_MIGRATING: 'resize_migrating',
  /** Cold migration: the filesystem is on its way to the destination. */
  RESIZE_MIGRATED: 'resize_migrated',
  /** Cold migration: the destination spawns the server. */
  RESIZE_FINISH: 'resize_finish',
  /** revertResize: the destination's instance goes, the source's comes back. */
  RESIZE_REVERTING: 'resize_reverting',
  /** Vocabulary not offered by novadock but recognised by the status map. */
  UPDATING_PASSWORD: 'updating_password',
  MIGRATING: 'migrating',
  RESCUING: 'rescuing',
  UNRESCUING: 'unrescuing',
  /** Shelve: accepted; the server powers off and its filesystem is committed. */
  SHELVING: 'shelving',
  /** Shelve: committed, about to copy into the image store. */
  SHELVING_IMAGE_PENDING_UPLOAD: 'shelving_image_pending_upload',
  /** Shelve: copying the filesystem into the image store. */
  SHELVING_IMAGE_UPLOADING: 'shelving_image_uploading',
  /** Shelve offload: the instance is removed from its host, its allocation released. */
  SHELVING_OFFLOADING: 'shelving_offloading',
  /** Unshelve: accepted (then powering-on from SHELVED; scheduling and spawning from SHELVED_OFFLOADED). */
  UNSHELVING: 'unshelving',
} as const;

export type TaskState = (typeof TaskStates)[keyof typeof TaskStates];
