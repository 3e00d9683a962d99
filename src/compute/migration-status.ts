/**
 * Nova's vocabulary of moves (nova/objects/fields.py MigrationType, and the status strings the
 * conductor and compute manager write on a Migration): what kind of move a row is, and where it
 * stands.
 */

export const MigrationTypes = {
  /** Cold migration: same flavor, another host (`migrate`). */
  MIGRATION: 'migration',
  /** Resize: another flavor (issue 15 reuses the cold-migration path). */
  RESIZE: 'resize',
  /** Live migration: refused by the Docker driver, part of the vocabulary. */
  LIVE_MIGRATION: 'live-migration',
  /** Rebuild on another host while the source host is down. */
  EVACUATION: 'evacuation',
} as const;

export type MigrationType = (typeof MigrationTypes)[keyof typeof MigrationTypes];

export const MigrationStatuses = {
  /** Evacuation: accepted by the API, not yet scheduled. */
  ACCEPTED: 'accepted',
  /** Created, being scheduled (cold migration, and an evacuation once a host is chosen). */
  PRE_MIGRATING: 'pre-migrating',
  /** The source is powering off and committing the filesystem. */
  MIGRATING: 'migrating',
  /** The filesystem is on its way to the destination. */
  POST_MIGRATING: 'post-migrating',
  /** Running on the destination, waiting for confirm or revert (VERIFY_RESIZE). */
  FINISHED: 'finished',
  /** confirmResize accepted: the source is being cleaned up. */
  CONFIRMING: 'confirming',
  CONFIRMED: 'confirmed',
  /** revertResize accepted: the destination is being cleaned up, the source restarted. */
  REVERTING: 'reverting',
  REVERTED: 'reverted',
  /** Evacuation: rebuilt on the destination; the old host still holds its leftover. */
  DONE: 'done',
  /** Evacuation: the old host answered again and its leftover was removed. */
  COMPLETED: 'completed',
  /** A cold migration or resize that failed (the server stays on, or goes back to, its source). */
  ERROR: 'error',
  /** An evacuation that failed on the destination. */
  FAILED: 'failed',
} as const;

export type MigrationStatus = (typeof MigrationStatuses)[keyof typeof MigrationStatuses];

const S = MigrationStatuses;

/**
 * Statuses in which a move still involves both hosts: the source's container is kept (a cold
 * move not yet confirmed or reverted) or the destination's is being made. A container of the
 * server on either host is then part of the move, never a leftover. (While `confirming`, the
 * source's container is what the confirm removes: removing it as a leftover does the same.)
 */
export const MOVE_IN_PROGRESS: readonly MigrationStatus[] = [
  S.ACCEPTED, S.PRE_MIGRATING, S.MIGRATING, S.POST_MIGRATING, S.FINISHED, S.REVERTING,
];

/** Nova's in-progress statuses of a live migration (server_migrations.py): never reached here. */
export const LIVE_MIGRATION_IN_PROGRESS: readonly string[] = ['queued', 'preparing', 'running', 'post-migrating'];
